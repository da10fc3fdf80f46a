//! **codemode**: MCP Code Mode in Rust.
//!
//! Instead of one JSON tool call at a time, codemode turns tools into a typed TypeScript
//! API, lets a model write one program against it, checks the program, and runs it in a
//! sandbox whose only door to the world is the tool bridge.
//!
//! This is the facade crate: it re-exports [`codemode_core`] and, per Cargo feature, the
//! plugin crates:
//!
//! | feature     | crate                | gives                                  |
//! |-------------|----------------------|----------------------------------------|
//! | `env-local` | `codemode-env-local` | [`env_local::WasmEnvironment`] (`wasm`, default), and what `env-process` gives |
//! | `env-process` | `codemode-env-local` | [`env_local::ProcessEnvironment`] (`node`, `deno`) only, without wasmtime |
//! | `mcp`       | `codemode-mcp`       | [`mcp::McpToolProvider`] (`mcp`)         |
//! | `openai`    | `codemode-openai`    | [`openai::OpenAiClient`] (`openai`)      |
//! | `openrouter`| `codemode-openrouter`| [`openrouter::OpenRouterClient`] (`openrouter`) |
//! | `composio`  | `codemode-composio`  | [`composio::ComposioToolProvider`] (`composio`) |
//! | `pipedream` | `codemode-pipedream` | [`pipedream::PipedreamToolProvider`] (`pipedream`) |
//! | `e2b`       | `codemode-env-e2b`   | [`env_e2b::E2bEnvironment`] (`e2b`)      |
//! | `plugins`   | `codemode-plugin-host` | [`plugin_host::PluginToolProvider`] (`plugin`): tools from shared libraries |
//! | `testing`   | `codemode-core`      | [`testing::ScriptedLlm`], a test double |
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode::{CodeMode, RunOptions, StaticToolProvider};
//!
//! # async fn demo(llm: Arc<dyn codemode::Llm>) -> Result<(), codemode::CodeModeError> {
//! let codemode = CodeMode::builder()
//!     .strategy_llm(llm.clone())
//!     .tiny_llm(llm.clone())
//!     .main_llm(llm)
//!     .tool_provider("chat", Arc::new(StaticToolProvider::default()))
//!     .environment(codemode::default_environment()?)
//!     .build()
//!     .await?;
//! let report = codemode.run(RunOptions::new("Say hello in every channel")).await?;
//! println!("{}: {}", report.result_type, report.output);
//! print!("{}", report.timing_table());
//! # Ok(()) }
//! ```

pub use codemode_core::*;
/// JSON Schema to TypeScript, transpiling and checking.
pub use codemode_typescript as typescript;

/// Local run environments.
#[cfg(feature = "env-process")]
pub use codemode_env_local as env_local;

/// MCP servers as tool providers.
#[cfg(feature = "mcp")]
pub use codemode_mcp as mcp;

/// OpenAI and OpenAI-compatible servers.
#[cfg(feature = "openai")]
pub use codemode_openai as openai;

/// OpenRouter.
#[cfg(feature = "openrouter")]
pub use codemode_openrouter as openrouter;

/// Composio toolkits as tool providers.
#[cfg(feature = "composio")]
pub use codemode_composio as composio;

/// Pipedream Connect actions as tool providers.
#[cfg(feature = "pipedream")]
pub use codemode_pipedream as pipedream;

/// E2B cloud sandboxes as a run environment.
#[cfg(feature = "e2b")]
pub use codemode_env_e2b as env_e2b;

/// Code mode as an MCP server.
#[cfg(feature = "serve")]
pub use codemode_serve as serve;

/// Dynamically loaded plugins.
#[cfg(feature = "plugins")]
pub use codemode_plugin_host as plugin_host;

/// The default run environment of this build: the QuickJS-in-wasmtime sandbox (`wasm`).
#[cfg(feature = "env-local")]
pub fn default_environment() -> Result<std::sync::Arc<dyn RunEnvironment>, CodeModeError> {
    env_local::WasmEnvironment::new()
        .map(|e| std::sync::Arc::new(e) as std::sync::Arc<dyn RunEnvironment>)
        .map_err(|e| CodeModeError::Config(e.to_string()))
}

/// The plugin guide's example, compiled and run as a doctest.
#[doc = include_str!("../../../docs/plugins.md")]
#[cfg(doctest)]
pub struct PluginGuide;
