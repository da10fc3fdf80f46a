//! The `RunEnvironment` boundary: runs JavaScript with a `ToolBridge`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bridge::ToolBridge;

/// Limits an environment enforces on one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExecutionLimits {
    /// Wall-clock limit for the whole run.
    pub total_timeout: Duration,
    /// Budget of time spent executing the program itself; time spent waiting for tool
    /// calls is not charged. Never more useful than `total_timeout` when equal to it.
    pub cpu_time: Duration,
    /// Memory cap for the program, in bytes.
    pub memory_limit_bytes: u64,
    /// Cap on console output, in bytes; later output is dropped and marked.
    pub max_console_bytes: usize,
    /// Cap on the size of one value crossing the bridge (arguments, results, the return
    /// value), in bytes of JSON.
    pub max_value_bytes: usize,
}

impl Default for ExecutionLimits {
    fn default() -> Self {
        Self {
            total_timeout: Duration::from_secs(30),
            cpu_time: Duration::from_secs(30),
            memory_limit_bytes: 256 * 1024 * 1024,
            max_console_bytes: 256 * 1024,
            max_value_bytes: 8 * 1024 * 1024,
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ExecutionRequest {
    /// JavaScript: the body of an async function (top-level `await` and `return`).
    pub javascript: String,
    /// Limits to enforce.
    pub limits: ExecutionLimits,
}

/// How a run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The program threw.
    Runtime,
    /// The wall-clock limit or the CPU budget was reached.
    Timeout,
    /// `max_tool_calls` was exceeded.
    ToolCallLimit,
    /// The memory cap was reached.
    MemoryLimit,
    /// A tool call failed and the program did not handle it.
    Tool,
    /// The environment itself failed (could not start, crashed).
    Environment,
}

/// A failed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
    /// 1-based line in the JavaScript given, when known.
    pub line: Option<u32>,
    /// 1-based column in the JavaScript given, when known.
    pub column: Option<u32>,
}

impl RunFailure {
    /// A failure without a position.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// The failure for a program that reached its wall-clock limit
    /// (`total_execution_timeout`).
    pub fn timeout(limit: Duration) -> Self {
        Self::new(
            FailureKind::Timeout,
            format!(
                "the program did not finish within {:.1} s (total_execution_timeout)",
                limit.as_secs_f64()
            ),
        )
    }

    /// The failure for a program that used up its CPU budget (`cpu_time_limit`).
    pub fn cpu_time(budget: Duration) -> Self {
        Self::new(
            FailureKind::Timeout,
            format!(
                "the program computed for more than {:.2} s (cpu_time_limit); time spent waiting for tools is not counted",
                budget.as_secs_f64()
            ),
        )
    }

    /// The failure for a run that `who` (a run environment, a plugin) did not end when its
    /// wall-clock limit had passed, nor within `grace` after it.
    pub fn did_not_stop(who: &str, limit: Duration, grace: Duration) -> Self {
        Self::new(
            FailureKind::Timeout,
            format!(
                "{who} did not stop within {:.1} s of the {:.1} s deadline (total_execution_timeout)",
                grace.as_secs_f64(),
                limit.as_secs_f64()
            ),
        )
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// The returned value (JSON), or the failure.
    pub result: Result<Value, RunFailure>,
    /// Console lines, in order.
    pub console: Vec<String>,
}

/// Runs JavaScript with the bridge as its only door to the world.
#[async_trait]
pub trait RunEnvironment: Send + Sync {
    /// A short name for reports (`node`, `wasm`, ...).
    fn name(&self) -> &str;

    /// Runs one program. Never panics on bad programs: every failure is an outcome.
    async fn execute(&self, request: ExecutionRequest, bridge: Arc<dyn ToolBridge>) -> RunOutcome;
}
