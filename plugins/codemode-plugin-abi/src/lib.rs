//! The C ABI of codemode's dynamically loaded plugins (version [`ABI_VERSION`]).
//!
//! A plugin is a shared library (`cdylib`) that exports one function, [`ENTRY_SYMBOL`]
//! (`codemode_plugin`), returning a pointer to a static [`PluginVTable`]. Everything
//! crossing the boundary is a NUL-terminated UTF-8 JSON string, so a plugin need not be built
//! with the host's compiler version, or in Rust at all. A plugin is one of three kinds:
//!
//! | kind | author implements | export with | requests (`method`) |
//! |---|---|---|---|
//! | `tool_provider` | [`PluginToolProvider`] | [`export_tool_provider!`] | `list_tools`, `call_tool` |
//! | `llm` | [`PluginLlm`] | [`export_llm!`] | `complete` |
//! | `run_environment` | [`PluginRunEnvironment`] | [`export_run_environment!`] | `execute` (with [`HostCallbacks`]) |
//!
//! The messages:
//! - `describe()`: `{"abi_version": 2, "kind": ..., "name": ..., "description": ...,
//!   "plugin_version": ...}` (a static string, never freed);
//! - `create(config)`: the plugin's instance for a JSON configuration, or null with an error
//!   string written to `*error`;
//! - `call(instance, request, host)`: one request, one answer, `{"ok": value}` or
//!   `{"error": "message"}`:
//!   - `{"method": "list_tools"}` answers the tools as MCP describes them (`name`,
//!     `description`, `inputSchema`, `outputSchema`);
//!     `{"method": "call_tool", "name": ..., "arguments": {...}}` answers the result;
//!   - `{"method": "complete", "request": {"role", "step", "messages": [{"role",
//!     "content"}], "max_output_tokens", "sampling"}}` answers `{"text": ..., "usage": {"prompt_tokens",
//!     "completion_tokens"}, "truncated": false}` (`usage` and `truncated` optional);
//!   - `{"method": "execute", "javascript": ..., "tool_paths": [...], "limits":
//!     {"total_timeout_ms", "cpu_time_ms", "memory_limit_bytes", "max_console_bytes",
//!     "max_value_bytes"}}` answers `{"value": ..., "console": [...]}` or `{"failure":
//!     {"kind": "runtime" | "timeout" | "tool_call_limit" | "memory_limit" | "tool" |
//!     "environment", "message", "line", "column"}, "console": [...]}`. The program's tool
//!     calls go to `host.call_tool` (the host's tool bridge: limits, timeouts, approvals and
//!     the report are the host's); `host` is null for the other methods;
//! - strings the plugin returns are freed with its `free_string`, strings the host returns
//!   with `host.free_string`; `destroy(instance)` ends an instance.
//!
//! Calls may come from several threads at once (instances must be `Sync`), and they run on
//! the host's blocking threads: a plugin may block, for as long as its work takes. A panic
//! inside a plugin written with the macros becomes an error answer; it never unwinds into
//! the host.
//!
//! ```
//! use codemode_plugin_abi::{PluginToolProvider, export_tool_provider};
//! use serde_json::{Value, json};
//!
//! struct Greeter;
//!
//! impl PluginToolProvider for Greeter {
//!     fn create(_config: Value) -> Result<Self, String> {
//!         Ok(Greeter)
//!     }
//!     fn list_tools(&self) -> Result<Value, String> {
//!         Ok(json!([{"name": "hello", "inputSchema": {"type": "object"}}]))
//!     }
//!     fn call_tool(&self, name: &str, _arguments: Value) -> Result<Value, String> {
//!         match name {
//!             "hello" => Ok(json!("hello")),
//!             other => Err(format!("no tool `{other}`")),
//!         }
//!     }
//! }
//!
//! export_tool_provider!(Greeter, "greeter", "Says hello");
//! ```

use std::ffi::{CStr, CString, c_char, c_void};

use serde_json::Value;

/// The ABI version this crate describes; the host refuses other versions.
pub const ABI_VERSION: u32 = 2;

/// The exported entry point's name (NUL-terminated).
pub const ENTRY_SYMBOL: &[u8] = b"codemode_plugin\0";

/// The entry point of plugins built for ABI version 1 (tool providers only); the host
/// recognises it to say that the plugin must be rebuilt.
pub const ENTRY_SYMBOL_V1: &[u8] = b"codemode_plugin_v1\0";

/// The signature of the entry point.
pub type EntryPoint = unsafe extern "C" fn() -> *const PluginVTable;

/// What a plugin exports: its ABI version and its functions.
#[repr(C)]
pub struct PluginVTable {
    /// Must equal [`ABI_VERSION`].
    pub abi_version: u32,
    /// A static JSON description of the plugin.
    pub describe: unsafe extern "C" fn() -> *const c_char,
    /// Makes an instance from a JSON configuration; null on failure, with `*error` set to a
    /// string the host frees with `free_string`.
    pub create: unsafe extern "C" fn(config: *const c_char, error: *mut *mut c_char) -> *mut c_void,
    /// Answers one JSON request for an instance; the answer is freed with `free_string`.
    /// `host` is the host's callbacks for `execute`, null otherwise.
    pub call:
        unsafe extern "C" fn(instance: *mut c_void, request: *const c_char, host: *const HostCallbacks) -> *mut c_char,
    /// Frees a string the plugin returned.
    pub free_string: unsafe extern "C" fn(string: *mut c_char),
    /// Ends an instance.
    pub destroy: unsafe extern "C" fn(instance: *mut c_void),
}

/// What the host lends a run-environment plugin for one `execute`: the run's tool bridge.
/// Valid until `call` returns; callable from any thread.
#[repr(C)]
pub struct HostCallbacks {
    /// The host's state for this run (opaque to the plugin).
    pub context: *mut c_void,
    /// Calls a tool: `{"path": "ns.tool", "arguments": {...}}` answers `{"ok": value}` or
    /// `{"error": "message", "ends_run": bool}` (`ends_run`: the run made too many calls and
    /// must stop). Blocks until the call is done; the answer is freed with `free_string`.
    pub call_tool: unsafe extern "C" fn(context: *mut c_void, request: *const c_char) -> *mut c_char,
    /// Frees a string `call_tool` returned.
    pub free_string: unsafe extern "C" fn(string: *mut c_char),
}

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
    callbacks: &'a HostCallbacks,
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
        let request = serde_json::json!({"path": path, "arguments": arguments}).to_string();
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
        let mut answer: Value = serde_json::from_str(&text).map_err(|e| fail(format!("the host's answer: {e}")))?;
        if let Some(ok) = answer.get_mut("ok") {
            return Ok(ok.take());
        }
        Err(ToolCallError {
            message: answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("the tool call failed")
                .to_string(),
            ends_run: answer.get("ends_run").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// A tool provider with a synchronous API (the host calls it from a blocking thread pool).
pub trait PluginToolProvider: Sized + Send + Sync + 'static {
    /// An instance for the configuration the host passes (the `config` table of the
    /// `[tool_providers.NAME]` that loads the plugin; `null` when none).
    fn create(config: Value) -> Result<Self, String>;
    /// The tools, as a JSON array of MCP tool descriptions.
    fn list_tools(&self) -> Result<Value, String>;
    /// Calls one tool.
    fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, String>;
}

/// A language model: the `complete` request in, `{"text", "usage", "truncated"}` out.
pub trait PluginLlm: Sized + Send + Sync + 'static {
    /// An instance for the configuration the host passes: the `config` table of the
    /// `[llm.ROLE]` that loads the plugin, with `model` (and `base_url` when set) added.
    fn create(config: Value) -> Result<Self, String>;
    /// One completion for `request` (`{"role", "step", "messages", "max_output_tokens"}`, and
    /// `"sampling": "varied"` when the host wants an answer other than the likeliest one).
    /// The answer is `{"text", "usage": {"prompt_tokens", "completion_tokens"}, "truncated"}`
    /// (`text` required). A request may offer `"functions"` (`{"name", "description",
    /// "parameters"}`) for native function calling; a plugin that supports it answers the
    /// calls as `"calls": [{"id", "name", "arguments"}]` (`arguments` a JSON text), and reads
    /// them back in assistant messages' `calls` and `"role": "tool"` messages' `call_id`. One
    /// that does not answers with text, which the host reads as before.
    fn complete(&self, request: Value) -> Result<Value, String>;
}

/// A run environment: runs one JavaScript program, its tool calls through `host`.
pub trait PluginRunEnvironment: Sized + Send + Sync + 'static {
    /// An instance for the configuration the host passes (the `config` table of
    /// `[environments.plugin]`).
    fn create(config: Value) -> Result<Self, String>;
    /// Runs `request` (`{"javascript", "tool_paths", "limits"}`) and answers `{"value",
    /// "console"}` or `{"failure", "console"}`. An `Err` is an environment failure.
    fn execute(&self, request: Value, host: &Host<'_>) -> Result<Value, String>;
}

/// Support for the export macros; not for direct use.
#[doc(hidden)]
pub mod support {
    use std::ffi::{CStr, CString, c_char, c_void};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use serde_json::{Value, json};

    use super::{Host, HostCallbacks, PluginLlm, PluginRunEnvironment, PluginToolProvider};

    /// One plugin kind's request dispatch.
    pub trait Dispatch: Sized + Send + Sync + 'static {
        /// Makes the instance.
        fn create(config: Value) -> Result<Self, String>;
        /// Answers one request.
        fn handle(&self, request: &Value, host: Option<&Host<'_>>) -> Result<Value, String>;
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
        fn handle(&self, request: &Value, _host: Option<&Host<'_>>) -> Result<Value, String> {
            match request.get("method").and_then(Value::as_str) {
                Some("list_tools") => self.0.list_tools(),
                Some("call_tool") => {
                    let name = request.get("name").and_then(Value::as_str).unwrap_or_default();
                    let arguments = request.get("arguments").cloned().unwrap_or(Value::Null);
                    self.0.call_tool(name, arguments)
                }
                other => Err(format!("a tool provider has no method {other:?}")),
            }
        }
    }

    impl<T: PluginLlm> Dispatch for Model<T> {
        fn create(config: Value) -> Result<Self, String> {
            T::create(config).map(Self)
        }
        fn handle(&self, request: &Value, _host: Option<&Host<'_>>) -> Result<Value, String> {
            match request.get("method").and_then(Value::as_str) {
                Some("complete") => self.0.complete(request.get("request").cloned().unwrap_or(Value::Null)),
                other => Err(format!("an llm has no method {other:?}")),
            }
        }
    }

    impl<T: PluginRunEnvironment> Dispatch for Environment<T> {
        fn create(config: Value) -> Result<Self, String> {
            T::create(config).map(Self)
        }
        fn handle(&self, request: &Value, host: Option<&Host<'_>>) -> Result<Value, String> {
            match (request.get("method").and_then(Value::as_str), host) {
                (Some("execute"), Some(host)) => self.0.execute(request.clone(), host),
                (Some("execute"), None) => Err("`execute` needs the host's callbacks".into()),
                (other, _) => Err(format!("a run environment has no method {other:?}")),
            }
        }
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
        let made =
            catch_unwind(|| D::create(config)).unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&*p))));
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
            return to_c(json!({"error": "null instance or request"}).to_string());
        }
        // SAFETY: the instance was made by `create::<D>` and is alive until `destroy`.
        let plugin = unsafe { &*instance.cast::<D>() };
        // SAFETY: the caller passes a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(request) }.to_string_lossy().into_owned();
        // SAFETY: null or valid for this call, as the caller promises.
        let host = unsafe { host.as_ref() }.map(|callbacks| Host { callbacks });
        let answer = catch_unwind(AssertUnwindSafe(|| {
            let request: Value = serde_json::from_str(&text).map_err(|e| format!("bad request: {e}"))?;
            plugin.handle(&request, host.as_ref())
        }))
        .unwrap_or_else(|p| Err(format!("the plugin panicked: {}", panic_message(&*p))));
        let answer = match answer {
            Ok(value) => json!({ "ok": value }),
            Err(message) => json!({ "error": message }),
        };
        to_c(answer.to_string())
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
}

/// Exports one plugin of a kind; used by the `export_*!` macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin {
    ($dispatch:ty, $kind:expr, $name:expr, $description:expr) => {
        const _: () = {
            use ::std::ffi::{c_char, c_void};

            unsafe extern "C" fn describe() -> *const c_char {
                static DESCRIPTION: ::std::sync::OnceLock<::std::ffi::CString> = ::std::sync::OnceLock::new();
                DESCRIPTION
                    .get_or_init(|| {
                        let text = $crate::__describe($kind, $name, $description, env!("CARGO_PKG_VERSION"));
                        ::std::ffi::CString::new(text).unwrap_or_default()
                    })
                    .as_ptr()
            }
            unsafe extern "C" fn create(config: *const c_char, error: *mut *mut c_char) -> *mut c_void {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::create::<$dispatch>(config, error) }
            }
            unsafe extern "C" fn call(
                instance: *mut c_void,
                request: *const c_char,
                host: *const $crate::HostCallbacks,
            ) -> *mut c_char {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::call::<$dispatch>(instance, request, host) }
            }
            unsafe extern "C" fn free_string(string: *mut c_char) {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::free_string(string) }
            }
            unsafe extern "C" fn destroy(instance: *mut c_void) {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::destroy::<$dispatch>(instance) }
            }
            static VTABLE: $crate::PluginVTable = $crate::PluginVTable {
                abi_version: $crate::ABI_VERSION,
                describe,
                create,
                call,
                free_string,
                destroy,
            };
            /// The plugin's entry point.
            #[unsafe(no_mangle)]
            pub extern "C" fn codemode_plugin() -> *const $crate::PluginVTable {
                &VTABLE
            }
        };
    };
}

/// Exports a [`PluginToolProvider`] as a codemode plugin: `export_tool_provider!(Type,
/// "name", "description")` in the plugin's `cdylib` crate.
#[macro_export]
macro_rules! export_tool_provider {
    ($provider:ty, $name:expr, $description:expr) => {
        $crate::__export_plugin!(
            $crate::support::Tools<$provider>,
            "tool_provider",
            $name,
            $description
        );
    };
}

/// Exports a [`PluginLlm`] as a codemode plugin: `export_llm!(Type, "name", "description")`.
#[macro_export]
macro_rules! export_llm {
    ($llm:ty, $name:expr, $description:expr) => {
        $crate::__export_plugin!($crate::support::Model<$llm>, "llm", $name, $description);
    };
}

/// Exports a [`PluginRunEnvironment`] as a codemode plugin: `export_run_environment!(Type,
/// "name", "description")`.
#[macro_export]
macro_rules! export_run_environment {
    ($environment:ty, $name:expr, $description:expr) => {
        $crate::__export_plugin!(
            $crate::support::Environment<$environment>,
            "run_environment",
            $name,
            $description
        );
    };
}

/// The description JSON of a plugin; used by the export macros.
#[doc(hidden)]
pub fn __describe(kind: &str, name: &str, description: &str, version: &str) -> String {
    serde_json::json!({
        "abi_version": ABI_VERSION,
        "kind": kind,
        "name": name,
        "description": description,
        "plugin_version": version,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};

    use serde_json::json;

    use super::support::{Dispatch, Environment, Model, Tools};
    use super::*;

    struct Panicky;

    impl PluginToolProvider for Panicky {
        fn create(config: Value) -> Result<Self, String> {
            match config.get("refuse") {
                Some(_) => Err("refused by config".into()),
                None => Ok(Panicky),
            }
        }
        fn list_tools(&self) -> Result<Value, String> {
            Ok(json!([{"name": "boom"}]))
        }
        fn call_tool(&self, _name: &str, _arguments: Value) -> Result<Value, String> {
            panic!("kaboom")
        }
    }

    fn answer(text: *mut std::ffi::c_char) -> Value {
        // SAFETY: made by support::call, freed right after.
        let value = serde_json::from_str(&unsafe { CStr::from_ptr(text) }.to_string_lossy()).unwrap();
        unsafe { support::free_string(text) };
        value
    }

    #[test]
    fn panics_become_errors_and_create_reports_refusals() {
        type D = Tools<Panicky>;
        let config = CString::new(r#"{"refuse": true}"#).unwrap();
        let mut error = std::ptr::null_mut();
        // SAFETY: valid strings and pointer.
        let instance = unsafe { support::create::<D>(config.as_ptr(), &mut error) };
        assert!(instance.is_null());
        // SAFETY: set by create.
        assert_eq!(unsafe { CStr::from_ptr(error) }.to_str().unwrap(), "refused by config");
        unsafe { support::free_string(error) };

        let instance = unsafe { support::create::<D>(std::ptr::null(), &mut error) };
        assert!(!instance.is_null());
        let none = std::ptr::null();
        let list = CString::new(r#"{"method": "list_tools"}"#).unwrap();
        assert_eq!(
            answer(unsafe { support::call::<D>(instance, list.as_ptr(), none) }),
            json!({"ok": [{"name": "boom"}]})
        );
        let call = CString::new(r#"{"method": "call_tool", "name": "boom", "arguments": {}}"#).unwrap();
        let failed = answer(unsafe { support::call::<D>(instance, call.as_ptr(), none) });
        assert_eq!(failed, json!({"error": "the plugin panicked: kaboom"}));
        let bad = CString::new("not json").unwrap();
        let failed = answer(unsafe { support::call::<D>(instance, bad.as_ptr(), none) });
        assert!(failed["error"].as_str().unwrap().starts_with("bad request"));
        let wrong = CString::new(r#"{"method": "complete"}"#).unwrap();
        let failed = answer(unsafe { support::call::<D>(instance, wrong.as_ptr(), none) });
        assert_eq!(
            failed,
            json!({"error": "a tool provider has no method Some(\"complete\")"})
        );
        unsafe { support::destroy::<D>(instance) };
    }

    struct Echo;

    impl PluginLlm for Echo {
        fn create(_config: Value) -> Result<Self, String> {
            Ok(Echo)
        }
        fn complete(&self, request: Value) -> Result<Value, String> {
            Ok(json!({"text": request["messages"][0]["content"]}))
        }
    }

    /// Calls `tools.math.double` through the host for each number it is given.
    struct Doubler;

    impl PluginRunEnvironment for Doubler {
        fn create(_config: Value) -> Result<Self, String> {
            Ok(Doubler)
        }
        fn execute(&self, request: Value, host: &Host<'_>) -> Result<Value, String> {
            let n = request["javascript"].as_str().unwrap().parse::<i64>().unwrap();
            match host.call_tool("math.double", json!({"n": n})) {
                Ok(v) => Ok(json!({"value": v, "console": []})),
                Err(e) => Ok(
                    json!({"failure": {"kind": "tool", "message": e.message}, "console": [format!("ends_run={}", e.ends_run)]}),
                ),
            }
        }
    }

    unsafe extern "C" fn host_call_tool(
        context: *mut std::ffi::c_void,
        request: *const std::ffi::c_char,
    ) -> *mut std::ffi::c_char {
        // SAFETY: the test passes a counter and a valid request.
        let calls = unsafe { &*(context as *const std::sync::atomic::AtomicUsize) };
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let request: Value = serde_json::from_str(&unsafe { CStr::from_ptr(request) }.to_string_lossy()).unwrap();
        let n = request["arguments"]["n"].as_i64().unwrap();
        let answer = if n < 0 {
            json!({"error": "negative", "ends_run": true})
        } else {
            json!({"ok": n * 2})
        };
        CString::new(answer.to_string()).unwrap().into_raw()
    }

    unsafe extern "C" fn host_free(string: *mut std::ffi::c_char) {
        // SAFETY: made by host_call_tool.
        drop(unsafe { CString::from_raw(string) });
    }

    #[test]
    fn each_kind_answers_its_own_methods_and_environments_call_back_into_the_host() {
        let model = Model::<Echo>::create(Value::Null).unwrap();
        let request = json!({"method": "complete", "request": {"messages": [{"role": "user", "content": "hi"}]}});
        assert_eq!(model.handle(&request, None).unwrap(), json!({"text": "hi"}));
        assert!(model.handle(&json!({"method": "list_tools"}), None).is_err());

        let calls = std::sync::atomic::AtomicUsize::new(0);
        let callbacks = HostCallbacks {
            context: &calls as *const _ as *mut std::ffi::c_void,
            call_tool: host_call_tool,
            free_string: host_free,
        };
        let host = Host { callbacks: &callbacks };
        let env = Environment::<Doubler>::create(Value::Null).unwrap();
        let run = |n: &str| {
            env.handle(&json!({"method": "execute", "javascript": n}), Some(&host))
                .unwrap()
        };
        assert_eq!(run("21"), json!({"value": 42, "console": []}));
        let failed = run("-1");
        assert_eq!(failed["failure"]["message"], "negative");
        assert_eq!(failed["console"][0], "ends_run=true");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        let without_host = env.handle(&json!({"method": "execute", "javascript": "1"}), None);
        assert!(without_host.unwrap_err().contains("host's callbacks"));
    }

    #[test]
    fn the_description_names_the_abi_and_the_kind() {
        let d: Value = serde_json::from_str(&__describe("llm", "x", "y", "1.0.0")).unwrap();
        assert_eq!(d["abi_version"], ABI_VERSION);
        assert_eq!(d["kind"], "llm");
    }
}
