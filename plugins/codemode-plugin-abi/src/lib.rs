//! The C ABI of codemode's dynamically loaded plugins (version [`ABI_VERSION`]).
//!
//! A plugin is a shared library (`cdylib`) that exports one function,
//! [`ENTRY_SYMBOL`] (`codemode_plugin_v1`), returning a pointer to a static
//! [`PluginVTable`]. Everything crossing the boundary is a NUL-terminated UTF-8 JSON string,
//! so a plugin need not be built with the host's compiler version, or in Rust at all.
//!
//! The messages:
//! - `describe()`: `{"abi_version": 1, "kind": "tool_provider", "name": ..., "description": ...}`
//!   (a static string, never freed);
//! - `create(config)`: the plugin's instance for a JSON configuration, or null with an error
//!   string written to `*error`;
//! - `call(instance, request)`: `{"method": "list_tools"}` answers `{"ok": [tools]}` (tools as
//!   MCP describes them: `name`, `description`, `inputSchema`, `outputSchema`);
//!   `{"method": "call_tool", "name": ..., "arguments": {...}}` answers `{"ok": value}`;
//!   failures answer `{"error": "message"}`;
//! - strings the plugin returns are freed with its `free_string`; `destroy(instance)` ends
//!   an instance.
//!
//! Calls may come from several threads at once: instances must be `Sync`. A panic inside a
//! plugin written with [`export_tool_provider!`] becomes an error answer; it never unwinds
//! into the host.
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

use std::ffi::{c_char, c_void};

use serde_json::Value;

/// The ABI version this crate describes; the host refuses other versions.
pub const ABI_VERSION: u32 = 1;

/// The exported entry point's name (NUL-terminated).
pub const ENTRY_SYMBOL: &[u8] = b"codemode_plugin_v1\0";

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
    pub call: unsafe extern "C" fn(instance: *mut c_void, request: *const c_char) -> *mut c_char,
    /// Frees a string the plugin returned.
    pub free_string: unsafe extern "C" fn(string: *mut c_char),
    /// Ends an instance.
    pub destroy: unsafe extern "C" fn(instance: *mut c_void),
}

/// What a plugin author implements: a tool provider with a synchronous API (the host calls
/// it from a blocking thread pool).
pub trait PluginToolProvider: Sized + Send + Sync + 'static {
    /// An instance for the configuration the host passes (the `config` table of the
    /// `[tool_providers.NAME]` that loads the plugin; `null` when none).
    fn create(config: Value) -> Result<Self, String>;
    /// The tools, as a JSON array of MCP tool descriptions.
    fn list_tools(&self) -> Result<Value, String>;
    /// Calls one tool.
    fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, String>;
}

/// Support for [`export_tool_provider!`]; not for direct use.
#[doc(hidden)]
pub mod support {
    use std::ffi::{CStr, CString, c_char, c_void};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use serde_json::{Value, json};

    use super::PluginToolProvider;

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
    pub unsafe fn create<T: PluginToolProvider>(config: *const c_char, error: *mut *mut c_char) -> *mut c_void {
        let config = if config.is_null() {
            Value::Null
        } else {
            // SAFETY: the caller passes a NUL-terminated string.
            let text = unsafe { CStr::from_ptr(config) }.to_string_lossy();
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        let made =
            catch_unwind(|| T::create(config)).unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&*p))));
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
    /// `instance` comes from `create::<T>`; `request` is a NUL-terminated string.
    pub unsafe fn call<T: PluginToolProvider>(instance: *mut c_void, request: *const c_char) -> *mut c_char {
        if instance.is_null() || request.is_null() {
            return to_c(json!({"error": "null instance or request"}).to_string());
        }
        // SAFETY: the instance was made by `create::<T>` and is alive until `destroy`.
        let provider = unsafe { &*instance.cast::<T>() };
        // SAFETY: the caller passes a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(request) }.to_string_lossy().into_owned();
        let answer = catch_unwind(AssertUnwindSafe(|| {
            let request: Value = serde_json::from_str(&text).map_err(|e| format!("bad request: {e}"))?;
            match request.get("method").and_then(Value::as_str) {
                Some("list_tools") => provider.list_tools(),
                Some("call_tool") => {
                    let name = request.get("name").and_then(Value::as_str).unwrap_or_default();
                    let arguments = request.get("arguments").cloned().unwrap_or(Value::Null);
                    provider.call_tool(name, arguments)
                }
                other => Err(format!("unknown method {other:?}")),
            }
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
    /// `instance` is null or came from `create::<T>` and is not used afterwards.
    pub unsafe fn destroy<T: PluginToolProvider>(instance: *mut c_void) {
        if !instance.is_null() {
            // SAFETY: made by `Box::into_raw` in `create::<T>`.
            drop(unsafe { Box::from_raw(instance.cast::<T>()) });
        }
    }
}

/// Exports a [`PluginToolProvider`] as a codemode plugin: `export_tool_provider!(Type,
/// "name", "description")` in the plugin's `cdylib` crate.
#[macro_export]
macro_rules! export_tool_provider {
    ($provider:ty, $name:expr, $description:expr) => {
        const _: () = {
            use ::std::ffi::{c_char, c_void};

            unsafe extern "C" fn describe() -> *const c_char {
                static DESCRIPTION: ::std::sync::OnceLock<::std::ffi::CString> = ::std::sync::OnceLock::new();
                DESCRIPTION
                    .get_or_init(|| {
                        let text = $crate::__describe($name, $description, env!("CARGO_PKG_VERSION"));
                        ::std::ffi::CString::new(text).unwrap_or_default()
                    })
                    .as_ptr()
            }
            unsafe extern "C" fn create(config: *const c_char, error: *mut *mut c_char) -> *mut c_void {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::create::<$provider>(config, error) }
            }
            unsafe extern "C" fn call(instance: *mut c_void, request: *const c_char) -> *mut c_char {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::call::<$provider>(instance, request) }
            }
            unsafe extern "C" fn free_string(string: *mut c_char) {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::free_string(string) }
            }
            unsafe extern "C" fn destroy(instance: *mut c_void) {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::destroy::<$provider>(instance) }
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
            pub extern "C" fn codemode_plugin_v1() -> *const $crate::PluginVTable {
                &VTABLE
            }
        };
    };
}

/// The description JSON of a tool provider plugin; used by [`export_tool_provider!`].
#[doc(hidden)]
pub fn __describe(name: &str, description: &str, version: &str) -> String {
    serde_json::json!({
        "abi_version": ABI_VERSION,
        "kind": "tool_provider",
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
        let config = CString::new(r#"{"refuse": true}"#).unwrap();
        let mut error = std::ptr::null_mut();
        // SAFETY: valid strings and pointer.
        let instance = unsafe { support::create::<Panicky>(config.as_ptr(), &mut error) };
        assert!(instance.is_null());
        // SAFETY: set by create.
        assert_eq!(unsafe { CStr::from_ptr(error) }.to_str().unwrap(), "refused by config");
        unsafe { support::free_string(error) };

        let instance = unsafe { support::create::<Panicky>(std::ptr::null(), &mut error) };
        assert!(!instance.is_null());
        let list = CString::new(r#"{"method": "list_tools"}"#).unwrap();
        assert_eq!(
            answer(unsafe { support::call::<Panicky>(instance, list.as_ptr()) }),
            json!({"ok": [{"name": "boom"}]})
        );
        let call = CString::new(r#"{"method": "call_tool", "name": "boom", "arguments": {}}"#).unwrap();
        let failed = answer(unsafe { support::call::<Panicky>(instance, call.as_ptr()) });
        assert_eq!(failed, json!({"error": "the plugin panicked: kaboom"}));
        let bad = CString::new("not json").unwrap();
        let failed = answer(unsafe { support::call::<Panicky>(instance, bad.as_ptr()) });
        assert!(failed["error"].as_str().unwrap().starts_with("bad request"));
        unsafe { support::destroy::<Panicky>(instance) };
    }

    #[test]
    fn the_description_names_the_abi() {
        let d: Value = serde_json::from_str(&__describe("x", "y", "1.0.0")).unwrap();
        assert_eq!(d["abi_version"], ABI_VERSION);
        assert_eq!(d["kind"], "tool_provider");
    }
}
