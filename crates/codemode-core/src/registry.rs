//! Registration by name: plugin crates submit factories with `inventory`, and
//! configuration picks them by name. Which crates are linked is decided by the Cargo
//! features of the `codemode` facade crate.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::config::LlmConfig;
use crate::environment::RunEnvironment;
use crate::error::CodeModeError;
use crate::llm::Llm;
use crate::tool::{ToolError, ToolProvider};

/// A future that builds a tool provider.
pub type ProviderFuture = Pin<Box<dyn Future<Output = Result<Arc<dyn ToolProvider>, ToolError>> + Send>>;

/// Makes an `Llm` from its configuration.
pub struct LlmFactory {
    /// The name used in `provider = "..."`.
    pub name: &'static str,
    /// One line for `codemode doctor`.
    pub description: &'static str,
    /// Builds the client.
    pub create: fn(&LlmConfig) -> Result<Arc<dyn Llm>, CodeModeError>,
}

/// Makes a `ToolProvider` from a namespace and its configuration (as JSON).
pub struct ToolProviderFactory {
    /// The provider kind's name (e.g. `mcp`).
    pub name: &'static str,
    /// One line for `codemode doctor`.
    pub description: &'static str,
    /// Starts or connects the provider.
    pub create: fn(String, Value) -> ProviderFuture,
}

/// Makes a `RunEnvironment` from its configuration (as JSON).
pub struct RunEnvironmentFactory {
    /// The name used in `[run] environment = "..."`.
    pub name: &'static str,
    /// One line for `codemode doctor`.
    pub description: &'static str,
    /// Builds the environment.
    pub create: fn(&Value) -> Result<Arc<dyn RunEnvironment>, CodeModeError>,
}

inventory::collect!(LlmFactory);
inventory::collect!(ToolProviderFactory);
inventory::collect!(RunEnvironmentFactory);

/// Every registered LLM factory, by name.
pub fn llm_factories() -> Vec<&'static LlmFactory> {
    let mut v: Vec<_> = inventory::iter::<LlmFactory>.into_iter().collect();
    v.sort_by_key(|f| f.name);
    v
}

/// Every registered tool provider factory, by name.
pub fn tool_provider_factories() -> Vec<&'static ToolProviderFactory> {
    let mut v: Vec<_> = inventory::iter::<ToolProviderFactory>.into_iter().collect();
    v.sort_by_key(|f| f.name);
    v
}

/// Every registered run environment factory, by name.
pub fn run_environment_factories() -> Vec<&'static RunEnvironmentFactory> {
    let mut v: Vec<_> = inventory::iter::<RunEnvironmentFactory>.into_iter().collect();
    v.sort_by_key(|f| f.name);
    v
}

fn unknown(kind: &'static str, name: &str, available: Vec<&'static str>) -> CodeModeError {
    CodeModeError::UnknownFactory {
        kind,
        name: name.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
    }
}

/// Builds an `Llm` with the factory named in `config.provider`.
pub fn create_llm(config: &LlmConfig) -> Result<Arc<dyn Llm>, CodeModeError> {
    let factories = llm_factories();
    match factories.iter().find(|f| f.name == config.provider) {
        Some(f) => (f.create)(config),
        None => Err(unknown(
            "LLM provider",
            &config.provider,
            factories.iter().map(|f| f.name).collect(),
        )),
    }
}

/// Builds a run environment by name.
pub fn create_environment(name: &str, config: &Value) -> Result<Arc<dyn RunEnvironment>, CodeModeError> {
    let factories = run_environment_factories();
    match factories.iter().find(|f| f.name == name) {
        Some(f) => (f.create)(config),
        None => Err(unknown(
            "run environment",
            name,
            factories.iter().map(|f| f.name).collect(),
        )),
    }
}

/// Finds a tool provider factory by name.
pub fn find_tool_provider_factory(name: &str) -> Result<&'static ToolProviderFactory, CodeModeError> {
    let factories = tool_provider_factories();
    factories
        .iter()
        .find(|f| f.name == name)
        .copied()
        .ok_or_else(|| unknown("tool provider", name, factories.iter().map(|f| f.name).collect()))
}
