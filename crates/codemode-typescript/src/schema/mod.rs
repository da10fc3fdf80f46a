//! JSON Schema (drafts 4 to 2020-12, plus the non-standard shapes MCP servers send) to
//! TypeScript declarations.
//!
//! Every tool gets an input type and an output type (`any` without an output schema: the
//! program receives the server's JSON or text, as from `JSON.parse`).
//! Local `$ref`s (`#/$defs/..`, `#/definitions/..`, any JSON pointer, `#` itself) become
//! named types, so recursive schemas work. Output is deterministic: the same tools give the
//! same text byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

pub use codemode_traits::ToolSignature;
use serde_json::Value;

use crate::ident::{is_identifier_name, pascal_case, property_key};

mod jsdoc;
mod render;

use jsdoc::write_jsdoc;
use render::emit_root;
pub(crate) use render::resolve_pointer;

/// Nesting depth past which a schema is rendered as `unknown` instead of recursing further.
const MAX_DEPTH: usize = 48;

/// The type names generated for one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolTypeNames {
    /// The tool's dotted path.
    pub path: String,
    /// Name of the input type alias.
    pub input: String,
    /// Name of the output type alias (an undeclared output, `any`, is still given a name).
    pub output: String,
    /// True when every input property is optional, so the argument itself may be omitted.
    pub input_optional: bool,
}

/// Generated TypeScript declarations for a set of tools.
#[derive(Debug, Clone)]
pub struct Declarations {
    /// The declaration text: type aliases followed by `declare const tools: {...}`.
    pub text: String,
    /// The type names of each tool, in path order.
    pub tools: Vec<ToolTypeNames>,
}

/// Generates declarations for `tools`. Tools are ordered by path, so the result does not
/// depend on the order of the input.
pub fn generate_declarations(tools: &[ToolSignature<'_>]) -> Declarations {
    let mut sorted: Vec<&ToolSignature<'_>> = tools.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(b.path));
    let mut names = NameAllocator::default();
    let mut text = String::new();
    let mut infos = Vec::with_capacity(sorted.len());
    for tool in &sorted {
        let prefix = pascal_case(tool.path);
        let closed;
        let input_schema = if takes_no_arguments(tool.input_schema) {
            closed = closed_object(tool.input_schema);
            &closed
        } else {
            tool.input_schema
        };
        let input = emit_root(&mut text, &mut names, &prefix, "Input", Some(input_schema), None);
        let output = emit_root(
            &mut text,
            &mut names,
            &prefix,
            "Output",
            tool.output_schema,
            tool.output_learned_from,
        );
        infos.push(ToolTypeNames {
            path: tool.path.to_string(),
            input,
            output,
            input_optional: !has_required(tool.input_schema),
        });
    }
    text.push_str("declare const tools: ");
    let tree = build_tree(&sorted, &infos);
    write_tree(&mut text, &tree, 0);
    text.push_str(";\n");
    Declarations { text, tools: infos }
}

/// An input schema that declares no parameters and admits no others: an object schema
/// with an empty `properties` (or `additionalProperties: false`), and no
/// `patternProperties`, `required`, composition or `additionalProperties` that allows
/// anything. Such a tool takes no arguments (every one of the 51 such tools among
/// LiveMCPBench's 527 is a plain "list" or "get"), so its input is declared
/// `Record<string, never>` rather than an open object: seen, the 1.5B model passing
/// `list_channels({ name: "engineering" })` and reading the first channel of all of them. A
/// bare `{"type": "object"}` (what a tool without any input schema is given) says nothing
/// about parameters and stays open.
pub(crate) fn takes_no_arguments(schema: &Value) -> bool {
    let Value::Object(map) = schema else {
        return false;
    };
    let is_object = match map.get("type") {
        None => true,
        Some(Value::String(t)) => t == "object",
        Some(_) => false,
    };
    let declared_empty = map
        .get("properties")
        .is_some_and(|p| p.as_object().is_some_and(serde_json::Map::is_empty));
    let no_properties = declared_empty
        || (map.get("properties").is_none() && map.get("additionalProperties") == Some(&Value::Bool(false)));
    let no_required = map
        .get("required")
        .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty));
    let no_others = matches!(map.get("additionalProperties"), None | Some(Value::Bool(false)));
    let composed = [
        "patternProperties",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "if",
        "not",
        "propertyNames",
    ]
    .iter()
    .any(|k| map.contains_key(*k));
    is_object && no_properties && no_required && no_others && !composed
}

/// `schema` with `additionalProperties: false`.
fn closed_object(schema: &Value) -> Value {
    let mut closed = schema.clone();
    if let Value::Object(map) = &mut closed {
        map.insert("additionalProperties".into(), Value::Bool(false));
        map.entry("type").or_insert_with(|| Value::String("object".into()));
    }
    closed
}

fn has_required(schema: &Value) -> bool {
    schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
}

enum Node<'t> {
    Tool(&'t ToolSignature<'t>, &'t ToolTypeNames),
    Namespace(BTreeMap<&'t str, Node<'t>>),
}

fn build_tree<'t>(tools: &[&'t ToolSignature<'t>], infos: &'t [ToolTypeNames]) -> BTreeMap<&'t str, Node<'t>> {
    let mut root: BTreeMap<&'t str, Node<'t>> = BTreeMap::new();
    for (tool, info) in tools.iter().zip(infos) {
        let segments: Vec<&'t str> = tool.path.split('.').collect();
        if !insert_node(&mut root, &segments, Node::Tool(tool, info)) {
            tracing::warn!(
                path = tool.path,
                "tool path clashes with another tool or namespace; skipped"
            );
        }
    }
    root
}

/// Inserts `node` at `segments`; false when the place is taken by a tool or namespace.
fn insert_node<'t>(level: &mut BTreeMap<&'t str, Node<'t>>, segments: &[&'t str], node: Node<'t>) -> bool {
    match segments {
        [] => false,
        [last] => {
            if level.contains_key(last) {
                return false;
            }
            level.insert(last, node);
            true
        }
        [first, rest @ ..] => match level.entry(first).or_insert_with(|| Node::Namespace(BTreeMap::new())) {
            Node::Namespace(children) => insert_node(children, rest, node),
            Node::Tool(..) => false,
        },
    }
}

fn write_tree(out: &mut String, tree: &BTreeMap<&str, Node<'_>>, indent: usize) {
    out.push_str("{\n");
    for (name, node) in tree {
        let pad = "  ".repeat(indent + 1);
        match node {
            Node::Namespace(children) => {
                let _ = write!(out, "{pad}{}: ", property_key(name));
                write_tree(out, children, indent + 1);
                out.push_str(";\n");
            }
            Node::Tool(tool, info) => {
                if let Some(desc) = tool.description.filter(|d| !d.trim().is_empty()) {
                    write_jsdoc(out, &pad, &[desc.trim().to_string()]);
                }
                let opt = if info.input_optional { "?" } else { "" };
                let _ = writeln!(
                    out,
                    "{pad}{}(input{opt}: {}): Promise<{}>;",
                    property_key(name),
                    info.input,
                    info.output
                );
            }
        }
    }
    out.push_str(&"  ".repeat(indent));
    out.push('}');
}

/// Hands out unique type names: the first holder of a name keeps it, later ones get
/// `2`, `3`, ... appended.
#[derive(Default)]
struct NameAllocator {
    used: BTreeSet<String>,
}

impl NameAllocator {
    fn allocate(&mut self, base: &str) -> String {
        let base = if is_identifier_name(base) {
            base.to_string()
        } else {
            pascal_case(base)
        };
        if self.used.insert(base.clone()) {
            return base;
        }
        let mut n = 2u32;
        loop {
            let candidate = format!("{base}{n}");
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(schema: Value) -> String {
        let sig = ToolSignature {
            path: "ns.tool",
            description: Some("Does things."),
            input_schema: &schema,
            output_schema: None,
            output_learned_from: None,
        };
        generate_declarations(&[sig]).text
    }

    #[test]
    fn a_learned_output_leaves_what_was_never_seen_open_as_any() {
        let input = json!({"type": "object"});
        let learned = json!({"type": "object", "properties": {
            "rows": {"type": "array"},
            "meta": {},
            "by_path": {"type": "object", "additionalProperties": {}},
        }, "required": ["rows"]});
        let tool = |learned_from| ToolSignature {
            path: "db.query",
            description: None,
            input_schema: &input,
            output_schema: Some(&learned),
            output_learned_from: learned_from,
        };
        let text = generate_declarations(&[tool(Some(3))]).text;
        assert!(
            text.contains(
                "/** Learned from 3 results of this tool (it declares no output schema); a result that differs widens it. */\ntype DbQueryOutput = {\n  rows: any[];\n  meta?: any;\n  by_path?: {\n    [key: string]: any;\n  };\n};"
            ),
            "{text}"
        );
        // The same schema declared by the tool is a contract: what it leaves open is unknown.
        let declared = generate_declarations(&[tool(None)]).text;
        assert!(declared.contains("rows: unknown[];"), "{declared}");
        assert!(!declared.contains("Learned"), "{declared}");
    }

    #[test]
    fn basic_object() {
        let text = one(json!({
            "type": "object",
            "properties": {"q": {"type": "string", "description": "query"}, "n": {"type": "integer", "default": 5}},
            "required": ["q"],
            "additionalProperties": false
        }));
        assert!(
            text.contains("type NsToolInput = {\n  /** query */\n  q: string;\n  /** @default 5 */\n  n?: number;\n};"),
            "{text}"
        );
        assert!(
            text.contains("/** Not declared by the tool: its JSON result, or its text. */\ntype NsToolOutput = any;"),
            "{text}"
        );
        assert!(
            text.contains("    tool(input: NsToolInput): Promise<NsToolOutput>;"),
            "{text}"
        );
    }

    #[test]
    fn a_tool_without_parameters_takes_none_and_a_bare_object_stays_open() {
        for schema in [
            json!({"type": "object", "properties": {}}),
            json!({"type": "object", "properties": {}, "required": []}),
            json!({"type": "object", "additionalProperties": false}),
        ] {
            assert!(
                one(schema.clone()).contains("type NsToolInput = Record<string, never>;"),
                "{schema}"
            );
        }
        for schema in [
            json!({"type": "object"}),
            json!({}),
            json!({"type": "object", "properties": {}, "additionalProperties": true}),
            json!({"type": "object", "properties": {}, "additionalProperties": {"type": "string"}}),
        ] {
            assert!(!one(schema.clone()).contains("Record<string, never>"), "{schema}");
        }
    }

    #[test]
    fn recursive_ref() {
        let text = one(json!({
            "type": "object",
            "properties": {"root": {"$ref": "#/$defs/node"}},
            "$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}
        }));
        assert!(text.contains("root?: NsToolInputNode;"), "{text}");
        assert!(
            text.contains("type NsToolInputNode = {\n  children?: NsToolInputNode[];\n};"),
            "{text}"
        );
    }

    #[test]
    fn unions_nulls_tuples() {
        let text = one(json!({
            "type": "object",
            "properties": {
                "a": {"type": ["string", "null"]},
                "b": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                "c": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "minItems": 2, "items": false},
                "d": {"enum": ["x", "y"]},
                "e": {"type": "string", "nullable": true},
                "f": {"type": "dict"},
                "g": {"not": {"type": "string"}}
            }
        }));
        assert!(text.contains("a?: string | null;"), "{text}");
        assert!(text.contains("b?: string | number;"), "{text}");
        assert!(text.contains("c?: [string, number];"), "{text}");
        assert!(text.contains("d?: \"x\" | \"y\";"), "{text}");
        assert!(text.contains("e?: string | null;"), "{text}");
        assert!(text.contains("f?: {\n    [key: string]: unknown;\n  };"), "{text}");
        assert!(text.contains("g?: unknown;"), "{text}");
        assert!(text.contains("tool(input?: NsToolInput)"), "{text}");
    }

    #[test]
    fn stable_and_order_independent() {
        let s = json!({"type": "object"});
        let a = ToolSignature {
            path: "a.x",
            description: None,
            input_schema: &s,
            output_schema: None,
            output_learned_from: None,
        };
        let b = ToolSignature {
            path: "b.x",
            description: None,
            input_schema: &s,
            output_schema: None,
            output_learned_from: None,
        };
        assert_eq!(generate_declarations(&[a, b]).text, generate_declarations(&[b, a]).text);
    }
}
