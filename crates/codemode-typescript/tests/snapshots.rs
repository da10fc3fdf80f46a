//! Snapshot tests of tricky schemas. Each case's declarations are in
//! `tests/snapshots/<case>.d.ts` for a reader to review; `UPDATE_SNAPSHOTS=1` rewrites them.
//! Every snapshot must also pass `tsc --strict`.

mod common;

use std::path::PathBuf;

use codemode_typescript::{ToolSignature, generate_declarations};
use serde_json::{Value, json};

fn cases() -> Vec<(&'static str, Value, Option<Value>)> {
    vec![
        (
            "recursive_tree",
            json!({
                "type": "object",
                "properties": {"root": {"$ref": "#/$defs/node"}},
                "required": ["root"],
                "$defs": {"node": {
                    "type": "object",
                    "description": "A tree node",
                    "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                    "required": ["label"]
                }}
            }),
            Some(
                json!({"$ref": "#/definitions/result", "definitions": {"result": {"type": "object", "properties": {"depth": {"type": "integer"}, "self": {"$ref": "#"}}}}}),
            ),
        ),
        (
            "allof_of_refs",
            json!({
                "allOf": [{"$ref": "#/definitions/named"}, {"$ref": "#/definitions/timestamped"}, {"type": "object", "properties": {"extra": {"type": "boolean"}}}],
                "definitions": {
                    "named": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
                    "timestamped": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
                }
            }),
            None,
        ),
        (
            "tuples",
            json!({
                "type": "object",
                "properties": {
                    "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "items": false, "minItems": 2},
                    "legacy_pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false, "minItems": 2},
                    "head_and_rest": {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "number"}, "minItems": 1}
                }
            }),
            None,
        ),
        (
            "union_of_objects",
            json!({
                "type": "object",
                "properties": {
                    "shape": {"oneOf": [
                        {"type": "object", "properties": {"kind": {"const": "circle"}, "radius": {"type": "number", "minimum": 0}}, "required": ["kind", "radius"]},
                        {"type": "object", "properties": {"kind": {"const": "rect"}, "w": {"type": "number"}, "h": {"type": "number"}}, "required": ["kind", "w", "h"]}
                    ]},
                    "id": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
                    "note": {"type": "string", "nullable": true},
                    "not_this": {"not": {"type": "string"}}
                },
                "required": ["shape"]
            }),
            None,
        ),
        (
            "odd_names",
            json!({
                "type": "object",
                "properties": {
                    "content-type": {"type": "string"},
                    "2fa": {"type": "boolean"},
                    "delete": {"type": "boolean", "description": "A reserved word is fine as a property: */ even with a comment end"},
                    "with space": {"type": "string"},
                    "$ref_like": {"type": "string"}
                },
                "patternProperties": {"^x-": {"type": "string"}}
            }),
            None,
        ),
        (
            "wild_inputs",
            json!({
                "type": "object",
                "properties": {
                    "options": {"type": "dict", "description": "Non-standard type"},
                    "limit": {"type": "integer", "default": "10", "description": "Integer with a string default"},
                    "anything": {"description": "No type at all"},
                    "tags": {"type": "array"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "mode": {"type": "string", "enum": ["a", "b", "a"], "examples": ["a"]}
                },
                "required": ["options"]
            }),
            None,
        ),
    ]
}

#[test]
fn tricky_schemas_match_their_snapshots_and_compile() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let tsc = common::tsc();
    let mut mismatches = Vec::new();
    for (name, input, output) in cases() {
        let path = format!("odd.{name}");
        let sig = ToolSignature {
            path: &path,
            description: Some("A tool with a tricky schema."),
            input_schema: &input,
            output_schema: output.as_ref(),
            output_learned_from: None,
        };
        let text = generate_declarations(&[sig]).text;
        let errors = tsc.check_declarations(&text).unwrap();
        assert!(errors.is_empty(), "{name} does not compile: {errors:?}\n{text}");
        let file = dir.join(format!("{name}.d.ts"));
        if update || !file.exists() {
            std::fs::write(&file, &text).unwrap();
            continue;
        }
        if std::fs::read_to_string(&file).unwrap() != text {
            mismatches.push(format!("{name}: expected tests/snapshots/{name}.d.ts, got:\n{text}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "snapshot mismatches (UPDATE_SNAPSHOTS=1 to accept):\n{}",
        mismatches.join("\n")
    );
}
