//! What an eval measured: a task's result, the results of a run, the summary table, and the
//! file they are written to.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use codemode::{RunReport, TokenUsage};
use serde::Serialize;
use serde_json::{Value, json};

use super::recall::RecallResult;
use super::task_result::TaskResult;
use super::{Harness, compare, recall, turns};

/// Everything an eval measured.
#[derive(Debug, Serialize)]
pub struct EvalResults<'r> {
    pub models: String,
    pub checker: String,
    pub environment: String,
    /// Whether the tasks had learned output types (`off`, or how and from which file).
    pub learned_types: String,
    pub tasks: Vec<&'r TaskResult>,
    /// Per suite and mode: tasks passed, model calls, tokens, tool calls, time.
    pub modes: Vec<compare::ModeSummary>,
    pub passed: usize,
    /// Runs that reported `success` but left the wrong state.
    pub false_successes: usize,
    pub recall: Vec<RecallResult>,
    /// The pipeline's mean recall (the `direct` rows are in `recall`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_recall: Option<f64>,
    pub total_ms: f64,
}

pub(super) fn summarize<'r>(
    harness: &Harness,
    tasks: Vec<&'r TaskResult>,
    recall: Vec<RecallResult>,
    started: Instant,
) -> EvalResults<'r> {
    EvalResults {
        models: harness.models.description.clone(),
        checker: harness.checker.checker.name().to_string(),
        environment: harness.environment.name().to_string(),
        learned_types: harness.learned_description.clone(),
        passed: tasks.iter().filter(|r| r.passed).count(),
        false_successes: tasks
            .iter()
            .filter(|r| !r.passed && matches!(r.result_type.as_str(), "success" | "answered"))
            .count(),
        modes: compare::summarize(&tasks),
        mean_recall: {
            let pipeline: Vec<f64> = recall
                .iter()
                .filter(|r| r.mode == "pipeline")
                .map(|r| r.recall)
                .collect();
            (!pipeline.is_empty()).then(|| pipeline.iter().sum::<f64>() / pipeline.len() as f64)
        },
        tasks,
        recall,
        total_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

pub(super) fn write_results(path: &Path, eval: &EvalResults<'_>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(eval)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Fills `result` from the pipeline's report; the program's value is what a question is
/// judged by.
pub(super) fn record_report(result: &mut TaskResult, report: &RunReport) -> Value {
    result.result_type = report.result_type.to_string();
    result.error = report.error.clone();
    result.repairs = report.repairs;
    result.runtime_repairs = report.runtime_repairs;
    result.tool_calls = report.tool_calls.len();
    result.models = report.token_usage.clone();
    for timing in &report.timings {
        *result.step_ms.entry(timing.step.to_string()).or_default() += timing.duration_ms;
    }
    result.code = report.code.clone();
    result.output = report.output.clone();
    report.output.clone()
}

/// Fills `result` from an agent loop (`agent` or `direct`): the MCP tool calls its functions
/// made, failed calls as repairs, the functions it called (and `extra`) in the output; its
/// final answer is what a question is judged by.
pub(super) fn record_agent(result: &mut TaskResult, run: turns::AgentRun, extra: Value) -> Value {
    result.result_type = run.result_type.to_string();
    result.error = run.error;
    result.repairs = run.failed_calls;
    result.tool_calls = run.tool_calls;
    result.models = BTreeMap::from([("main".to_string(), run.usage)]);
    let mut output = json!({ "answer": run.answer, "calls": run.calls });
    if let (Some(output), Value::Object(extra)) = (output.as_object_mut(), extra) {
        output.extend(extra);
    }
    result.output = output;
    run.answer
}

/// Model calls and tokens of a role, `calls/prompt+completion`.
pub(super) fn usage(models: &BTreeMap<String, TokenUsage>, role: &str) -> String {
    models.get(role).map_or("-".into(), |u| {
        format!("{}/{}+{}", u.calls, u.prompt_tokens, u.completion_tokens)
    })
}

/// The summary table.
pub(super) fn table(eval: &EvalResults<'_>) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(t, "models: {}; checker: {}", eval.models, eval.checker);
    if !eval.tasks.is_empty() {
        let several_modes = eval.tasks.iter().any(|r| r.mode != eval.tasks[0].mode);
        let _ = writeln!(
            t,
            "\n{:<18} {:<11} {:<5} {:<14} {:>4} {:>5}  {:<16} {:<16} {:<16} {:>6}",
            "task", "kind", "state", "result", "fix", "calls", "strategy", "tiny", "main", "s"
        );
        let _ = writeln!(t, "{}", "-".repeat(124));
        for r in &eval.tasks {
            let _ = writeln!(
                t,
                "{:<18} {:<11} {:<5} {:<14} {:>4} {:>5}  {:<16} {:<16} {:<16} {:>6.1}",
                if several_modes {
                    format!("{} {}", r.mode, r.id)
                } else {
                    r.id.clone()
                },
                r.kind,
                if r.passed { "pass" } else { "FAIL" },
                r.result_type,
                format!("{}+{}", r.repairs, r.runtime_repairs),
                r.tool_calls,
                usage(&r.models, "strategy"),
                usage(&r.models, "tiny"),
                usage(&r.models, "main"),
                r.total_ms / 1000.0
            );
        }
        let _ = writeln!(t);
        for suite in ["demo", "servers"] {
            if eval.modes.iter().filter(|m| m.suite == suite).count() > 1 {
                continue;
            }
            let of_suite: Vec<_> = eval.tasks.iter().filter(|r| r.suite == suite).collect();
            if of_suite.is_empty() {
                continue;
            }
            let passed = of_suite.iter().filter(|r| r.passed).count();
            let false_successes = of_suite
                .iter()
                .filter(|r| !r.passed && matches!(r.result_type.as_str(), "success" | "answered"))
                .count();
            let _ = writeln!(
                t,
                "{passed} of {} {suite} tasks passed ({:.0} %); {false_successes} said success but left the wrong state",
                of_suite.len(),
                100.0 * passed as f64 / of_suite.len() as f64,
            );
        }
        t.push_str(&compare::table(&eval.modes));
        for r in eval.tasks.iter().filter(|r| !r.passed) {
            let _ = writeln!(
                t,
                "  {}{}: {}{}",
                if eval.modes.len() > 1 {
                    format!("{} ", r.mode)
                } else {
                    String::new()
                },
                r.id,
                r.why.as_deref().unwrap_or("-"),
                r.error
                    .as_deref()
                    .map(|e| format!(" [{}]", e.lines().next().unwrap_or_default()))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(
            t,
            "columns: fix = compile+runtime repairs (agent, direct: calls that failed); calls = MCP tool calls; strategy/tiny/main = model calls/prompt+completion tokens; s = seconds"
        );
    }
    if !eval.recall.is_empty() {
        t.push_str(&recall::table(&eval.recall));
    }
    let _ = writeln!(t, "total: {:.1} min", eval.total_ms / 60_000.0);
    t
}
