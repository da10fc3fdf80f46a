//! Helpers shared by the integration tests: the LiveMCPBench tools and sample values.
#![allow(dead_code)]

use std::path::PathBuf;

use codemode_typescript::ToolSignature;
use codemode_typescript::ident::sanitize_identifier;
use serde_json::{Value, json};

/// Finds `shared/data/livemcpbench/tools.json` next to the project (`../shared`), or at
/// `$CODEMODE_SHARED_DIR`.
pub(crate) fn tools_json() -> Value {
    let mut candidates: Vec<PathBuf> = std::env::var_os("CODEMODE_SHARED_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    candidates.extend(manifest.ancestors().map(|a| a.join("shared")));
    candidates.push(PathBuf::from("/work/shared"));
    let path = candidates
        .iter()
        .map(|c| c.join("data/livemcpbench/tools.json"))
        .find(|p| p.is_file())
        .expect("shared/data/livemcpbench/tools.json not found: set CODEMODE_SHARED_DIR to the shared/ directory");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (path, tool) for every tool, namespaced by server.
pub(crate) fn tools(data: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for server in data.as_array().unwrap() {
        for (name, entry) in server["tools"].as_object().unwrap() {
            for tool in entry["tools"].as_array().unwrap() {
                let path = format!(
                    "{}.{}",
                    sanitize_identifier(name),
                    sanitize_identifier(tool["name"].as_str().unwrap())
                );
                out.push((path, tool.clone()));
            }
        }
    }
    out
}

pub(crate) fn signatures(tools: &[(String, Value)]) -> Vec<ToolSignature<'_>> {
    tools
        .iter()
        .map(|(path, t)| ToolSignature {
            path,
            description: t["description"].as_str(),
            input_schema: &t["inputSchema"],
            output_schema: t.get("outputSchema").filter(|o| !o.is_null()),
            output_learned_from: None,
        })
        .collect()
}

/// A value valid under `schema`: its default or first example, else something built from
/// the type.
pub(crate) fn sample(schema: &Value) -> Value {
    if let Some(v) = schema.get("default").filter(|v| !v.is_null()) {
        return v.clone();
    }
    if let Some(v) = schema.get("examples").and_then(|e| e.get(0)) {
        return v.clone();
    }
    if let Some(v) = schema.get("enum").and_then(|e| e.get(0)) {
        return v.clone();
    }
    if let Some(v) = schema.get("const") {
        return v.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => "",
    };
    match ty {
        "string" => json!("sample"),
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        "array" => json!([]),
        "object" => {
            let mut obj = serde_json::Map::new();
            let props = schema.get("properties").and_then(Value::as_object);
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let r = r.as_str().unwrap();
                obj.insert(
                    r.to_string(),
                    props.and_then(|p| p.get(r)).map_or(json!("sample"), sample),
                );
            }
            Value::Object(obj)
        }
        "null" => Value::Null,
        _ => json!("sample"),
    }
}

/// A TypeScript literal for a JSON value (JSON is valid TypeScript expression syntax).
pub(crate) fn literal(v: &Value) -> String {
    v.to_string()
}

/// The TypeScript 7 compiler installed by `cargo xtask test` into tests/npm.
pub(crate) fn tsc() -> codemode_typescript::TscChecker {
    let wrapper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/npm/node_modules/.bin/tsc");
    assert!(
        wrapper.is_file(),
        "{} is missing: run `cargo xtask npm` (or `npm ci --prefix tests/npm`)",
        wrapper.display()
    );
    codemode_typescript::TscChecker::from_path(&wrapper).expect("TypeScript 7 from tests/npm")
}

/// One call per tool with a sample argument, as a program.
pub(crate) fn sample_program(tools: &[(String, Value)]) -> String {
    let mut program = String::new();
    for (path, tool) in tools {
        program.push_str(&format!(
            "await tools.{path}({});\n",
            literal(&sample(&tool["inputSchema"]))
        ));
    }
    program
}
