//! What a plugin author implements: one trait per kind, synchronous (the host calls plugins
//! from its blocking threads).

use serde_json::Value;

use crate::Host;
use crate::messages::{CompleteRequest, Completion, ExecuteAnswer, ExecuteRequest, ToolDescription};

/// A tool provider with a synchronous API (the host calls it from a blocking thread pool).
pub trait PluginToolProvider: Sized + Send + Sync + 'static {
    /// An instance for the configuration the host passes (the `config` table of the
    /// `[tool_providers.NAME]` that loads the plugin; `null` when none).
    fn create(config: Value) -> Result<Self, String>;
    /// The tools, as MCP describes them.
    fn list_tools(&self) -> Result<Vec<ToolDescription>, String>;
    /// Calls one tool.
    fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, String>;
}

/// A language model: a [`CompleteRequest`] in, a [`Completion`] out.
pub trait PluginLlm: Sized + Send + Sync + 'static {
    /// An instance for the configuration the host passes: the `config` table of the
    /// `[llm.ROLE]` that loads the plugin, with `model` (and `base_url` when set) added.
    fn create(config: Value) -> Result<Self, String>;
    /// One completion for `request`. `sampling` is `varied` when the host wants an answer
    /// other than the likeliest one. A request may offer `functions` for native function
    /// calling; a plugin that supports it answers the calls in [`Completion::calls`] and
    /// reads them back in assistant messages' `calls` and `tool` messages' `call_id`. One
    /// that does not answers with text, which the host reads as before.
    fn complete(&self, request: CompleteRequest) -> Result<Completion, String>;
}

/// A run environment: runs one JavaScript program, its tool calls through `host`.
pub trait PluginRunEnvironment: Sized + Send + Sync + 'static {
    /// An instance for the configuration the host passes (the `config` table of
    /// `[environments.plugin]`).
    fn create(config: Value) -> Result<Self, String>;
    /// Runs `request` and answers how it ended and what it printed. An `Err` is an
    /// environment failure.
    fn execute(&self, request: ExecuteRequest, host: &Host<'_>) -> Result<ExecuteAnswer, String>;
}
