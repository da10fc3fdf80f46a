//! The outcome of one task, as the eval records and judges it.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use codemode::TokenUsage;
use serde::Serialize;
use serde_json::Value;

use crate::cli::EvalMode;
use crate::setup;

/// The outcome of one demo task.
#[derive(Debug, Serialize)]
pub struct TaskResult {
    /// `demo` or `servers`.
    pub suite: String,
    /// `pipeline`, `agent` or `direct`.
    pub mode: String,
    pub id: String,
    pub kind: String,
    pub query: String,
    /// The final state (and answer) is what the task asked for.
    pub passed: bool,
    /// What was wrong, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// How the run ended, as the report says.
    pub result_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub repairs: u32,
    pub runtime_repairs: u32,
    pub tool_calls: usize,
    /// Model calls and tokens per role.
    pub models: BTreeMap<String, TokenUsage>,
    /// Milliseconds per step (summed when a step ran more than once).
    pub step_ms: BTreeMap<String, f64>,
    pub total_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub output: Value,
}

impl TaskResult {
    /// A task not run yet.
    pub(super) fn new(suite: &str, mode: EvalMode, id: &str, kind: &str, query: &str) -> Self {
        Self {
            suite: suite.into(),
            mode: mode.name().into(),
            id: id.into(),
            kind: kind.into(),
            query: query.into(),
            passed: false,
            why: None,
            result_type: "harness_error".into(),
            error: None,
            repairs: 0,
            runtime_repairs: 0,
            tool_calls: 0,
            models: BTreeMap::new(),
            step_ms: BTreeMap::new(),
            total_ms: 0.0,
            code: None,
            output: Value::Null,
        }
    }

    /// The verdict of a task that ran (its judge's answer), or why it could not run; and its
    /// time since `started`.
    pub(super) fn conclude(&mut self, judged: Result<Result<(), String>>, started: Instant) {
        match judged {
            Ok(Ok(())) => self.passed = true,
            Ok(Err(why)) => self.why = Some(why),
            Err(e) => self.why = Some(format!("the eval could not run the task: {}", setup::chain(e.as_ref()))),
        }
        self.total_ms = started.elapsed().as_secs_f64() * 1000.0;
    }
}
