//! One line per tool for `search_tools`: `tools.ns.tool({ a: string; b?: number }): what it does`.

use codemode_core::CatalogEntry;
use serde_json::Value;

/// Characters of a description kept on a listing line.
const DESCRIPTION_CHARS: usize = 160;
/// Properties shown in a brief signature; `describe_tools` has the rest.
const PROPERTIES_SHOWN: usize = 8;

/// `tools.<path>(<brief input>): <first line of the description>`.
pub(crate) fn listing_line(entry: &CatalogEntry) -> String {
    let description: String = entry
        .spec
        .description
        .as_deref()
        .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("")
        .chars()
        .take(DESCRIPTION_CHARS)
        .collect();
    let signature = format!("tools.{}({})", entry.path, brief_input(&entry.spec.input_schema));
    if description.is_empty() {
        signature
    } else {
        format!("{signature}: {description}")
    }
}

/// The input as a one-line object type of property names and plain types.
fn brief_input(schema: &Value) -> String {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return String::new();
    };
    if properties.is_empty() {
        return String::new();
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields: Vec<String> = properties
        .iter()
        .take(PROPERTIES_SHOWN)
        .map(|(name, property)| {
            let optional = if required.contains(&name.as_str()) { "" } else { "?" };
            let key = if is_identifier(name) {
                name.clone()
            } else {
                Value::String(name.clone()).to_string()
            };
            format!("{key}{optional}: {}", brief_type(property))
        })
        .collect();
    if properties.len() > PROPERTIES_SHOWN {
        fields.push(format!("/* {} more */", properties.len() - PROPERTIES_SHOWN));
    }
    format!("{{ {} }}", fields.join("; "))
}

/// A plain TypeScript type for a property schema, one level deep.
fn brief_type(schema: &Value) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.is_empty()
        && values.len() <= 4
    {
        return values.iter().map(Value::to_string).collect::<Vec<_>>().join(" | ");
    }
    let named = |t: &str| match t {
        "string" => "string".to_string(),
        "integer" | "number" => "number".to_string(),
        "boolean" => "boolean".to_string(),
        "null" => "null".to_string(),
        "array" => match schema.get("items") {
            Some(items) if items.get("type").is_some_and(|t| t != "array") => format!("{}[]", brief_type(items)),
            _ => "unknown[]".to_string(),
        },
        "object" => "object".to_string(),
        _ => "unknown".to_string(),
    };
    match schema.get("type") {
        Some(Value::String(t)) => named(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .map(named)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "unknown".to_string(),
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn brief_input_marks_optional_properties_and_plain_types() {
        let schema = json!({
            "type": "object",
            "properties": {
                "channel": {"type": "string"},
                "limit": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "mode": {"enum": ["a", "b"]},
                "x-y": {"type": ["string", "null"]}
            },
            "required": ["channel"]
        });
        assert_eq!(
            brief_input(&schema),
            r#"{ channel: string; limit?: number; tags?: string[]; mode?: "a" | "b"; "x-y"?: string | null }"#
        );
    }

    #[test]
    fn many_properties_are_counted_not_listed() {
        let properties: serde_json::Map<String, Value> = (0..12)
            .map(|i| (format!("p{i:02}"), json!({"type": "string"})))
            .collect();
        let text = brief_input(&json!({"type": "object", "properties": properties}));
        assert!(text.ends_with("/* 4 more */ }"), "{text}");
    }
}
