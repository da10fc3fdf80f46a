//! From an MCP `tools/call` result to the JSON value a program receives.

use serde_json::{Map, Value, json};

use crate::pyrepr::python_literal;

/// What a program sees for a `CallToolResult` (given as JSON):
///
/// - `structuredContent` when present;
/// - otherwise one text block is parsed as JSON when it is JSON, read as the JSON it stands
///   for when it is one whole Python literal of a list, tuple or dict (what `str(rows)` gives:
///   the `pyrepr` module), and kept as a string when neither; several blocks give an array of
///   those values;
/// - images and audio become `{type, mimeType, bytes}` (the base64 data stays on the host:
///   only its size crosses the bridge), resources `{type, uri, mimeType, text?}`.
///
/// Returns `Err(message)` for `isError` results.
pub fn result_to_value(result: &Value) -> Result<Value, String> {
    let blocks: Vec<Value> = result
        .get("content")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(block_to_value).collect())
        .unwrap_or_default();
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        let message = blocks
            .iter()
            .map(|b| match b {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        return Err(if message.is_empty() {
            "the tool reported an error".into()
        } else {
            message
        });
    }
    if let Some(structured) = result.get("structuredContent") {
        return Ok(structured.clone());
    }
    Ok(match blocks.len() {
        0 => Value::Null,
        1 => blocks.into_iter().next().unwrap_or(Value::Null),
        _ => Value::Array(blocks),
    })
}

fn block_to_value(block: &Value) -> Value {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => {
            let text = block.get("text").and_then(Value::as_str).unwrap_or("");
            serde_json::from_str(text)
                .ok()
                .or_else(|| python_literal(text))
                .unwrap_or_else(|| Value::String(text.to_string()))
        }
        Some(kind @ ("image" | "audio")) => {
            let bytes = block.get("data").and_then(Value::as_str).map_or(0, |d| d.len() / 4 * 3);
            json!({"type": kind, "mimeType": block.get("mimeType"), "bytes": bytes})
        }
        Some("resource") => {
            let r = block.get("resource").cloned().unwrap_or(Value::Null);
            let mut out = Map::new();
            out.insert("type".into(), "resource".into());
            for key in ["uri", "mimeType", "text"] {
                if let Some(v) = r.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            if let Some(blob) = r.get("blob").and_then(Value::as_str) {
                out.insert("bytes".into(), (blob.len() / 4 * 3).into());
            }
            Value::Object(out)
        }
        Some("resource_link") => {
            json!({"type": "resource_link", "uri": block.get("uri"), "name": block.get("name"), "mimeType": block.get("mimeType")})
        }
        _ => block.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(
            result_to_value(&json!({"content": [{"type": "text", "text": "{\"a\":1}"}]})),
            Ok(json!({"a": 1}))
        );
        assert_eq!(
            result_to_value(&json!({"content": [{"type": "text", "text": "plain"}]})),
            Ok(json!("plain"))
        );
        assert_eq!(
            result_to_value(&json!({"content": [{"type": "text", "text": "x"}], "structuredContent": {"s": 2}})),
            Ok(json!({"s": 2}))
        );
        assert_eq!(
            result_to_value(
                &json!({"content": [{"type": "text", "text": "1"}, {"type": "image", "data": "AAAA", "mimeType": "image/png"}]})
            ),
            Ok(json!([1, {"type": "image", "mimeType": "image/png", "bytes": 3}]))
        );
        assert_eq!(
            result_to_value(&json!({"content": [{"type": "text", "text": "bad input"}], "isError": true})),
            Err("bad input".into())
        );
        assert_eq!(result_to_value(&json!({"content": []})), Ok(Value::Null));
        assert_eq!(
            result_to_value(&json!({"content": [{"type": "text", "text": "[{'city': 'Berlin', 'n': 2}]"}]})),
            Ok(json!([{"city": "Berlin", "n": 2}]))
        );
    }
}
