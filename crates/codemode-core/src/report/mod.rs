//! The `RunReport`: everything a run did.

pub mod budget;
pub mod tokens;

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use codemode_typescript::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use codemode_traits::{TokenUsage, ToolCallRecord};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultType {
    /// The program ran and returned a value.
    Success,
    /// The program did not type-check, even after repairs.
    CompileError,
    /// The program threw.
    RuntimeError,
    /// The total execution timeout was reached.
    Timeout,
    /// `max_tool_calls` was exceeded.
    ToolCallLimit,
    /// The memory cap was reached.
    MemoryLimit,
    /// A model call failed.
    LlmError,
    /// A tool failed and the program did not handle it.
    ToolError,
    /// The run environment failed (could not start or crashed).
    EnvironmentError,
}

impl ResultType {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultType::Success => "success",
            ResultType::CompileError => "compile_error",
            ResultType::RuntimeError => "runtime_error",
            ResultType::Timeout => "timeout",
            ResultType::ToolCallLimit => "tool_call_limit",
            ResultType::MemoryLimit => "memory_limit",
            ResultType::LlmError => "llm_error",
            ResultType::ToolError => "tool_error",
            ResultType::EnvironmentError => "environment_error",
        }
    }
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pipeline's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The strategy model writes pseudocode.
    Plan,
    /// The tiny model picks tools.
    Filter,
    /// TypeScript declarations are generated.
    Types,
    /// The main model writes code.
    Implement,
    /// The code is type-checked (and repaired).
    Check,
    /// The code runs.
    Execute,
}

impl Step {
    /// The step's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Filter => "filter",
            Step::Types => "types",
            Step::Implement => "implement",
            Step::Check => "check",
            Step::Execute => "execute",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long one step took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    /// The step.
    pub step: Step,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// Details, e.g. `3 batches` or `1 repair`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A filter batch whose answers could not be parsed, even after one retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterBatchFailure {
    /// 0-based batch index.
    pub batch: usize,
    /// The paths in the batch (all kept).
    pub tools: Vec<String>,
    /// Why it failed.
    pub reason: String,
}

/// A program that failed at run time and went back to the main model (a runtime repair):
/// what it was and what it did. The program that ran last is the report itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunAttempt {
    /// The program.
    pub code: String,
    /// How it ended (`runtime_error` or `tool_error`).
    pub result_type: ResultType,
    /// Its error.
    pub error: String,
    /// The TypeScript line of the error, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_line: Option<u32>,
    /// Its console output.
    pub console: Vec<String>,
    /// The tool calls it made (a new run makes them again).
    pub tool_calls: Vec<ToolCallRecord>,
}

/// Everything a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// How the run ended.
    pub result_type: ResultType,
    /// The value the program returned (`null` when it returned nothing or failed).
    pub output: Value,
    /// The error message when the run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// 1-based line of the TypeScript where a runtime error happened, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_line: Option<u32>,
    /// Console output, one entry per `console.*` call.
    pub console: Vec<String>,
    /// Every tool call.
    pub tool_calls: Vec<ToolCallRecord>,
    /// One entry per step that ran.
    pub timings: Vec<StepTiming>,
    /// Total wall time.
    pub total_duration_ms: f64,
    /// The plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pseudocode: Option<String>,
    /// The keywords the strategy model gave the filter's search (large catalogs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_keywords: Option<String>,
    /// Tool paths chosen by the filter (or given).
    pub selected_tools: Vec<String>,
    /// Tools the check declared besides `selected_tools`: the program called them (the
    /// filter had left them out) or called a name the catalog lacks and these matched it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools_declared_by_check: Vec<String>,
    /// Filter batches that failed (their tools were kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_failures: Vec<FilterBatchFailure>,
    /// The final program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Diagnostics of the final check.
    pub diagnostics: Vec<Diagnostic>,
    /// Explanations of failed diagnostics, each at the line and code of the one it
    /// explains (the built-in checker's words when tsc ran: which properties a result has,
    /// which tools a namespace has); filled when a program without a model's repair failed
    /// its check (a `RunTask::Program` run), for whoever fixes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<Diagnostic>,
    /// Which checker ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checker: Option<String>,
    /// Number of repair rounds after failed type checks.
    pub repairs: u32,
    /// Number of runtime repairs: programs that failed at run time and were rewritten.
    #[serde(default)]
    pub runtime_repairs: u32,
    /// The programs that failed at run time before the last one, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime_attempts: Vec<RunAttempt>,
    /// Token usage per role (`strategy`, `tiny`, `main`).
    pub token_usage: BTreeMap<String, TokenUsage>,
    /// What the reader should know about the set-up of this run, e.g. that the weaker
    /// built-in checker ran because TypeScript 7 could not (see
    /// [`CodeModeBuilder::warning`](crate::CodeModeBuilder::warning)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What was cut to fit a budget when the report was made for printing
    /// ([`RunReport::fitted`]), one sentence per value, e.g. `output: cut from 52000 to 1900
    /// tokens ...`. Empty in the report a run returns, whose values are whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cuts: Vec<String>,
    /// Every approval decision on the tool calls of the program that ran (see
    /// [`crate::approval`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<crate::approval::ApprovalRecord>,
}

impl Default for RunReport {
    fn default() -> Self {
        Self {
            result_type: ResultType::Success,
            output: Value::Null,
            error: None,
            error_line: None,
            console: Vec::new(),
            tool_calls: Vec::new(),
            timings: Vec::new(),
            total_duration_ms: 0.0,
            pseudocode: None,
            search_keywords: None,
            selected_tools: Vec::new(),
            tools_declared_by_check: Vec::new(),
            filter_failures: Vec::new(),
            code: None,
            diagnostics: Vec::new(),
            hints: Vec::new(),
            checker: None,
            repairs: 0,
            runtime_repairs: 0,
            runtime_attempts: Vec::new(),
            token_usage: BTreeMap::new(),
            warnings: Vec::new(),
            cuts: Vec::new(),
            approvals: Vec::new(),
        }
    }
}

impl RunReport {
    /// True when the run succeeded.
    pub fn is_success(&self) -> bool {
        self.result_type == ResultType::Success
    }

    /// The timing of a step, when it ran.
    pub fn timing(&self, step: Step) -> Option<&StepTiming> {
        self.timings.iter().find(|t| t.step == step)
    }

    /// The timings as a readable table: step, milliseconds, share of the total, detail.
    pub fn timing_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{:<10} {:>10} {:>6}  detail", "step", "ms", "%");
        let _ = writeln!(out, "{}", "-".repeat(44));
        let total = self.total_duration_ms.max(f64::EPSILON);
        for t in &self.timings {
            let _ = writeln!(
                out,
                "{:<10} {:>10.1} {:>5.1}%  {}",
                t.step.as_str(),
                t.duration_ms,
                100.0 * t.duration_ms / total,
                t.detail
            );
        }
        let _ = writeln!(out, "{}", "-".repeat(44));
        let _ = writeln!(out, "{:<10} {:>10.1}", "total", self.total_duration_ms);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_json_names() {
        let mut r = RunReport {
            total_duration_ms: 100.0,
            ..RunReport::default()
        };
        r.timings.push(StepTiming {
            step: Step::Plan,
            duration_ms: 25.0,
            detail: "1 call".into(),
        });
        let table = r.timing_table();
        assert!(table.contains("plan             25.0  25.0%  1 call"), "{table}");
        assert!(table.contains("total           100.0"), "{table}");
        r.result_type = ResultType::ToolCallLimit;
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["result_type"], "tool_call_limit");
        assert_eq!(json["timings"][0]["step"], "plan");
    }
}
