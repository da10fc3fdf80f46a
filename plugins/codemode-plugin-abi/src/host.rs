//! The host's side of one `execute`, as a run-environment plugin sees it.

use std::ffi::{CStr, CString};

use serde_json::Value;

use crate::HostCallbacks;
use crate::messages::{ToolCallAnswer, ToolCallRequest};

/// A failed tool call, as the host's bridge reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallError {
    /// The bridge's message (what the program's `catch` sees).
    pub message: String,
    /// True when the run must stop (the tool-call limit was reached).
    pub ends_run: bool,
}

/// The host's side of one `execute`: call tools through it.
pub struct Host<'a> {
    pub(crate) callbacks: &'a HostCallbacks,
}

// SAFETY: the ABI says the callbacks may be called from any thread while `call` runs, and
// a `Host` does not outlive the `call` it was made for.
unsafe impl Send for Host<'_> {}
// SAFETY: as above.
unsafe impl Sync for Host<'_> {}

impl Host<'_> {
    /// Calls a tool by its path (`namespace.tool`); blocks until the host's bridge answers.
    pub fn call_tool(&self, path: &str, arguments: Value) -> Result<Value, ToolCallError> {
        let fail = |message: String| ToolCallError {
            message,
            ends_run: false,
        };
        let request = ToolCallRequest {
            path: path.to_string(),
            arguments,
        };
        let request = serde_json::to_string(&request).map_err(|e| fail(e.to_string()))?;
        let request = CString::new(request).map_err(|e| fail(e.to_string()))?;
        // SAFETY: the host passed valid callbacks for the duration of `call`.
        let answer = unsafe { (self.callbacks.call_tool)(self.callbacks.context, request.as_ptr()) };
        if answer.is_null() {
            return Err(fail("the host answered nothing".into()));
        }
        // SAFETY: the host returns a NUL-terminated string, freed right after reading.
        let text = unsafe { CStr::from_ptr(answer) }.to_string_lossy().into_owned();
        // SAFETY: `answer` came from the host and is not used again.
        unsafe { (self.callbacks.free_string)(answer) };
        match serde_json::from_str(&text).map_err(|e| fail(format!("the host's answer: {e}")))? {
            ToolCallAnswer::Ok { ok } => Ok(ok),
            ToolCallAnswer::Error { error, ends_run } => Err(ToolCallError {
                message: error,
                ends_run,
            }),
        }
    }
}
