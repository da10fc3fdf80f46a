//! Support for the export macros: requests read, answers written, panics caught, instances
//! made and ended. Not for direct use.

use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;

use crate::messages::{Answer, Request};
use crate::{Host, HostCallbacks, PluginLlm, PluginRunEnvironment, PluginToolProvider};

/// One plugin kind's request dispatch.
pub trait Dispatch: Sized + Send + Sync + 'static {
    /// Makes the instance.
    fn create(config: Value) -> Result<Self, String>;
    /// Answers one request.
    fn handle(&self, request: Request, host: Option<&Host<'_>>) -> Result<Value, String>;
}

/// A [`PluginToolProvider`] behind the ABI.
pub struct Tools<T>(T);
/// A [`PluginLlm`] behind the ABI.
pub struct Model<T>(T);
/// A [`PluginRunEnvironment`] behind the ABI.
pub struct Environment<T>(T);

impl<T: PluginToolProvider> Dispatch for Tools<T> {
    fn create(config: Value) -> Result<Self, String> {
        T::create(config).map(Self)
    }
    fn handle(&self, request: Request, _host: Option<&Host<'_>>) -> Result<Value, String> {
        match request {
            Request::ListTools => self.0.list_tools().and_then(to_value),
            Request::CallTool { name, arguments } => self.0.call_tool(&name, arguments),
            other => Err(format!("a tool provider has no method `{}`", other.method())),
        }
    }
}

impl<T: PluginLlm> Dispatch for Model<T> {
    fn create(config: Value) -> Result<Self, String> {
        T::create(config).map(Self)
    }
    fn handle(&self, request: Request, _host: Option<&Host<'_>>) -> Result<Value, String> {
        match request {
            Request::Complete { request } => self.0.complete(request).and_then(to_value),
            other => Err(format!("an llm has no method `{}`", other.method())),
        }
    }
}

impl<T: PluginRunEnvironment> Dispatch for Environment<T> {
    fn create(config: Value) -> Result<Self, String> {
        T::create(config).map(Self)
    }
    fn handle(&self, request: Request, host: Option<&Host<'_>>) -> Result<Value, String> {
        match (request, host) {
            (Request::Execute(request), Some(host)) => self.0.execute(request, host).and_then(to_value),
            (Request::Execute(_), None) => Err("`execute` needs the host's callbacks".into()),
            (other, _) => Err(format!("a run environment has no method `{}`", other.method())),
        }
    }
}

fn to_value(answer: impl serde::Serialize) -> Result<Value, String> {
    serde_json::to_value(answer).map_err(|e| format!("the plugin's answer cannot be written: {e}"))
}

fn to_c(text: String) -> *mut c_char {
    // Interior NULs cannot come from serde_json output; replace them in other text.
    CString::new(text.replace('\0', " "))
        .map(CString::into_raw)
        .unwrap_or(std::ptr::null_mut())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// # Safety
/// `config` is null or a NUL-terminated string; `error` is null or writable.
pub unsafe fn create<D: Dispatch>(config: *const c_char, error: *mut *mut c_char) -> *mut c_void {
    let config = if config.is_null() {
        Value::Null
    } else {
        // SAFETY: the caller passes a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(config) }.to_string_lossy();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    let made = catch_unwind(|| D::create(config)).unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&*p))));
    match made {
        Ok(instance) => Box::into_raw(Box::new(instance)).cast(),
        Err(message) => {
            if !error.is_null() {
                // SAFETY: the caller passes a writable pointer.
                unsafe { *error = to_c(message) };
            }
            std::ptr::null_mut()
        }
    }
}

/// # Safety
/// `instance` comes from `create::<D>`; `request` is a NUL-terminated string; `host` is
/// null or valid until this returns.
pub unsafe fn call<D: Dispatch>(
    instance: *mut c_void,
    request: *const c_char,
    host: *const HostCallbacks,
) -> *mut c_char {
    if instance.is_null() || request.is_null() {
        return answer_text(Answer::Error("null instance or request".into()));
    }
    // SAFETY: the instance was made by `create::<D>` and is alive until `destroy`.
    let plugin = unsafe { &*instance.cast::<D>() };
    // SAFETY: the caller passes a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(request) }.to_string_lossy().into_owned();
    // SAFETY: null or valid for this call, as the caller promises.
    let host = unsafe { host.as_ref() }.map(|callbacks| Host { callbacks });
    let answer = catch_unwind(AssertUnwindSafe(|| {
        let request: Request = serde_json::from_str(&text).map_err(|e| format!("bad request: {e}"))?;
        plugin.handle(request, host.as_ref())
    }))
    .unwrap_or_else(|p| Err(format!("the plugin panicked: {}", panic_message(&*p))));
    answer_text(match answer {
        Ok(value) => Answer::Ok(value),
        Err(message) => Answer::Error(message),
    })
}

fn answer_text(answer: Answer) -> *mut c_char {
    to_c(
        serde_json::to_string(&answer)
            .unwrap_or_else(|e| format!(r#"{{"error": "the answer cannot be written: {e}"}}"#)),
    )
}

/// # Safety
/// `string` is null or came from this plugin's `to_c`.
pub unsafe fn free_string(string: *mut c_char) {
    if !string.is_null() {
        // SAFETY: made by `CString::into_raw` above.
        drop(unsafe { CString::from_raw(string) });
    }
}

/// # Safety
/// `instance` is null or came from `create::<D>` and is not used afterwards.
pub unsafe fn destroy<D: Dispatch>(instance: *mut c_void) {
    if !instance.is_null() {
        // SAFETY: made by `Box::into_raw` in `create::<D>`.
        drop(unsafe { Box::from_raw(instance.cast::<D>()) });
    }
}
