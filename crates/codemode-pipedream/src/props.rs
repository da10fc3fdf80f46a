//! Pipedream's `configurable_props` as a JSON Schema.
//!
//! A Pipedream action describes its inputs as a list of props, each with a `type` from
//! Pipedream's own vocabulary (`string`, `integer[]`, `app`, `$.interface.http`, ...). Props
//! the model can fill become schema properties; `app` props (the user's connected account)
//! are filled by the provider; props that only make sense inside a Pipedream workflow, and
//! hidden or disabled ones, are left out.

use serde_json::{Map, Value, json};

/// The JSON Schema of the props a program passes, and the names of the `app` props with
/// the app each connects.
pub(crate) fn props_schema(props: &[Value]) -> (Value, Vec<AppProp>) {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut apps = Vec::new();
    for prop in props {
        let Some(name) = prop.get("name").and_then(Value::as_str) else {
            continue;
        };
        let flag = |key: &str| prop.get(key).and_then(Value::as_bool).unwrap_or(false);
        if flag("hidden") || flag("disabled") {
            continue;
        }
        let kind = prop.get("type").and_then(Value::as_str).unwrap_or("any");
        if kind == "app" {
            let app = prop.get("app").and_then(Value::as_str).unwrap_or(name);
            apps.push(AppProp {
                prop: name.to_string(),
                app: app.to_string(),
            });
            continue;
        }
        let Some(mut schema) = type_schema(kind) else {
            continue;
        };
        annotate(&mut schema, prop, kind);
        if !flag("optional") && prop.get("default").is_none() {
            required.push(json!(name));
        }
        properties.insert(name.to_string(), Value::Object(schema));
    }
    let mut schema = json!({"type": "object", "properties": properties, "additionalProperties": false});
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    (schema, apps)
}

/// An `app` prop: the provider passes the user's connected account of `app` as `prop`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AppProp {
    /// The prop's name.
    pub prop: String,
    /// The app's name slug (`slack`, `github`, ...).
    pub app: String,
}

/// The schema of a prop type; `None` for types a program cannot pass.
fn type_schema(kind: &str) -> Option<Map<String, Value>> {
    let (base, array) = match kind.strip_suffix("[]") {
        Some(base) => (base, true),
        None => (kind, false),
    };
    let item = match base {
        "string" | "sql" => json!({"type": "string"}),
        "integer" => json!({"type": "integer"}),
        "boolean" => json!({"type": "boolean"}),
        "object" => json!({"type": "object"}),
        "any" => json!({}),
        // Workflow plumbing: HTTP and timer interfaces, data stores, directories, alerts.
        t if t.starts_with("$.") => return None,
        "alert" | "data_store" | "dir" | "http_request" => return None,
        other => {
            tracing::debug!(
                prop_type = other,
                "an unknown Pipedream prop type is typed as any value"
            );
            json!({})
        }
    };
    let schema = if array {
        json!({"type": "array", "items": item})
    } else {
        item
    };
    schema.as_object().cloned()
}

/// Description, default, bounds and static options.
fn annotate(schema: &mut Map<String, Value>, prop: &Value, kind: &str) {
    let text = |key: &str| prop.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty());
    let description = match (text("label"), text("description")) {
        (Some(l), Some(d)) => Some(format!("{l}: {d}")),
        (l, d) => l.or(d).map(str::to_string),
    };
    let dynamic = prop.get("remoteOptions").and_then(Value::as_bool) == Some(true);
    let description = match (description, dynamic) {
        (Some(d), true) => Some(format!("{d} (Pipedream looks the valid values up in the app)")),
        (d, _) => d,
    };
    if let Some(d) = description {
        schema.insert("description".into(), json!(d));
    }
    if let Some(default) = prop.get("default") {
        schema.insert("default".into(), default.clone());
    }
    if kind == "integer" {
        for (from, to) in [("min", "minimum"), ("max", "maximum")] {
            if let Some(n) = prop.get(from).filter(|n| n.is_number()) {
                schema.insert(to.into(), n.clone());
            }
        }
    }
    let values: Vec<Value> = prop
        .get("options")
        .and_then(Value::as_array)
        .map(|options| {
            options
                .iter()
                .filter_map(|o| match o {
                    Value::Object(o) => o.get("value").cloned(),
                    v @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) => Some(v.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if !values.is_empty() {
        match schema.get_mut("items") {
            Some(items) if kind.ends_with("[]") => items["enum"] = Value::Array(values),
            _ => {
                schema.insert("enum".into(), Value::Array(values));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn props_become_a_schema_and_app_props_are_set_aside() {
        let props = json!([
            {"name": "slack", "type": "app", "app": "slack"},
            {"name": "conversation", "type": "string", "label": "Channel", "description": "Where to post", "remoteOptions": true},
            {"name": "text", "type": "string", "label": "Text"},
            {"name": "mrkdwn", "type": "boolean", "optional": true, "default": true},
            {"name": "limit", "type": "integer", "min": 1, "max": 100, "default": 20},
            {"name": "tags", "type": "string[]", "optional": true, "options": [{"label": "A", "value": "a"}, "b"]},
            {"name": "level", "type": "string", "options": ["info", "warn"]},
            {"name": "http", "type": "$.interface.http"},
            {"name": "note", "type": "alert", "content": "Heads up"},
            {"name": "secret", "type": "string", "hidden": true},
            {"name": "payload", "type": "weird_new_type", "optional": true}
        ]);
        let (schema, apps) = props_schema(props.as_array().unwrap());
        assert_eq!(
            apps,
            [AppProp {
                prop: "slack".into(),
                app: "slack".into()
            }]
        );
        assert_eq!(schema["required"], json!(["conversation", "text", "level"]));
        let p = &schema["properties"];
        // In the action's order, as Pipedream shows them.
        let names: Vec<&String> = p.as_object().unwrap().keys().collect();
        assert_eq!(
            names,
            ["conversation", "text", "mrkdwn", "limit", "tags", "level", "payload"]
        );
        assert_eq!(
            p["conversation"]["description"],
            "Channel: Where to post (Pipedream looks the valid values up in the app)"
        );
        assert_eq!(
            p["limit"],
            json!({"type": "integer", "default": 20, "minimum": 1, "maximum": 100})
        );
        assert_eq!(p["tags"]["items"]["enum"], json!(["a", "b"]));
        assert_eq!(p["level"]["enum"], json!(["info", "warn"]));
        assert_eq!(p["payload"], json!({}));
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn an_action_without_props_takes_an_empty_object() {
        let (schema, apps) = props_schema(&[]);
        assert_eq!(
            schema,
            json!({"type": "object", "properties": {}, "additionalProperties": false})
        );
        assert!(apps.is_empty());
    }
}
