//! The arguments of a tool call against the tool's input schema: literal kinds, enums,
//! required and unknown properties, nested objects and arrays.

use std::collections::BTreeSet;

use oxc::ast::ast::{ArrayExpressionElement, Expression, ObjectExpression, ObjectPropertyKind};
use oxc::span::GetSpan;
use serde_json::Value;

use crate::schema::resolve_pointer;

use super::{CallVisitor, suggest};

impl CallVisitor<'_> {
    pub(super) fn check_value(
        &mut self,
        expr: &Expression<'_>,
        schema: &Value,
        root: &Value,
        name: &str,
        depth: usize,
    ) {
        if depth > 32 {
            return;
        }
        let schema = deref(schema, root);
        let Value::Object(map) = schema else { return };
        let Some(kind) = literal_kind(expr) else { return };
        // `oneOf` of `const`s is an enum (schemars writes documented enum variants so).
        let consts: Option<Vec<Value>> = map
            .get("oneOf")
            .or_else(|| map.get("anyOf"))
            .and_then(Value::as_array)
            .and_then(|branches| branches.iter().map(|b| deref(b, root).get("const").cloned()).collect());
        if let Some(values) = consts {
            if let Expression::StringLiteral(lit) = expr {
                self.check_enum(lit, &values, name);
            }
            return;
        }
        // `anyOf: [X, {type: null}]` (an optional field from schemars or pydantic): null
        // is fine, anything else is checked against X.
        if let Some(Value::Array(branches)) = map.get("anyOf").or_else(|| map.get("oneOf"))
            && map.len() <= 3
        {
            let is_null = |b: &Value| deref(b, root).get("type").and_then(Value::as_str) == Some("null");
            let others: Vec<&Value> = branches.iter().filter(|b| !is_null(b)).collect();
            if kind == "null" && others.len() < branches.len() {
                return;
            }
            if let [only] = others.as_slice()
                && others.len() < branches.len()
            {
                return self.check_value(expr, only, root, name, depth + 1);
            }
            return;
        }
        if ["anyOf", "oneOf", "allOf", "not", "if"]
            .iter()
            .any(|k| map.contains_key(*k))
        {
            return;
        }
        let mut types: Vec<&str> = match map.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if map.get("nullable").and_then(Value::as_bool) == Some(true) {
            types.push("null");
        }
        if !types.is_empty() && !types.iter().any(|t| accepts(t, kind)) {
            let expected = types.iter().map(|t| ts_name(t)).collect::<Vec<_>>().join(" | ");
            if depth == 0 {
                // The whole argument (seen: `close_issue(1)`): tsc's code for an argument.
                self.report(
                    expr.span().start,
                    "TS2345",
                    format!("Argument of type '{kind}' is not assignable to parameter of type '{expected}': {name}."),
                );
            } else {
                self.report(
                    expr.span().start,
                    "TS2322",
                    format!("Type '{kind}' is not assignable to type '{expected}' in {name}."),
                );
            }
            return;
        }
        if let (Expression::StringLiteral(s), Some(values)) = (expr, map.get("enum").and_then(Value::as_array)) {
            self.check_enum(s, values, name);
            return;
        }
        match expr {
            Expression::ObjectExpression(obj) => self.check_object(obj, map, root, name, depth),
            Expression::ArrayExpression(arr) => {
                if let Some(items) = map.get("items").filter(|i| i.is_object()) {
                    for el in &arr.elements {
                        if let ArrayExpressionElement::SpreadElement(_) | ArrayExpressionElement::Elision(_) = el {
                            continue;
                        }
                        if let Some(e) = el.as_expression() {
                            self.check_value(e, items, root, name, depth + 1);
                        }
                    }
                }
            }
            Expression::ParenthesizedExpression(p) => self.check_value(&p.expression, schema, root, name, depth),
            _ => {}
        }
    }

    /// A string literal against an enum of strings.
    fn check_enum(&mut self, s: &oxc::ast::ast::StringLiteral<'_>, values: &[Value], name: &str) {
        if !values.iter().all(Value::is_string) || values.iter().any(|v| v.as_str() == Some(s.value.as_str())) {
            return;
        }
        let allowed = values.iter().map(Value::to_string).collect::<Vec<_>>().join(" | ");
        let names: Vec<String> = values.iter().filter_map(Value::as_str).map(str::to_string).collect();
        let hint = suggest(s.value.as_str(), &names);
        // tsc says TS2820 when it can suggest a near value, TS2322 otherwise.
        let code = if hint.is_empty() { "TS2322" } else { "TS2820" };
        self.report(
            s.span.start,
            code,
            format!(
                "Type '\"{}\"' is not assignable to type '{allowed}' in {name}.{hint}",
                s.value
            ),
        );
    }

    fn check_object(
        &mut self,
        obj: &ObjectExpression<'_>,
        map: &serde_json::Map<String, Value>,
        root: &Value,
        name: &str,
        depth: usize,
    ) {
        let empty = serde_json::Map::new();
        let props = map.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let closed = match map.get("additionalProperties") {
            Some(Value::Bool(false)) => !map.contains_key("patternProperties"),
            None => !props.is_empty() && !map.contains_key("patternProperties"),
            _ => false,
        };
        let mut present = BTreeSet::new();
        let mut has_spread = false;
        for prop in &obj.properties {
            match prop {
                ObjectPropertyKind::SpreadProperty(_) => has_spread = true,
                ObjectPropertyKind::ObjectProperty(p) => {
                    let Some(key) = p.key.static_name() else {
                        has_spread = true;
                        continue;
                    };
                    let key = key.to_string();
                    match props.get(&key) {
                        Some(prop_schema) => self.check_value(&p.value, prop_schema, root, name, depth + 1),
                        None if closed => {
                            let known: Vec<String> = props.keys().cloned().collect();
                            let hint = match suggest(&key, &known) {
                                none if none.is_empty() => format!(" Its properties: {}.", known.join(", ")),
                                some => some,
                            };
                            self.report(
                                p.key.span().start,
                                "TS2353",
                                format!("Object literal may only specify known properties, and '{key}' does not exist in {name}.{hint}"),
                            );
                        }
                        None => {}
                    }
                    present.insert(key);
                }
            }
        }
        if has_spread {
            return;
        }
        let object_schema = Value::Object(map.clone());
        let missing: Vec<&str> = required(&object_schema, root)
            .filter(|r| !present.contains(*r))
            .collect();
        for r in missing {
            self.report(
                obj.span.start,
                "TS2741",
                format!("Property '{r}' is missing but required in {name}."),
            );
        }
    }
}

fn literal_kind(expr: &Expression<'_>) -> Option<&'static str> {
    Some(match expr {
        Expression::StringLiteral(_) | Expression::TemplateLiteral(_) => "string",
        Expression::NumericLiteral(_) => "number",
        Expression::BooleanLiteral(_) => "boolean",
        Expression::NullLiteral(_) => "null",
        Expression::ArrayExpression(_) => "array",
        Expression::ObjectExpression(_) => "object",
        Expression::ParenthesizedExpression(p) => return literal_kind(&p.expression),
        _ => return None,
    })
}

fn accepts(schema_type: &str, kind: &str) -> bool {
    match schema_type {
        "integer" | "int" | "float" | "number" => kind == "number",
        "object" | "dict" | "map" => kind == "object",
        "array" | "list" => kind == "array",
        "str" => kind == "string",
        "bool" => kind == "boolean",
        t => t == kind,
    }
}

pub(super) fn deref<'v>(schema: &'v Value, root: &'v Value) -> &'v Value {
    let mut current = schema;
    for _ in 0..8 {
        let Some(r) = current.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(pointer) = r.strip_prefix('#') else { break };
        match resolve_pointer(root, pointer) {
            Some(next) => current = next,
            None => break,
        }
    }
    current
}

pub(super) fn required<'v>(schema: &'v Value, root: &'v Value) -> impl Iterator<Item = &'v str> {
    deref(schema, root)
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn ts_name(t: &str) -> &str {
    match t {
        "integer" | "int" | "float" => "number",
        "dict" | "map" => "object",
        "list" => "array",
        "str" => "string",
        "bool" => "boolean",
        other => other,
    }
}
