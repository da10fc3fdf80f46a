//! The host side of tool calls from running code: the `ToolBridge` boundary.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a tool call from running code failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BridgeError {
    /// No tool at that path.
    #[error("tools.{0} is not a tool")]
    UnknownTool(String),
    /// The run already made `max_tool_calls` calls. Environments end the run.
    #[error("the run made more than {0} tool calls (max_tool_calls); call {1} was refused")]
    LimitExceeded(usize, String),
    /// The arguments do not match the tool's input schema; the tool was not called.
    #[error("tools.{0}: invalid arguments: {1}")]
    InvalidArguments(String, String),
    /// The call took longer than `tool_call_timeout`.
    #[error("tools.{0} timed out after {1:.1} s (tool_call_timeout)")]
    Timeout(String, f64),
    /// The tool reported an error.
    #[error("tools.{0} failed: {1}")]
    Failed(String, String),
    /// The call needed approval and was denied; the tool was not called.
    #[error("tools.{0} was denied: {1}")]
    Denied(String, String),
}

impl BridgeError {
    /// True when the whole run must stop (the tool-call limit).
    pub fn ends_run(&self) -> bool {
        matches!(self, BridgeError::LimitExceeded(..))
    }
}

/// One tool call made by a program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// Path under `tools`.
    pub path: String,
    /// The arguments as passed.
    pub arguments: Value,
    /// The result, when the call succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the call started, in milliseconds since the bridge was made.
    pub started_ms: f64,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// The call succeeded but its result is text that reads like an error (`Database error:
    /// no such table`, a Python traceback): servers that report failures as ordinary text.
    /// The program saw the text; this flags it for whoever reads the report.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub looks_like_error: bool,
    /// The call was answered from an earlier attempt's record (a rerun after a runtime
    /// repair, `rerun_policy = replay`): the tool was not called again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

/// Whether a successful tool result is text that reads like an error: its first line
/// starts with `Error`, `Traceback (most recent call last)`, `Exception` or `fatal:`, or
/// with a few words and `error:` (`Database error: ...`, `Permission error: ...`).
pub fn reads_like_an_error(result: &Value) -> bool {
    let Value::String(text) = result else {
        return false;
    };
    let first = text.trim_start().lines().next().unwrap_or_default().to_lowercase();
    if ["error", "traceback (most recent call last)", "exception", "fatal:"]
        .iter()
        .any(|p| first.starts_with(p))
    {
        return true;
    }
    first.split_once("error:").is_some_and(|(before, _)| {
        let words: Vec<&str> = before.split_whitespace().collect();
        (1..=3).contains(&words.len())
            && !matches!(words[0], "the" | "a" | "an" | "no" | "this" | "that" | "last")
            && before.chars().all(|c| c.is_alphanumeric() || c == ' ' || c == '_')
    })
}

/// The only door from running code to the world: executes tool calls for a run.
#[async_trait]
pub trait ToolBridge: Send + Sync {
    /// Every callable path, so the environment can build the `tools` object.
    fn tool_paths(&self) -> Vec<String>;

    /// Calls a tool. Calls may run concurrently.
    async fn call(&self, path: &str, arguments: Value) -> Result<Value, BridgeError>;
}
