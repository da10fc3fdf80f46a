//! An example codemode plugin, built as a shared library: two text tools. Load it with
//!
//! ```toml
//! [tool_providers.text]
//! provider = "plugin"
//! path = "target/debug/libcodemode_example_plugin.so"
//! config = { shout = false }
//! ```
//!
//! `reverse` reverses a string (upper-cased when the configuration says `shout = true`);
//! `word_count` counts the words of a text.

use codemode_plugin_abi::{PluginToolProvider, ToolDescription, export_tool_provider};
use serde_json::{Value, json};

/// The plugin's tool provider.
pub struct TextTools {
    shout: bool,
}

impl PluginToolProvider for TextTools {
    fn create(config: Value) -> Result<Self, String> {
        let shout = match config.get("shout") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(format!("`shout` must be true or false, not {other}")),
        };
        Ok(Self { shout })
    }

    fn list_tools(&self) -> Result<Vec<ToolDescription>, String> {
        let text_input = json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]});
        Ok(vec![
            ToolDescription {
                output_schema: Some(
                    json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
                ),
                ..ToolDescription::new("reverse", "Reverses a string", text_input.clone())
            },
            ToolDescription {
                output_schema: Some(
                    json!({"type": "object", "properties": {"words": {"type": "integer"}}, "required": ["words"]}),
                ),
                ..ToolDescription::new("word_count", "Counts the words of a text", text_input)
            },
        ])
    }

    fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, String> {
        let text = arguments
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("`{name}` needs a string `text`"))?;
        match name {
            "reverse" => {
                let reversed: String = text.chars().rev().collect();
                let reversed = if self.shout { reversed.to_uppercase() } else { reversed };
                Ok(json!({ "text": reversed }))
            }
            "word_count" => Ok(json!({ "words": text.split_whitespace().count() })),
            other => Err(format!("no tool `{other}`")),
        }
    }
}

export_tool_provider!(TextTools, "text", "Text tools: reverse, word_count");
