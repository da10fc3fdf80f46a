//! The built-in checker: what matters most when TypeScript 7 is not installed.
//!
//! It reports syntax errors, calls to tool paths that do not exist, and, for object-literal
//! arguments, unknown properties, missing required properties and literal values of the
//! wrong type; positional arguments; a tool's result used as what it is not (`results.rs`:
//! an object iterated or mapped as a list, a property its declared output lacks,
//! a Promise used without `await`). Codes follow `tsc` (`TS2339`, `TS2353`, `TS2741`,
//! `TS2322`, `TS2345`, `TS2554`, `TS2488`, `TS2820`, `TS7053`) so a model sees the same kind of
//! feedback from either checker.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oxc::allocator::Allocator;
use oxc::ast::ast::{
    Argument, ArrayExpressionElement, CallExpression, ComputedMemberExpression, Expression, ForOfStatement,
    ObjectExpression, ObjectPropertyKind, StaticMemberExpression, VariableDeclaration, VariableDeclarationKind,
};
use oxc::ast_visit::{Visit, walk};
use oxc::span::GetSpan;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, LineIndex};
use crate::program::{parse, syntax_diagnostics};
use crate::schema::{ToolSignature, resolve_pointer};

mod results;
mod scope;

/// Name of the checker in reports.
pub const BUILTIN_CHECKER_NAME: &str = "builtin (oxc)";

/// Checks programs against a set of tools without TypeScript installed.
#[derive(Debug, Clone, Default)]
pub struct BuiltinChecker {
    tools: BTreeMap<String, Value>,
    /// Output schemas, for the tools that declare one.
    outputs: BTreeMap<String, Value>,
    namespaces: BTreeSet<String>,
}

impl BuiltinChecker {
    /// A checker that knows `tools` (their paths and input schemas).
    pub fn new(tools: &[ToolSignature<'_>]) -> Self {
        let mut namespaces = BTreeSet::new();
        let mut map = BTreeMap::new();
        let mut outputs = BTreeMap::new();
        for t in tools {
            let mut prefix = String::new();
            let segments: Vec<&str> = t.path.split('.').collect();
            for seg in &segments[..segments.len().saturating_sub(1)] {
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(seg);
                namespaces.insert(prefix.clone());
            }
            map.insert(t.path.to_string(), t.input_schema.clone());
            if let Some(output) = t.output_schema {
                outputs.insert(t.path.to_string(), output.clone());
            }
        }
        Self {
            tools: map,
            outputs,
            namespaces,
        }
    }

    /// All diagnostics for `source` (a program body), in source order.
    pub fn check(&self, source: &str) -> Vec<Diagnostic> {
        let allocator = Allocator::default();
        let ret = parse(&allocator, source);
        let mut diagnostics = syntax_diagnostics(&ret, source);
        if ret.panicked {
            return diagnostics;
        }
        let mut visitor = CallVisitor {
            checker: self,
            source,
            index: LineIndex::new(source),
            out: Vec::new(),
            results: HashMap::new(),
            promises: HashMap::new(),
        };
        visitor.visit_program(&ret.program);
        diagnostics.extend(visitor.out);
        diagnostics.extend(scope::check_names(&ret.program, source, &LineIndex::new(source)));
        diagnostics.sort_by_key(|d| (d.line, d.column));
        diagnostics.dedup();
        diagnostics
    }

    fn children(&self, prefix: &str) -> Vec<String> {
        let depth = if prefix.is_empty() {
            0
        } else {
            prefix.split('.').count()
        };
        self.tools
            .keys()
            .chain(self.namespaces.iter())
            .filter(|p| prefix.is_empty() || p.starts_with(&format!("{prefix}.")))
            .filter_map(|p| p.split('.').nth(depth).map(str::to_string))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

struct CallVisitor<'c> {
    checker: &'c BuiltinChecker,
    source: &'c str,
    index: LineIndex,
    out: Vec<Diagnostic>,
    /// `const` names bound to `await tools.x.y(...)`, with the tool's path.
    results: HashMap<String, String>,
    /// `const` names bound to `tools.x.y(...)` without `await`: a Promise.
    promises: HashMap<String, String>,
}

/// Whether byte `offset` of `source` (a program body) lies in the arguments of a call of a
/// tool (`tools.a.b(...)`).
pub(crate) fn in_tool_arguments(source: &str, offset: usize) -> bool {
    struct Finder {
        offset: u32,
        found: bool,
    }
    impl<'a> Visit<'a> for Finder {
        fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
            if tool_chain(&it.callee).is_some_and(|chain| !chain.is_empty())
                && it
                    .arguments
                    .iter()
                    .any(|a| a.span().start <= self.offset && self.offset < a.span().end)
            {
                self.found = true;
            }
            walk::walk_call_expression(self, it);
        }
    }
    let allocator = Allocator::default();
    let ret = parse(&allocator, source);
    let mut finder = Finder {
        offset: u32::try_from(offset).unwrap_or(u32::MAX),
        found: false,
    };
    finder.visit_program(&ret.program);
    finder.found
}

/// `tools.a.b` as segments with the byte offset of each segment.
pub(crate) fn tool_chain(expr: &Expression<'_>) -> Option<Vec<(String, u32)>> {
    match expr {
        Expression::Identifier(id) if id.name == "tools" => Some(Vec::new()),
        Expression::StaticMemberExpression(m) => {
            let mut chain = tool_chain(&m.object)?;
            chain.push((m.property.name.to_string(), m.property.span.start));
            Some(chain)
        }
        Expression::ComputedMemberExpression(m) => {
            let Expression::StringLiteral(s) = &m.expression else {
                return None;
            };
            let mut chain = tool_chain(&m.object)?;
            chain.push((s.value.to_string(), s.span.start));
            Some(chain)
        }
        Expression::ParenthesizedExpression(p) => tool_chain(&p.expression),
        _ => None,
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

impl CallVisitor<'_> {
    fn report(&mut self, offset: u32, code: &str, message: String) {
        let (line, column) = self.index.position(self.source, offset as usize);
        self.out.push(Diagnostic::error(line, column, code, message));
    }

    fn check_call(&mut self, call: &CallExpression<'_>) {
        let Some(chain) = tool_chain(&call.callee) else { return };
        if chain.is_empty() {
            return;
        }
        let mut prefix = String::new();
        for (seg, offset) in &chain {
            let candidate = if prefix.is_empty() {
                seg.clone()
            } else {
                format!("{prefix}.{seg}")
            };
            if !self.checker.tools.contains_key(&candidate) && !self.checker.namespaces.contains(&candidate) {
                let owner = if prefix.is_empty() {
                    "tools".to_string()
                } else {
                    format!("tools.{prefix}")
                };
                let hint = suggest(seg, &self.checker.children(&prefix));
                self.report(
                    *offset,
                    "TS2339",
                    format!("Property '{seg}' does not exist on '{owner}'.{hint}"),
                );
                return;
            }
            prefix = candidate;
        }
        let Some(schema) = self.checker.tools.get(&prefix) else {
            self.report(
                call.span.start,
                "TS2349",
                format!("'tools.{prefix}' is a namespace, not a tool; call one of its members."),
            );
            return;
        };
        let name = format!("the input of tools.{prefix}");
        // Positional arguments (seen: `send_message(channel.name, 'text')` from a small
        // model): a tool takes one object.
        if let Some(extra) = call.arguments.get(1) {
            let expected = if required(schema, schema).next().is_some() {
                "1"
            } else {
                "0-1"
            };
            self.report(
                extra.span().start,
                "TS2554",
                format!(
                    "Expected {expected} arguments, but got {}: tools.{prefix} takes one object, {name}.",
                    call.arguments.len()
                ),
            );
            // As tsc: a call with the wrong number of arguments gets that one error.
            return;
        }
        match call.arguments.first() {
            None => {
                if required(schema, schema).next().is_some() {
                    self.report(
                        call.span.start,
                        "TS2554",
                        format!("Expected 1 argument, but got 0: tools.{prefix} takes {name}."),
                    );
                }
            }
            Some(Argument::SpreadElement(_)) => {}
            Some(arg) => {
                let Some(expr) = arg.as_expression() else { return };
                if crate::schema::takes_no_arguments(schema)
                    && let Expression::ObjectExpression(obj) = expr.without_parentheses()
                    && let Some((at, key)) = obj.properties.iter().find_map(|p| match p {
                        ObjectPropertyKind::ObjectProperty(p) => {
                            Some((p.key.span().start, p.key.static_name().unwrap_or_default().to_string()))
                        }
                        ObjectPropertyKind::SpreadProperty(_) => None,
                    })
                {
                    // tsc's code for the same mistake (its input is `Record<string, never>`),
                    // so this explains tsc's "not assignable to type 'never'" as a hint.
                    self.report(
                        at,
                        "TS2322",
                        format!("'{key}' is not an argument of tools.{prefix}: it takes no arguments; call it as `tools.{prefix}()`."),
                    );
                    return;
                }
                self.check_value(expr, schema, schema, &name, 0);
            }
        }
    }

    fn check_value(&mut self, expr: &Expression<'_>, schema: &Value, root: &Value, name: &str, depth: usize) {
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

impl<'a> Visit<'a> for CallVisitor<'_> {
    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        self.check_call(it);
        walk::walk_call_expression(self, it);
    }

    fn visit_variable_declaration(&mut self, it: &VariableDeclaration<'a>) {
        if it.kind == VariableDeclarationKind::Const {
            for d in &it.declarations {
                self.bind(d);
            }
        }
        walk::walk_variable_declaration(self, it);
    }

    fn visit_for_of_statement(&mut self, it: &ForOfStatement<'a>) {
        self.check_iterated(&it.right);
        walk::walk_for_of_statement(self, it);
    }

    fn visit_static_member_expression(&mut self, it: &StaticMemberExpression<'a>) {
        self.check_property(&it.object, it.property.name.as_str(), it.property.span.start);
        walk::walk_static_member_expression(self, it);
    }

    fn visit_computed_member_expression(&mut self, it: &ComputedMemberExpression<'a>) {
        self.check_index(&it.object);
        walk::walk_computed_member_expression(self, it);
    }
}

fn deref<'v>(schema: &'v Value, root: &'v Value) -> &'v Value {
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

fn required<'v>(schema: &'v Value, root: &'v Value) -> impl Iterator<Item = &'v str> {
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

/// ` Did you mean 'x'?` for the closest candidate, or an empty string.
fn suggest(name: &str, candidates: &[String]) -> String {
    let limit = (name.len() / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| format!(" Did you mean '{c}'?"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
