//! The standard [`ToolBridge`]: tool calls from running code go to the catalog, under the
//! run's limits and approvals.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use crate::approval::{ApprovalGate, ApprovalRecord};
use crate::catalog::ToolCatalog;
use codemode_traits::{BridgeError, ToolBridge, ToolCallRecord, ToolError, reads_like_an_error};

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
