//! Rendering one root schema (and the named types its `$ref`s reach) as TypeScript.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::jsdoc::{doc_lines, write_jsdoc};
use super::{MAX_DEPTH, NameAllocator};
use crate::ident::{pascal_case, property_key};

/// The JSDoc of the output type of a tool that declares no output schema.
pub(crate) const UNDECLARED_OUTPUT_DOC: &str = "/** Not declared by the tool: its JSON result, or its text. */";

/// Emits the type alias for one root schema (and every named type it references) and
/// returns the alias name.
pub(super) fn emit_root(
    out: &mut String,
    names: &mut NameAllocator,
    prefix: &str,
    suffix: &str,
    schema: Option<&Value>,
    learned_from: Option<u64>,
) -> String {
    let name = names.allocate(&format!("{prefix}{suffix}"));
    let Some(schema) = schema else {
        // What a program receives is the server's JSON, or its text: typed like
        // `JSON.parse`'s result, so a program reads what it expects and a wrong guess shows
        // at run time with the actual value (where a runtime repair sees it), instead of a
        // compile error no repair can answer without knowing the shape.
        let _ = writeln!(out, "{UNDECLARED_OUTPUT_DOC}\ntype {name} = any;");
        return name;
    };
    let mut ctx = RootContext {
        root: schema,
        prefix: format!("{prefix}{suffix}"),
        named: HashMap::new(),
        pending: Vec::new(),
        names,
        open: if learned_from.is_some() { "any" } else { "unknown" },
    };
    ctx.named.insert(String::new(), name.clone());
    let body = ctx.render(schema, 0, 0);
    if let Some(calls) = learned_from {
        let results = if calls == 1 { "result" } else { "results" };
        let _ = writeln!(
            out,
            "/** Learned from {calls} {results} of this tool (it declares no output schema); a result that differs widens it. */"
        );
    }
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
    /// The type of a part the schema leaves open: `unknown`, or `any` in a learned type (an
    /// observation, not a contract: what was never seen is not known to be wrong).
    open: &'static str,
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
            Value::Bool(true) => return self.open.into(),
            Value::Bool(false) => return "never".into(),
            Value::Object(map) => map,
            _ => return self.open.into(),
        };
        if depth > MAX_DEPTH {
            return self.open.into();
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
                if t != self.open {
                    parts.push(t);
                }
            }
        }
        parts.retain(|p| p != self.open);
        let body = match parts.len() {
            0 => self.open.to_string(),
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
                _ => self.open.to_string(),
            };
            members.push(rendered);
        }
        dedup_keep_order(&mut members);
        if members.iter().any(|m| m == self.open) {
            return Some(self.open.into());
        }
        Some(members.iter().map(|m| paren(m)).collect::<Vec<_>>().join(" | "))
    }

    fn render_array(&mut self, map: &Map<String, Value>, indent: usize, depth: usize) -> String {
        let open = self.open;
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
                let rest = rest_schema.map_or_else(|| open.to_string(), |s| self.render(s, indent, depth + 1));
                parts.push(format!("...{}[]", paren(&rest)));
            }
            return format!("[{}]", parts.join(", "));
        }
        let item = map
            .get("items")
            .map_or_else(|| open.to_string(), |s| self.render(s, indent, depth + 1));
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
            prop_types.push(self.open.into());
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
                    index_types.push(self.open.into());
                }
            }
        }
        if !index_types.is_empty() {
            // An index signature must admit every named property's type.
            let mut all = index_types;
            if !all.iter().any(|t| t == self.open) {
                all.extend(prop_types.iter().cloned());
                if any_optional {
                    all.push("undefined".into());
                }
            }
            dedup_keep_order(&mut all);
            let t = if all.iter().any(|t| t == self.open) {
                self.open.to_string()
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
