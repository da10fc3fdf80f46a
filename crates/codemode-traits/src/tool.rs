//! The `ToolProvider` boundary: something that lists tools and calls them.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tool as a provider describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The provider's own name for the tool (what `call_tool` takes).
    pub name: String,
    /// What the tool does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(rename = "inputSchema", alias = "input_schema", default = "empty_object_schema")]
    pub input_schema: Value,
    /// JSON Schema of the result, when declared.
    #[serde(
        rename = "outputSchema",
        alias = "output_schema",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub output_schema: Option<Value>,
    /// MCP annotations (hints such as `readOnlyHint`); annotations that are not an object
    /// of the right types are dropped.
    #[serde(
        default,
        deserialize_with = "lenient_annotations",
        skip_serializing_if = "Option::is_none"
    )]
    pub annotations: Option<ToolAnnotations>,
}

/// What a tool says about itself (MCP `ToolAnnotations`): hints, not guarantees. Read once
/// here; the catalog and the approval policy ask [`ToolAnnotations::read_only`] and
/// [`ToolAnnotations::destructive`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool changes nothing (`readOnlyHint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may destroy or overwrite data (`destructiveHint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Calling it again with the same arguments changes nothing more (`idempotentHint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// It reaches outside entities, such as the web (`openWorldHint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
    /// Hints this type does not know, kept as they came.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

impl ToolAnnotations {
    /// Annotations saying only whether the tool is read-only.
    pub fn read_only_hint(read_only: bool) -> Self {
        Self {
            read_only_hint: Some(read_only),
            ..Self::default()
        }
    }

    /// Annotations saying only whether the tool is destructive.
    pub fn destructive_hint(destructive: bool) -> Self {
        Self {
            destructive_hint: Some(destructive),
            ..Self::default()
        }
    }

    /// `value` (a provider's `annotations`) as annotations when it is an object of the right
    /// types, else `None`: a server's odd annotations cost the hints, not the tool.
    pub fn from_value(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone())
            .inspect_err(|e| tracing::debug!(error = %e, "tool annotations dropped"))
            .ok()
    }

    /// Whether the tool says it changes nothing (`readOnlyHint: true`).
    pub fn read_only(&self) -> bool {
        self.read_only_hint == Some(true)
    }

    /// Whether the tool says it is destructive (`destructiveHint: true`) and not read-only.
    pub fn destructive(&self) -> bool {
        self.destructive_hint == Some(true) && !self.read_only()
    }
}

/// `annotations` as [`ToolAnnotations`] when they are an object of the right types, else
/// `None` (a server's odd annotations cost the hints, not the tool).
fn lenient_annotations<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<ToolAnnotations>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(ToolAnnotations::from_value))
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object"})
}

impl ToolSpec {
    /// A tool with a name, a description and an input schema.
    pub fn new(name: impl Into<String>, description: impl Into<String>, input_schema: Value) -> Self {
        Self {
            name: name.into(),
            description: Some(description.into()),
            input_schema,
            output_schema: None,
            annotations: None,
        }
    }

    /// The same tool with an output schema.
    pub fn with_output_schema(mut self, schema: Value) -> Self {
        self.output_schema = Some(schema);
        self
    }
}

/// Why listing or calling tools failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolError {
    /// The provider could not be reached or started.
    #[error("tool provider `{provider}` is unavailable: {message}")]
    Unavailable {
        /// Provider (namespace) name.
        provider: String,
        /// What went wrong.
        message: String,
    },
    /// The provider has no such tool.
    #[error("tool `{0}` does not exist")]
    UnknownTool(String),
    /// The tool ran and reported an error.
    #[error("{0}")]
    Failed(String),
    /// The call took longer than allowed.
    #[error("timed out after {0:.1} s")]
    Timeout(f64),
    /// The tool cannot be called at all (for example, from a static catalog).
    #[error("{0}")]
    NotCallable(String),
}

/// Lists tools and calls them.
#[async_trait]
pub trait ToolProvider: Send + Sync {
    /// The tools this provider offers now.
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError>;

    /// Calls one tool by its provider name with JSON arguments.
    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError>;

    /// True when the provider learned that its tool list changed since the last
    /// `list_tools` (e.g. an MCP `notifications/tools/list_changed`). `CodeMode` then lists
    /// the tools again before the next run.
    fn tools_changed(&self) -> bool {
        false
    }

    /// Who serves the tools, for keeping what is learned about them apart from other
    /// servers' (an MCP server's name and version). Only a hash of it is stored, so it may
    /// hold a command line or URL. `None`: the namespace stands in.
    fn identity(&self) -> Option<String> {
        None
    }
}

/// A provider with a fixed list of tools that cannot be called: what `--catalog` loads.
/// Its tools can be typed and checked.
#[derive(Debug, Clone, Default)]
pub struct StaticToolProvider {
    tools: Vec<ToolSpec>,
}

impl StaticToolProvider {
    /// A provider listing `tools`.
    pub fn new(tools: Vec<ToolSpec>) -> Self {
        Self { tools }
    }
}

#[async_trait]
impl ToolProvider for StaticToolProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        Ok(self.tools.clone())
    }

    async fn call_tool(&self, name: &str, _arguments: Value) -> Result<Value, ToolError> {
        Err(ToolError::NotCallable(format!(
            "`{name}` comes from a static catalog: it can be typed and checked, not called"
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn annotations_are_typed_leniently_and_keep_unknown_hints() {
        let spec: ToolSpec = serde_json::from_value(json!({
            "name": "wipe",
            "annotations": {"destructiveHint": true, "title": "Wipe", "vendorHint": {"x": 1}}
        }))
        .unwrap();
        let annotations = spec.annotations.clone().unwrap();
        assert!(annotations.destructive() && !annotations.read_only());
        assert_eq!(annotations.title.as_deref(), Some("Wipe"));
        assert_eq!(
            serde_json::to_value(&spec).unwrap()["annotations"],
            json!({"destructiveHint": true, "title": "Wipe", "vendorHint": {"x": 1}})
        );
        // Read-only wins over destructive.
        let both = ToolAnnotations {
            read_only_hint: Some(true),
            ..ToolAnnotations::destructive_hint(true)
        };
        assert!(both.read_only() && !both.destructive());
        // Odd annotations cost the hints, not the tool.
        for odd in [json!("destructive"), json!({"readOnlyHint": "yes"}), json!(null)] {
            let spec: ToolSpec = serde_json::from_value(json!({"name": "t", "annotations": odd})).unwrap();
            assert_eq!(spec.annotations, None, "{odd}");
        }
    }
}
