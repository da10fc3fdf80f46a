//! The host side of tool calls from running code: the `ToolBridge`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::approval::{ApprovalGate, ApprovalRecord};
use crate::catalog::ToolCatalog;
use crate::tool::ToolError;

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

/// The standard bridge: calls catalog tools, counts calls against `max_tool_calls`,
/// applies `tool_call_timeout` to each, and records every call.
pub struct CatalogBridge {
    catalog: Arc<ToolCatalog>,
    paths: BTreeSet<String>,
    max_calls: usize,
    tool_timeout: Duration,
    calls: AtomicUsize,
    records: Mutex<Vec<ToolCallRecord>>,
    epoch: Instant,
    approval: Option<Arc<ApprovalGate>>,
    /// Successful calls of earlier attempts, answered again instead of being made again.
    replay: Mutex<Vec<ToolCallRecord>>,
}

impl CatalogBridge {
    /// A bridge over `catalog` with the given limits.
    pub fn new(catalog: Arc<ToolCatalog>, max_calls: usize, tool_timeout: Duration) -> Self {
        let paths = catalog.tool_paths().into_iter().collect();
        Self {
            catalog,
            paths,
            max_calls,
            tool_timeout,
            calls: AtomicUsize::new(0),
            records: Mutex::new(Vec::new()),
            epoch: Instant::now(),
            approval: None,
            replay: Mutex::new(Vec::new()),
        }
    }

    /// The same bridge, answering a call that one of `earlier` made successfully (same path,
    /// same arguments) from its record instead of calling the tool again, each record once.
    /// A rerun after a runtime repair so repeats no call: a write made before the failure is
    /// not made twice.
    pub fn with_replay(self, earlier: Vec<ToolCallRecord>) -> Self {
        let successful = earlier
            .into_iter()
            .filter(|c| c.result.is_some() && c.error.is_none())
            .collect();
        Self {
            replay: Mutex::new(successful),
            ..self
        }
    }

    /// The recorded result of an earlier identical call, taken out of the replay list.
    fn replayed(&self, path: &str, arguments: &Value) -> Option<Value> {
        let mut replay = self.replay.lock().ok()?;
        let at = replay
            .iter()
            .position(|c| c.path == path && &c.arguments == arguments)?;
        replay.remove(at).result
    }

    /// The same bridge, asking `gate` before each call that needs approval.
    pub fn with_approval(mut self, gate: Arc<ApprovalGate>) -> Self {
        self.approval = Some(gate);
        self
    }

    /// The approval decisions made so far.
    pub fn approvals(&self) -> Vec<ApprovalRecord> {
        self.approval.as_ref().map(|g| g.records()).unwrap_or_default()
    }

    /// The calls made so far, in the order they finished.
    pub fn records(&self) -> Vec<ToolCallRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Number of calls attempted (including refused ones).
    pub fn call_count(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn record(&self, record: ToolCallRecord) {
        if let Ok(mut records) = self.records.lock() {
            records.push(record);
        }
    }
}

#[async_trait]
impl ToolBridge for CatalogBridge {
    fn tool_paths(&self) -> Vec<String> {
        self.paths.iter().cloned().collect()
    }

    async fn call(&self, path: &str, arguments: Value) -> Result<Value, BridgeError> {
        let span = tracing::info_span!("tool_call", path, error = tracing::field::Empty);
        let outcome = tracing::Instrument::instrument(self.call_recorded(path, arguments), span.clone()).await;
        if let Err(e) = &outcome {
            span.record("error", tracing::field::display(e));
        }
        outcome
    }
}

impl CatalogBridge {
    /// One call, counted, checked, approved, timed and recorded.
    async fn call_recorded(&self, path: &str, arguments: Value) -> Result<Value, BridgeError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let started = Instant::now();
        let started_ms = started.duration_since(self.epoch).as_secs_f64() * 1000.0;
        let replayed = if n > self.max_calls {
            None
        } else {
            self.replayed(path, &arguments)
        };
        let outcome = if n > self.max_calls {
            Err(BridgeError::LimitExceeded(self.max_calls, path.to_string()))
        } else if let Some(value) = &replayed {
            tracing::debug!(path, "answered from an earlier attempt's record");
            Ok(value.clone())
        } else if let Some(entry) = self.catalog.tool(path) {
            let valid = entry.validate_arguments(&arguments);
            // Asked only about calls that would run (valid arguments).
            let denied = match (&self.approval, &valid) {
                (Some(gate), Ok(())) => gate.check(entry, &arguments).await.err(),
                _ => None,
            };
            if let Err(problems) = valid {
                Err(BridgeError::InvalidArguments(path.to_string(), problems))
            } else if let Some(reason) = denied {
                Err(BridgeError::Denied(path.to_string(), reason))
            } else {
                let call = entry.provider().call_tool(&entry.spec.name, arguments.clone());
                match tokio::time::timeout(self.tool_timeout, call).await {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(ToolError::Timeout(secs))) => Err(BridgeError::Timeout(path.to_string(), secs)),
                    Ok(Err(e)) => Err(BridgeError::Failed(path.to_string(), e.to_string())),
                    Err(_) => Err(BridgeError::Timeout(path.to_string(), self.tool_timeout.as_secs_f64())),
                }
            }
        } else {
            Err(BridgeError::UnknownTool(path.to_string()))
        };
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(path, duration_ms, ok = outcome.is_ok(), "tool call");
        let (result, error) = match &outcome {
            Ok(v) => (Some(v.clone()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let looks_like_error = result.as_ref().is_some_and(reads_like_an_error);
        if looks_like_error {
            tracing::warn!(path, "a tool call succeeded with a result that reads like an error");
        }
        self.record(ToolCallRecord {
            path: path.to_string(),
            arguments,
            result,
            error,
            started_ms,
            duration_ms,
            looks_like_error,
            replayed: replayed.is_some(),
        });
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_text_in_a_successful_result_is_recognised() {
        for text in [
            "Database error: no such table: users",
            "Error: ENOENT: no such file or directory",
            "error executing tool: bad path",
            "Traceback (most recent call last):\n  File \"x.py\"",
            "fatal: not a git repository",
            "  Permission error: denied",
        ] {
            assert!(reads_like_an_error(&json!(text)), "{text}");
        }
        for value in [
            json!("Successfully wrote to /tmp/a.txt"),
            json!("The error: field holds the last failure"),
            json!("Notes about errors: none"),
            json!({"error": "in an object is data, not text"}),
            json!(["Error: in a list"]),
            json!("Changes committed successfully"),
        ] {
            assert!(!reads_like_an_error(&value), "{value}");
        }
    }
}
