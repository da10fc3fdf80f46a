//! What Pipedream lists: pages of components, and an action component as a [`ToolSpec`].

use codemode_traits::{ToolAnnotations, ToolSpec};
use serde::Deserialize;
use serde_json::Value;

use crate::props::{AppProp, props_schema};

/// What the provider keeps of a listed action.
#[derive(Debug, Clone)]
pub(crate) struct ActionInfo {
    pub(crate) version: Option<String>,
    pub(crate) apps: Vec<AppProp>,
}

/// A page of a Pipedream listing.
#[derive(Deserialize)]
pub(crate) struct Page {
    pub(crate) data: Vec<Value>,
    #[serde(default)]
    pub(crate) page_info: PageInfo,
}

#[derive(Deserialize, Default)]
/// Where a listing stands.
pub(crate) struct PageInfo {
    #[serde(default)]
    pub(crate) total_count: Option<usize>,
    #[serde(default)]
    pub(crate) end_cursor: Option<String>,
}

/// A listed action as a [`ToolSpec`] and what the provider keeps of it.
pub(crate) fn action_spec(component: &Value) -> Option<(ToolSpec, ActionInfo)> {
    let key = component.get("key").and_then(Value::as_str)?.to_string();
    let props = component
        .get("configurable_props")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (input_schema, apps) = props_schema(&props);
    let description = component
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| !d.trim().is_empty())
        .or_else(|| component.get("name").and_then(Value::as_str))
        .map(str::to_string);
    let annotations = component.get("annotations").and_then(ToolAnnotations::from_value);
    let spec = ToolSpec {
        name: key,
        description,
        input_schema,
        output_schema: None,
        annotations,
    };
    let version = component.get("version").and_then(Value::as_str).map(str::to_string);
    Some((spec, ActionInfo { version, apps }))
}
