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

use codemode_plugin_abi::{PluginToolProvider, export_tool_provider};
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

    fn list_tools(&self) -> Result<Value, String> {
        Ok(json!([
            {
                "name": "reverse",
                "description": "Reverses a string",
                "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
                "outputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
            },
            {
                "name": "word_count",
                "description": "Counts the words of a text",
                "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
                "outputSchema": {"type": "object", "properties": {"words": {"type": "integer"}}, "required": ["words"]}
            }
        ]))
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
