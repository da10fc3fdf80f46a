//! A `run_environment` plugin as a [`RunEnvironment`]: the program's tool calls come back
//! to the host through [`HostCallbacks`] and go through the run's bridge.

use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use codemode_plugin_abi::HostCallbacks;
use codemode_plugin_abi::messages::{
    self as abi, ExecuteAnswer, ExecuteEnd, ExecuteLimits, ExecuteRequest, Request, ToolCallAnswer, ToolCallRequest,
};
use codemode_traits::{ExecutionRequest, FailureKind, RunEnvironment, RunFailure, RunOutcome, ToolBridge};
use serde_json::{Value, json};

use crate::library::{Instance, PluginKind};
use crate::{PluginError, PluginSource};

/// How long past `total_timeout` the host waits for a plugin that does not stop on its own.
const GRACE: Duration = Duration::from_secs(5);

/// A plugin's run environment.
pub struct PluginEnvironment {
    name: String,
    instance: Arc<Instance>,
}

impl std::fmt::Debug for PluginEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEnvironment")
            .field("name", &self.name)
            .field("path", &self.instance.library.path)
            .finish_non_exhaustive()
    }
}

impl PluginEnvironment {
    /// Loads the plugin and makes its instance for `config`.
    pub fn load(source: impl Into<PluginSource>, config: Value) -> Result<Self, PluginError> {
        let instance = source.into().instantiate(PluginKind::RunEnvironment, &config)?;
        Ok(Self {
            name: instance.library.name.clone(),
            instance: Arc::new(instance),
        })
    }
}

/// What the callbacks reach during one `execute`.
struct HostState {
    bridge: Arc<dyn ToolBridge>,
    runtime: tokio::runtime::Handle,
}

fn to_c(answer: &ToolCallAnswer) -> *mut c_char {
    let text = serde_json::to_string(answer)
        .unwrap_or_else(|e| format!(r#"{{"error": "the answer cannot be written: {e}"}}"#));
    CString::new(text.replace('\0', " "))
        .map(CString::into_raw)
        .unwrap_or(std::ptr::null_mut())
}

unsafe extern "C" fn call_tool(context: *mut c_void, request: *const c_char) -> *mut c_char {
    let error = |message: String| ToolCallAnswer::Error {
        error: message,
        ends_run: false,
    };
    let answer = catch_unwind(AssertUnwindSafe(|| {
        if context.is_null() || request.is_null() {
            return error("null context or request".into());
        }
        // SAFETY: `context` is the `HostState` of the `execute` in progress, alive until
        // the plugin's `call` returns; `request` is NUL-terminated (the ABI).
        let (state, text) = unsafe { (&*context.cast::<HostState>(), CStr::from_ptr(request).to_string_lossy()) };
        let request: ToolCallRequest = match serde_json::from_str(&text) {
            Ok(request) => request,
            Err(e) => return error(format!("bad tool call request (it needs `path` and `arguments`): {e}")),
        };
        let arguments = match request.arguments {
            Value::Null => json!({}),
            arguments => arguments,
        };
        // A plugin thread, not a runtime thread: blocking on the bridge's call is allowed.
        match state.runtime.block_on(state.bridge.call(&request.path, arguments)) {
            Ok(ok) => ToolCallAnswer::Ok { ok },
            Err(e) => ToolCallAnswer::Error {
                error: e.to_string(),
                ends_run: e.ends_run(),
            },
        }
    }))
    .unwrap_or_else(|_| error("the host panicked during the tool call".into()));
    to_c(&answer)
}

unsafe extern "C" fn free_string(string: *mut c_char) {
    if !string.is_null() {
        // SAFETY: made by `CString::into_raw` in `to_c`.
        drop(unsafe { CString::from_raw(string) });
    }
}

/// The plugin's answer as an outcome; an answer that is not an [`ExecuteAnswer`] is an
/// environment failure that quotes it.
fn outcome(answer: Result<Value, String>) -> RunOutcome {
    let environment = |message: String| RunOutcome {
        result: Err(RunFailure::new(FailureKind::Environment, message)),
        console: Vec::new(),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(message) => return environment(message),
    };
    let ExecuteAnswer { end, console } = match serde_json::from_value(answer.clone()) {
        Ok(read) => read,
        Err(e) => {
            return environment(format!(
                "the plugin answered something codemode cannot read as a run's end ({e}): {answer}"
            ));
        }
    };
    let result = match end {
        ExecuteEnd::Value(value) => Ok(value),
        ExecuteEnd::Failure(f) => Err(RunFailure {
            kind: match f.kind {
                abi::FailureKind::Runtime => FailureKind::Runtime,
                abi::FailureKind::Timeout => FailureKind::Timeout,
                abi::FailureKind::ToolCallLimit => FailureKind::ToolCallLimit,
                abi::FailureKind::MemoryLimit => FailureKind::MemoryLimit,
                abi::FailureKind::Tool => FailureKind::Tool,
                abi::FailureKind::Environment => FailureKind::Environment,
            },
            message: f.message,
            line: f.line,
            column: f.column,
        }),
    };
    RunOutcome { result, console }
}

#[async_trait]
impl RunEnvironment for PluginEnvironment {
    fn name(&self) -> &str {
        &self.name
    }

    async fn execute(&self, request: ExecutionRequest, bridge: Arc<dyn ToolBridge>) -> RunOutcome {
        let limits = request.limits;
        let message = Request::Execute(ExecuteRequest {
            javascript: request.javascript,
            tool_paths: bridge.tool_paths(),
            limits: ExecuteLimits {
                total_timeout_ms: limits.total_timeout.as_millis() as u64,
                cpu_time_ms: limits.cpu_time.as_millis() as u64,
                memory_limit_bytes: limits.memory_limit_bytes,
                max_console_bytes: limits.max_console_bytes as u64,
                max_value_bytes: limits.max_value_bytes as u64,
            },
        });
        let instance = self.instance.clone();
        let state = HostState {
            bridge,
            runtime: tokio::runtime::Handle::current(),
        };
        // The state lives in the blocking task, so it outlives the plugin's `call` even when
        // the wait below gives up on it.
        let task = tokio::task::spawn_blocking(move || {
            let callbacks = HostCallbacks {
                context: (&state as *const HostState).cast_mut().cast(),
                call_tool,
                free_string,
            };
            instance.request(&message, Some(&callbacks))
        });
        match tokio::time::timeout(limits.total_timeout + GRACE, task).await {
            Ok(Ok(answer)) => outcome(answer),
            Ok(Err(e)) => outcome(Err(format!("the plugin's thread failed: {e}"))),
            Err(_) => RunOutcome {
                result: Err(RunFailure::did_not_stop(
                    &format!("plugin {}", self.name),
                    limits.total_timeout,
                    GRACE,
                )),
                console: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_outcomes() {
        let ok = outcome(Ok(json!({"value": {"n": 1}, "console": ["hi", 2]})));
        assert_eq!(ok.result, Ok(json!({"n": 1})));
        assert_eq!(ok.console, ["hi", "2"]);
        let failed = outcome(Ok(
            json!({"failure": {"kind": "runtime", "message": "boom", "line": 3}}),
        ));
        let failure = failed.result.unwrap_err();
        assert_eq!(
            (failure.kind, failure.message.as_str(), failure.line),
            (FailureKind::Runtime, "boom", Some(3))
        );
        let odd = outcome(Ok(json!({"failure": {"kind": "melted"}}))).result.unwrap_err();
        assert_eq!(odd.kind, FailureKind::Environment);
        assert!(
            odd.message.contains("melted") && odd.message.contains("cannot read"),
            "{}",
            odd.message
        );
        let broken = outcome(Err("no engine".into())).result.unwrap_err();
        assert_eq!(
            (broken.kind, broken.message.as_str()),
            (FailureKind::Environment, "no engine")
        );
    }
}
