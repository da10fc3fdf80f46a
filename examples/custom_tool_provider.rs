//! A custom `ToolProvider`: an in-process key-value store whose tools programs call.
//!
//! ```sh
//! cargo run --example custom_tool_provider
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use codemode::{CodeMode, RunOptions, ToolError, ToolProvider, ToolSpec};
use serde_json::{Value, json};

#[derive(Default)]
struct KeyValueStore {
    data: Mutex<BTreeMap<String, Value>>,
}

#[async_trait]
impl ToolProvider for KeyValueStore {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        Ok(vec![
            ToolSpec::new(
                "set",
                "Store a value under a key",
                json!({"type": "object", "properties": {"key": {"type": "string"}, "value": {}}, "required": ["key", "value"]}),
            ),
            ToolSpec::new(
                "get",
                "Read a key",
                json!({"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}),
            )
            .with_output_schema(json!({"type": "object", "properties": {"value": {}}, "required": ["value"]})),
        ])
    }

    async fn call_tool(&self, name: &str, args: Value) -> Result<Value, ToolError> {
        let key = args["key"]
            .as_str()
            .ok_or_else(|| ToolError::Failed("`key` must be a string".into()))?
            .to_string();
        let mut data = self
            .data
            .lock()
            .map_err(|_| ToolError::Failed("store poisoned".into()))?;
        match name {
            "set" => {
                data.insert(key, args["value"].clone());
                Ok(json!({"ok": true}))
            }
            "get" => Ok(json!({"value": data.get(&key).cloned().unwrap_or(Value::Null)})),
            other => Err(ToolError::UnknownTool(other.into())),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let codemode = CodeMode::builder()
        .tool_provider("kv", Arc::new(KeyValueStore::default()))
        .environment(codemode::default_environment()?)
        .build()
        .await?;
    println!("{}", codemode.declarations());
    let program = r#"
await Promise.all(["a", "b", "c"].map((k, i) => tools.kv.set({ key: k, value: i * 10 })));
const { value } = await tools.kv.get({ key: "c" });
return value;
"#;
    let report = codemode
        .run(codemode::RunRequest::program(program, RunOptions::default()))
        .await?;
    println!(
        "{}: {} after {} tool calls",
        report.result_type,
        report.output,
        report.tool_calls.len()
    );
    Ok(())
}
