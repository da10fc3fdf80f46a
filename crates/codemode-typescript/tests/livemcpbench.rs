//! All 527 real tools of LiveMCPBench (70 servers): declarations that parse, are stable,
//! and agree with the built-in checker on sample calls.

use std::path::PathBuf;

use codemode_typescript::ident::sanitize_identifier;
use codemode_typescript::{BuiltinChecker, ToolSignature, generate_declarations};
use oxc::allocator::Allocator;
use oxc::parser::Parser;
use oxc::span::SourceType;
use serde_json::{Value, json};

/// Finds `shared/data/livemcpbench/tools.json` next to the project (`../shared`), or at
/// `$CODEMODE_SHARED_DIR`.
fn tools_json() -> Value {
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
fn tools(data: &Value) -> Vec<(String, Value)> {
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

fn signatures(tools: &[(String, Value)]) -> Vec<ToolSignature<'_>> {
    tools
        .iter()
        .map(|(path, t)| ToolSignature {
            path,
            description: t["description"].as_str(),
            input_schema: &t["inputSchema"],
            output_schema: t.get("outputSchema").filter(|o| !o.is_null()),
        })
        .collect()
}

#[test]
fn all_527_tools_give_valid_stable_declarations() {
    let data = tools_json();
    let tools = tools(&data);
    assert_eq!(tools.len(), 527);
    let sigs = signatures(&tools);
    let decls = generate_declarations(&sigs);
    assert_eq!(decls.tools.len(), 527, "every tool has types");
    let allocator = Allocator::default();
    let ret = Parser::new(&allocator, &decls.text, SourceType::d_ts()).parse();
    assert!(
        ret.diagnostics.is_empty(),
        "syntax errors: {:?}",
        ret.diagnostics.iter().take(3).collect::<Vec<_>>()
    );
    let mut reversed = sigs.clone();
    reversed.reverse();
    assert_eq!(
        generate_declarations(&reversed).text,
        decls.text,
        "stable whatever the input order"
    );
    assert!(!decls.text.contains("Record<string, any>"));
}

/// A value valid under `schema`: its default or first example, else something built from
/// the type.
fn sample(schema: &Value) -> Value {
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
fn literal(v: &Value) -> String {
    v.to_string()
}

#[test]
fn sample_calls_of_every_tool_pass_the_builtin_checker() {
    let data = tools_json();
    let tools = tools(&data);
    let sigs = signatures(&tools);
    let checker = BuiltinChecker::new(&sigs);
    let mut program = String::new();
    for (path, tool) in &tools {
        program.push_str(&format!(
            "await tools.{path}({});\n",
            literal(&sample(&tool["inputSchema"]))
        ));
    }
    let diagnostics = checker.check(&program);
    let lines: Vec<&str> = program.lines().collect();
    let shown: Vec<String> = diagnostics
        .iter()
        .take(5)
        .map(|d| format!("{} :: {}", d.render("p.ts"), lines[d.line as usize - 1]))
        .collect();
    assert!(
        diagnostics.is_empty(),
        "{} diagnostics, e.g.\n{}",
        diagnostics.len(),
        shown.join("\n")
    );
}
