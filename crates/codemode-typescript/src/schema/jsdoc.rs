//! JSDoc comments from a schema's `description`, `default`, `examples`, `deprecated`, ...

use std::fmt::Write as _;

use serde_json::Value;

/// JSDoc lines for a schema: description, then tags for default, format, bounds, examples.
pub(super) fn doc_lines(schema: &Value) -> Vec<String> {
    let Value::Object(map) = schema else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if let Some(title) = map.get("title").and_then(Value::as_str)
        && map.get("description").is_none()
        && !title.trim().is_empty()
    {
        lines.push(title.trim().to_string());
    }
    if let Some(desc) = map.get("description").and_then(Value::as_str)
        && !desc.trim().is_empty()
    {
        lines.push(desc.trim().to_string());
    }
    for (key, tag) in [
        ("default", "default"),
        ("format", "format"),
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("exclusiveMinimum", "exclusiveMinimum"),
        ("exclusiveMaximum", "exclusiveMaximum"),
        ("minLength", "minLength"),
        ("maxLength", "maxLength"),
        ("minItems", "minItems"),
        ("maxItems", "maxItems"),
        ("pattern", "pattern"),
    ] {
        if let Some(v) = map.get(key) {
            let text = match v {
                Value::String(s) if key == "format" || key == "pattern" => s.clone(),
                other => other.to_string(),
            };
            lines.push(format!("@{tag} {text}"));
        }
    }
    if let Some(examples) = map.get("examples").and_then(Value::as_array) {
        for e in examples.iter().take(3) {
            lines.push(format!("@example {e}"));
        }
    } else if let Some(e) = map.get("example") {
        lines.push(format!("@example {e}"));
    }
    if map.get("deprecated").and_then(Value::as_bool) == Some(true) {
        lines.push("@deprecated".into());
    }
    lines
}

pub(super) fn write_jsdoc(out: &mut String, pad: &str, lines: &[String]) {
    let text: Vec<String> = lines
        .iter()
        .flat_map(|l| {
            l.lines()
                .map(|s| s.trim_end().replace("*/", "*\\/"))
                .collect::<Vec<_>>()
        })
        .collect();
    if text.len() == 1 {
        let _ = writeln!(out, "{pad}/** {} */", text[0]);
        return;
    }
    let _ = writeln!(out, "{pad}/**");
    for line in text {
        if line.is_empty() {
            let _ = writeln!(out, "{pad} *");
        } else {
            let _ = writeln!(out, "{pad} * {line}");
        }
    }
    let _ = writeln!(out, "{pad} */");
}
