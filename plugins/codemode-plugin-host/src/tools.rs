//! A `tool_provider` plugin as a [`ToolProvider`].

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use codemode_plugin_abi::ToolDescription;
use codemode_plugin_abi::messages::Request;
use codemode_traits::{ToolAnnotations, ToolError, ToolProvider, ToolSpec};
use serde_json::Value;

use crate::library::{Instance, PluginKind};
use crate::{PluginError, PluginSource};

/// A plugin's tools as a tool provider.
pub struct PluginToolProvider {
    namespace: String,
    instance: Arc<Instance>,
}

impl std::fmt::Debug for PluginToolProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginToolProvider")
            .field("name", &self.instance.library.name)
            .field("namespace", &self.namespace)
            .field("path", &self.instance.library.path)
            .finish_non_exhaustive()
    }
}

impl PluginToolProvider {
    /// Loads the plugin (a path, or a name to look up) and makes its instance for `config`.
    pub fn load(
        namespace: impl Into<String>,
        source: impl Into<PluginSource>,
        config: Value,
    ) -> Result<Self, PluginError> {
        let instance = source.into().instantiate(PluginKind::ToolProvider, &config)?;
        Ok(Self {
            namespace: namespace.into(),
            instance: Arc::new(instance),
        })
    }

    /// The plugin's own name (from its description).
    pub fn plugin_name(&self) -> &str {
        &self.instance.library.name
    }

    /// The library it was loaded from.
    pub fn path(&self) -> &PathBuf {
        &self.instance.library.path
    }

    async fn request(&self, request: Request) -> Result<Value, String> {
        let instance = self.instance.clone();
        tokio::task::spawn_blocking(move || instance.request(&request, None))
            .await
            .map_err(|e| format!("the plugin's thread failed: {e}"))?
    }
}

#[async_trait]
impl ToolProvider for PluginToolProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let name = self.plugin_name();
        let tools = self
            .request(Request::ListTools)
            .await
            .map_err(|message| ToolError::Unavailable {
                provider: self.namespace.clone(),
                message: format!("plugin {name}: {message}"),
            })?;
        let tools: Vec<ToolDescription> = serde_json::from_value(tools).map_err(|e| ToolError::Unavailable {
            provider: self.namespace.clone(),
            message: format!("plugin {name} listed tools that are not MCP tool descriptions: {e}"),
        })?;
        Ok(tools
            .into_iter()
            .map(|t| ToolSpec {
                name: t.name,
                description: t.description,
                input_schema: t.input_schema,
                output_schema: t.output_schema,
                annotations: t.annotations.as_ref().and_then(ToolAnnotations::from_value),
            })
            .collect())
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        self.request(Request::CallTool {
            name: name.to_string(),
            arguments,
        })
        .await
        .map_err(ToolError::Failed)
    }
}
