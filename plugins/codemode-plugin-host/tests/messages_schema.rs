//! The committed JSON Schema of the plugin messages (`plugins/codemode-plugin-abi/
//! messages.schema.json`, for plugins not written in Rust) is the one the serde types give.
//! `CODEMODE_BLESS=1 cargo test -p codemode-plugin-host --test messages_schema` rewrites it
//! after a change to the messages.

use std::path::PathBuf;

#[test]
fn the_committed_schema_is_the_one_the_message_types_give() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../codemode-plugin-abi/messages.schema.json");
    let schema = codemode_plugin_abi::messages::messages_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    if std::env::var_os("CODEMODE_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is out of date: run `CODEMODE_BLESS=1 cargo test -p codemode-plugin-host --test messages_schema`",
        path.display()
    );
    // Every message a plugin in another language needs is defined, with its fields.
    let definitions = schema["$defs"].as_object().unwrap();
    for name in [
        "Description",
        "Request",
        "Answer",
        "ToolDescription",
        "Completion",
        "ExecuteAnswer",
        "ToolCallRequest",
        "ToolCallAnswer",
    ] {
        assert!(definitions.contains_key(name), "no {name} in the schema");
    }
    // Every reference resolves inside the document.
    let text_all = serde_json::to_string(&schema).unwrap();
    for reference in text_all.split("\"$ref\":\"#/$defs/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            definitions.contains_key(name),
            "a reference to the missing definition {name}"
        );
    }
    let request = serde_json::to_string(&definitions["Request"]).unwrap();
    for method in ["list_tools", "call_tool", "complete", "execute"] {
        assert!(request.contains(method), "the Request schema lacks `{method}`");
    }
}

/// Messages as a plugin in another language would read and write them validate against the
/// schema's definitions, and a malformed one does not.
#[test]
fn messages_on_the_wire_validate_against_the_schema() {
    use serde_json::json;
    let schema = codemode_plugin_abi::messages::messages_schema();
    let validates = |definition: &str, message: &serde_json::Value| {
        let mut document = schema.clone();
        document["$ref"] = json!(format!("#/$defs/{definition}"));
        jsonschema::validator_for(&document).unwrap().is_valid(message)
    };
    assert!(validates("Request", &json!({"method": "list_tools"})));
    assert!(validates(
        "Request",
        &json!({"method": "call_tool", "name": "reverse", "arguments": {"text": "ab"}})
    ));
    assert!(validates(
        "Request",
        &json!({"method": "complete", "request": {"role": "main", "step": "implement", "messages": [{"role": "user", "content": "hi"}], "max_output_tokens": 64}})
    ));
    assert!(validates(
        "Request",
        &json!({"method": "execute", "javascript": "return 1;", "tool_paths": ["a.b"], "limits": {"total_timeout_ms": 1000, "cpu_time_ms": 1000, "memory_limit_bytes": 1, "max_console_bytes": 1, "max_value_bytes": 1}})
    ));
    assert!(!validates("Request", &json!({"method": "explode"})));
    assert!(validates("Answer", &json!({"ok": [1, 2]})));
    assert!(validates("Answer", &json!({"error": "no"})));
    assert!(validates(
        "ExecuteAnswer",
        &json!({"failure": {"kind": "timeout", "message": "slow"}, "console": []})
    ));
    assert!(!validates(
        "ExecuteAnswer",
        &json!({"failure": {"kind": "melted", "message": "?"}, "console": []})
    ));
    assert!(validates(
        "Completion",
        &json!({"text": "hi", "usage": {"prompt_tokens": 1, "completion_tokens": 2}})
    ));
    assert!(!validates("Completion", &json!({"content": "hi"})));
    assert!(validates(
        "ToolCallAnswer",
        &json!({"error": "too many calls", "ends_run": true})
    ));
    assert!(validates(
        "Description",
        &json!({"abi_version": 2, "kind": "llm", "name": "x"})
    ));
}
