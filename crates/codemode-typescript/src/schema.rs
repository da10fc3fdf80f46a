//! JSON Schema (drafts 4 to 2020-12, plus the non-standard shapes MCP servers send) to
//! TypeScript declarations.
//!
//! Every tool gets an input type and an output type (`unknown` without an output schema).
//! Local `$ref`s (`#/$defs/..`, `#/definitions/..`, any JSON pointer, `#` itself) become
//! named types, so recursive schemas work. Output is deterministic: the same tools give the
//! same text byte for byte.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::ident::{is_identifier_name, pascal_case, property_key};

/// Nesting depth past which a schema is rendered as `unknown` instead of recursing further.
const MAX_DEPTH: usize = 48;

/// One tool to declare: where it lives in the `tools` tree and its schemas.
#[derive(Debug, Clone, Copy)]
pub struct ToolSignature<'a> {
    /// Dotted path under `tools`, e.g. `slack.send_message`. Segments should be identifiers;
    /// others are quoted.
    pub path: &'a str,
    /// The tool's description, rendered as JSDoc.
    pub description: Option<&'a str>,
    /// JSON Schema of the tool's arguments.
    pub input_schema: &'a Value,
    /// JSON Schema of the tool's result, when the tool declares one.
    pub output_schema: Option<&'a Value>,
}

/// The type names generated for one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolTypeNames {
    /// The tool's dotted path.
    pub path: String,
    /// Name of the input type alias.
    pub input: String,
    /// Name of the output type alias (`unknown` is still given a name).
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
        let input = emit_root(&mut text, &mut names, &prefix, "Input", Some(tool.input_schema));
        let output = emit_root(&mut text, &mut names, &prefix, "Output", tool.output_schema);
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

/// Emits the type alias for one root schema (and every named type it references) and
/// returns the alias name.
fn emit_root(
    out: &mut String,
    names: &mut NameAllocator,
    prefix: &str,
    suffix: &str,
    schema: Option<&Value>,
) -> String {
    let name = names.allocate(&format!("{prefix}{suffix}"));
    let Some(schema) = schema else {
        let _ = writeln!(out, "type {name} = unknown;");
        return name;
    };
    let mut ctx = RootContext {
        root: schema,
        prefix: format!("{prefix}{suffix}"),
        named: HashMap::new(),
        pending: Vec::new(),
        names,
    };
    ctx.named.insert(String::new(), name.clone());
    let body = ctx.render(schema, 0, 0);
    write_alias(out, &name, schema, &body);
    let mut done = 0;
    while done < ctx.pending.len() {
        let (pointer, alias) = ctx.pending[done].clone();
        done += 1;
        let target = resolve_pointer(schema, &pointer).unwrap_or(&Value::Bool(true));
        let body = ctx.render(target, 0, 0);
        write_alias(out, &alias, target, &body);
    }
    name
}

fn write_alias(out: &mut String, name: &str, schema: &Value, body: &str) {
    let doc = doc_lines(schema);
    if !doc.is_empty() {
        write_jsdoc(out, "", &doc);
    }
    let _ = writeln!(out, "type {name} = {body};");
}

struct RootContext<'s, 'n> {
    root: &'s Value,
    prefix: String,
    /// JSON pointer (without the leading `#`) to alias name.
    named: HashMap<String, String>,
    /// Named types still to emit, in the order they were first referenced.
    pending: Vec<(String, String)>,
    names: &'n mut NameAllocator,
}

impl RootContext<'_, '_> {
    fn ref_type(&mut self, reference: &str) -> String {
        let Some(fragment) = reference.strip_prefix('#') else {
            return "unknown /* external $ref */".to_string();
        };
        let pointer = decode_fragment(fragment);
        if let Some(name) = self.named.get(&pointer) {
            return name.clone();
        }
        if resolve_pointer(self.root, &pointer).is_none() {
            return "unknown /* unresolved $ref */".to_string();
        }
        let last = pointer.rsplit('/').next().unwrap_or("Ref");
        let alias = self.names.allocate(&format!("{}{}", self.prefix, pascal_case(last)));
        self.named.insert(pointer.clone(), alias.clone());
        self.pending.push((pointer, alias.clone()));
        alias
    }

    fn render(&mut self, schema: &Value, indent: usize, depth: usize) -> String {
        let map = match schema {
            Value::Bool(true) => return "unknown".into(),
            Value::Bool(false) => return "never".into(),
            Value::Object(map) => map,
            _ => return "unknown".into(),
        };
        if depth > MAX_DEPTH {
            return "unknown".into();
        }
        if let Some(c) = map.get("const") {
            return literal_type(c);
        }
        if let Some(values) = map.get("enum").and_then(Value::as_array) {
            if values.is_empty() {
                return "never".into();
            }
            let mut lits: Vec<String> = values.iter().map(literal_type).collect();
            dedup_keep_order(&mut lits);
            return nullable(map, lits.join(" | "));
        }
        let mut parts: Vec<String> = Vec::new();
        if let Some(r) = map.get("$ref").and_then(Value::as_str) {
            parts.push(self.ref_type(r));
        }
        if let Some(base) = self.render_base(map, indent, depth) {
            parts.push(base);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(variants) = map.get(key).and_then(Value::as_array) {
                let mut members: Vec<String> = variants.iter().map(|v| self.render(v, indent, depth + 1)).collect();
                dedup_keep_order(&mut members);
                if !members.is_empty() {
                    parts.push(members.iter().map(|m| paren(m)).collect::<Vec<_>>().join(" | "));
                }
            }
        }
        if let Some(all) = map.get("allOf").and_then(Value::as_array) {
            for s in all {
                let t = self.render(s, indent, depth + 1);
                if t != "unknown" {
                    parts.push(t);
                }
            }
        }
        parts.retain(|p| p != "unknown");
        let body = match parts.len() {
            0 => "unknown".to_string(),
            1 => parts.remove(0),
            _ => parts.iter().map(|p| paren(p)).collect::<Vec<_>>().join(" & "),
        };
        nullable(map, body)
    }

    /// The part of a schema described by `type` and its structural keywords, or `None`
    /// when the schema has neither.
    fn render_base(&mut self, map: &Map<String, Value>, indent: usize, depth: usize) -> Option<String> {
        let types: Vec<&str> = match map.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => {
                if is_object_like(map) {
                    vec!["object"]
                } else if map.contains_key("items") || map.contains_key("prefixItems") {
                    vec!["array"]
                } else {
                    return None;
                }
            }
        };
        if types.is_empty() {
            return None;
        }
        let mut members = Vec::new();
        for t in types {
            let rendered = match t {
                "string" | "str" => "string".to_string(),
                "number" | "integer" | "int" | "float" | "double" => "number".to_string(),
                "boolean" | "bool" => "boolean".to_string(),
                "null" => "null".to_string(),
                "array" | "list" => self.render_array(map, indent, depth),
                "object" | "dict" | "map" => self.render_object(map, indent, depth),
                _ => "unknown".to_string(),
            };
            members.push(rendered);
        }
        dedup_keep_order(&mut members);
        if members.iter().any(|m| m == "unknown") {
            return Some("unknown".into());
        }
        Some(members.iter().map(|m| paren(m)).collect::<Vec<_>>().join(" | "))
    }

    fn render_array(&mut self, map: &Map<String, Value>, indent: usize, depth: usize) -> String {
        let tuple: Option<&Vec<Value>> = map
            .get("prefixItems")
            .and_then(Value::as_array)
            .or_else(|| map.get("items").and_then(Value::as_array));
        if let Some(elements) = tuple {
            let min = map.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            let rest_schema = if map.contains_key("prefixItems") {
                map.get("items")
            } else {
                map.get("additionalItems")
            };
            let mut parts: Vec<String> = elements
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let t = self.render(e, indent, depth + 1);
                    if i < min { t } else { format!("{}?", paren(&t)) }
                })
                .collect();
            let closed = matches!(rest_schema, Some(Value::Bool(false)))
                || map.get("maxItems").and_then(Value::as_u64) == Some(elements.len() as u64);
            if !closed {
                let rest = rest_schema.map_or_else(|| "unknown".to_string(), |s| self.render(s, indent, depth + 1));
                parts.push(format!("...{}[]", paren(&rest)));
            }
            return format!("[{}]", parts.join(", "));
        }
        let item = map
            .get("items")
            .map_or_else(|| "unknown".to_string(), |s| self.render(s, indent, depth + 1));
        format!("{}[]", paren(&item))
    }

    fn render_object(&mut self, map: &Map<String, Value>, indent: usize, depth: usize) -> String {
        let props = map.get("properties").and_then(Value::as_object);
        let required: BTreeSet<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let additional = map.get("additionalProperties");
        let patterns = map.get("patternProperties").and_then(Value::as_object);
        let pad = "  ".repeat(indent + 1);
        let mut out = String::from("{\n");
        let mut prop_types: Vec<String> = Vec::new();
        let mut any_optional = false;
        if let Some(props) = props {
            for (key, prop) in props {
                let t = self.render(prop, indent + 1, depth + 1);
                let is_required = required.contains(key.as_str());
                any_optional |= !is_required;
                let doc = doc_lines(prop);
                if !doc.is_empty() {
                    write_jsdoc(&mut out, &pad, &doc);
                }
                let _ = writeln!(
                    out,
                    "{pad}{}{}: {t};",
                    property_key(key),
                    if is_required { "" } else { "?" }
                );
                prop_types.push(t);
            }
        }
        // Required names without a property schema are still required.
        for key in &required {
            if props.is_some_and(|p| p.contains_key(*key)) {
                continue;
            }
            let _ = writeln!(out, "{pad}{}: unknown;", property_key(key));
            prop_types.push("unknown".into());
        }
        let mut index_types: Vec<String> = Vec::new();
        if let Some(patterns) = patterns {
            for s in patterns.values() {
                index_types.push(self.render(s, indent + 1, depth + 1));
            }
        }
        match additional {
            Some(Value::Bool(false)) => {}
            Some(s @ Value::Object(_)) => index_types.push(self.render(s, indent + 1, depth + 1)),
            Some(_) | None => {
                if prop_types.is_empty() && index_types.is_empty() {
                    index_types.push("unknown".into());
                }
            }
        }
        if !index_types.is_empty() {
            // An index signature must admit every named property's type.
            let mut all = index_types;
            if !all.iter().any(|t| t == "unknown") {
                all.extend(prop_types.iter().cloned());
                if any_optional {
                    all.push("undefined".into());
                }
            }
            dedup_keep_order(&mut all);
            let t = if all.iter().any(|t| t == "unknown") {
                "unknown".to_string()
            } else {
                all.iter().map(|t| paren(t)).collect::<Vec<_>>().join(" | ")
            };
            let _ = writeln!(out, "{pad}[key: string]: {t};");
        } else if prop_types.is_empty() {
            return "Record<string, never>".into();
        }
        out.push_str(&"  ".repeat(indent));
        out.push('}');
        out
    }
}

fn is_object_like(map: &Map<String, Value>) -> bool {
    ["properties", "additionalProperties", "patternProperties", "required"]
        .iter()
        .any(|k| map.contains_key(*k))
}

fn nullable(map: &Map<String, Value>, body: String) -> String {
    if map.get("nullable").and_then(Value::as_bool) == Some(true) && body != "unknown" {
        format!("{} | null", paren(&body))
    } else {
        body
    }
}

/// Wraps a type in parentheses when it is a union, intersection or function type, so it
/// can be used as an operand.
fn paren(t: &str) -> String {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut prev = '\0';
    for c in t.chars() {
        if in_str {
            if c == '"' && prev != '\\' {
                in_str = false;
            }
        } else {
            match c {
                '"' => in_str = true,
                '{' | '(' | '[' | '<' => depth += 1,
                '}' | ')' | ']' | '>' => depth -= 1,
                '|' | '&' if depth == 0 => return format!("({t})"),
                _ => {}
            }
        }
        prev = if prev == '\\' && c == '\\' { '\0' } else { c };
    }
    t.to_string()
}

fn dedup_keep_order(items: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    items.retain(|i| seen.insert(i.clone()));
}

/// A JSON value as a TypeScript literal type. JSON syntax is valid TypeScript type syntax
/// for strings, numbers, booleans, null, arrays (tuples) and objects.
fn literal_type(v: &Value) -> String {
    match v {
        Value::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => "number".into(),
        _ => v.to_string(),
    }
}

fn decode_fragment(fragment: &str) -> String {
    // Percent-decoding of the URI fragment; the result is a JSON pointer.
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves a JSON pointer (`/a/b/0`, empty for the whole document).
pub(crate) fn resolve_pointer<'v>(root: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(root);
    }
    let rest = pointer.strip_prefix('/')?;
    let mut current = root;
    for raw in rest.split('/') {
        let token = raw.replace("~1", "/").replace("~0", "~");
        current = match current {
            Value::Object(m) => m.get(&token)?,
            Value::Array(a) => a.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// JSDoc lines for a schema: description, then tags for default, format, bounds, examples.
fn doc_lines(schema: &Value) -> Vec<String> {
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

fn write_jsdoc(out: &mut String, pad: &str, lines: &[String]) {
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
        };
        generate_declarations(&[sig]).text
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
        assert!(text.contains("type NsToolOutput = unknown;"));
        assert!(
            text.contains("    tool(input: NsToolInput): Promise<NsToolOutput>;"),
            "{text}"
        );
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
        };
        let b = ToolSignature {
            path: "b.x",
            description: None,
            input_schema: &s,
            output_schema: None,
        };
        assert_eq!(generate_declarations(&[a, b]).text, generate_declarations(&[b, a]).text);
    }
}
