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
//! The messages are the serde types of [`messages`] (their JSON Schema is
//! `messages.schema.json` beside this crate's manifest, for plugins not written in Rust):
//! - `describe()`: a [`Description`] (a static string, never freed);
//! - `create(config)`: the plugin's instance for a JSON configuration, or null with an error
//!   string written to `*error`;
//! - `call(instance, request, host)`: one [`messages::Request`] (`list_tools`, `call_tool`,
//!   `complete` with a [`CompleteRequest`], `execute` with an [`ExecuteRequest`]), one
//!   [`messages::Answer`], `{"ok": value}` or `{"error": "message"}`: the tools as a list of
//!   [`ToolDescription`], a tool's result, a [`Completion`], an [`ExecuteAnswer`]. The
//!   program's tool calls go to `host.call_tool` as a [`messages::ToolCallRequest`] (the
//!   host's tool bridge: limits, timeouts, approvals and the report are the host's); `host`
//!   is null for the other methods;
//! - strings the plugin returns are freed with its `free_string`, strings the host returns
//!   with `host.free_string`; `destroy(instance)` ends an instance.
//!
//! Calls may come from several threads at once (instances must be `Sync`), and they run on
//! the host's blocking threads: a plugin may block, for as long as its work takes. A panic
//! inside a plugin written with the macros becomes an error answer; it never unwinds into
//! the host.
//!
//! ```
//! use codemode_plugin_abi::{PluginToolProvider, ToolDescription, export_tool_provider};
//! use serde_json::{Value, json};
//!
//! struct Greeter;
//!
//! impl PluginToolProvider for Greeter {
//!     fn create(_config: Value) -> Result<Self, String> {
//!         Ok(Greeter)
//!     }
//!     fn list_tools(&self) -> Result<Vec<ToolDescription>, String> {
//!         Ok(vec![ToolDescription::new("hello", "Says hello", json!({"type": "object"}))])
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

mod export;
mod host;
pub mod messages;
#[doc(hidden)]
pub mod support;
#[cfg(test)]
mod tests;
mod traits;

#[doc(hidden)]
pub use export::__describe;
pub use host::{Host, ToolCallError};
pub use messages::{
    CompleteRequest, Completion, Description, ExecuteAnswer, ExecuteEnd, ExecuteFailure, ExecuteLimits, ExecuteRequest,
    FailureKind, PluginKind, ToolDescription,
};
pub use traits::{PluginLlm, PluginRunEnvironment, PluginToolProvider};

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
