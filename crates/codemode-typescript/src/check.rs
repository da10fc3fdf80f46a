//! The built-in checker: what matters most when TypeScript 7 is not installed.
//!
//! It reports syntax errors, calls to tool paths that do not exist, and, for object-literal
//! arguments, unknown properties, missing required properties and literal values of the
//! wrong type; positional arguments; and a tool's object result used as an array (iterated
//! with `for...of`, or `.map`/`.filter`/... on a `const` that holds it). Codes follow `tsc`
//! (`TS2339`, `TS2353`, `TS2741`, `TS2322`, `TS2554`, `TS2488`) so a model sees the same kind
//! of feedback from either checker.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oxc::allocator::Allocator;
use oxc::ast::ast::{
    Argument, ArrayExpressionElement, BindingPattern, CallExpression, Expression, ForOfStatement, ObjectExpression,
    ObjectPropertyKind, StaticMemberExpression, VariableDeclaration, VariableDeclarationKind,
};
use oxc::ast_visit::{Visit, walk};
use oxc::span::GetSpan;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, LineIndex};
use crate::program::{parse, syntax_diagnostics};
use crate::schema::{ToolSignature, resolve_pointer};

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
        };
        visitor.visit_program(&ret.program);
        diagnostics.extend(visitor.out);
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
}

/// Array methods a model calls on what it takes for a list.
const ARRAY_METHODS: &[&str] = &[
    "map", "filter", "forEach", "find", "some", "every", "reduce", "flatMap", "slice", "includes", "indexOf", "join",
];

/// `tools.a.b` as segments with the byte offset of each segment.
fn tool_chain(expr: &Expression<'_>) -> Option<Vec<(String, u32)>> {
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
                if let Some(expr) = arg.as_expression() {
                    self.check_value(expr, schema, schema, &name, 0);
                }
            }
        }
    }

    fn check_value(&mut self, expr: &Expression<'_>, schema: &Value, root: &Value, name: &str, depth: usize) {
        if depth > 32 {
            return;
        }
        let schema = deref(schema, root);
        let Value::Object(map) = schema else { return };
        if ["anyOf", "oneOf", "allOf", "not", "if"]
            .iter()
            .any(|k| map.contains_key(*k))
        {
            return;
        }
        let Some(kind) = literal_kind(expr) else { return };
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
            self.report(
                expr.span().start,
                "TS2322",
                format!("Type '{kind}' is not assignable to type '{expected}' in {name}."),
            );
            return;
        }
        if let (Expression::StringLiteral(s), Some(values)) = (expr, map.get("enum").and_then(Value::as_array))
            && values.iter().all(Value::is_string)
            && !values.iter().any(|v| v.as_str() == Some(s.value.as_str()))
        {
            let allowed = values.iter().map(Value::to_string).collect::<Vec<_>>().join(" | ");
            self.report(
                s.span.start,
                "TS2322",
                format!(
                    "Type '\"{}\"' is not assignable to type '{allowed}' in {name}.",
                    s.value
                ),
            );
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
                            let hint = suggest(&key, &known);
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

impl CallVisitor<'_> {
    /// The tool path when `expr` is `await tools.x.y(...)` of a known tool.
    fn awaited_tool(&self, expr: &Expression<'_>) -> Option<String> {
        let Expression::AwaitExpression(awaited) = expr.without_parentheses() else {
            return None;
        };
        let Expression::CallExpression(call) = awaited.argument.without_parentheses() else {
            return None;
        };
        let path: Vec<String> = tool_chain(&call.callee)?.into_iter().map(|(s, _)| s).collect();
        let path = path.join(".");
        self.checker.tools.contains_key(&path).then_some(path)
    }

    /// The tool whose result `expr` is: `await tools.x.y(...)` or a `const` holding one.
    fn result_of(&self, expr: &Expression<'_>) -> Option<String> {
        match expr.without_parentheses() {
            Expression::Identifier(id) => self.results.get(id.name.as_str()).cloned(),
            other => self.awaited_tool(other),
        }
    }

    /// The array properties of a tool's declared output, when that output is an object.
    fn object_result(&self, path: &str) -> Option<Vec<String>> {
        let schema = self.checker.outputs.get(path)?;
        let output = deref(schema, schema);
        if output.get("type").and_then(Value::as_str) != Some("object") {
            return None;
        }
        let lists = output
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .filter(|(_, v)| deref(v, schema).get("type").and_then(Value::as_str) == Some("array"))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        Some(lists)
    }
}

impl CallVisitor<'_> {
    /// True when the tool's declared output has the property `name`.
    fn declares(&self, path: &str, name: &str) -> bool {
        self.checker.outputs.get(path).is_some_and(|schema| {
            deref(schema, schema)
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| p.contains_key(name))
        })
    }
}

fn where_the_list_is(lists: &[String]) -> String {
    match lists {
        [] => String::new(),
        [one] => format!(" Its list is the property '{one}': `const {{ {one} }} = await ...`."),
        many => format!(" Its lists are the properties {}.", many.join(", ")),
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
                if let (BindingPattern::BindingIdentifier(id), Some(init)) = (&d.id, &d.init)
                    && let Some(path) = self.awaited_tool(init)
                {
                    self.results.insert(id.name.to_string(), path);
                }
            }
        }
        walk::walk_variable_declaration(self, it);
    }

    fn visit_for_of_statement(&mut self, it: &ForOfStatement<'a>) {
        if let Some(path) = self.result_of(&it.right)
            && let Some(lists) = self.object_result(&path)
        {
            self.report(
                it.right.span().start,
                "TS2488",
                format!(
                    "The result of tools.{path} is an object: it must have a '[Symbol.iterator]()' method to be iterated.{}",
                    where_the_list_is(&lists)
                ),
            );
        }
        walk::walk_for_of_statement(self, it);
    }

    fn visit_static_member_expression(&mut self, it: &StaticMemberExpression<'a>) {
        let method = it.property.name.as_str();
        if ARRAY_METHODS.contains(&method)
            && let Some(path) = self.result_of(&it.object)
            && let Some(lists) = self.object_result(&path)
            && !self.declares(&path, method)
        {
            self.report(
                it.property.span.start,
                "TS2339",
                format!(
                    "Property '{method}' does not exist on the result of tools.{path}, an object.{}",
                    where_the_list_is(&lists)
                ),
            );
        }
        walk::walk_static_member_expression(self, it);
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
mod tests {
    use super::*;
    use serde_json::json;

    fn checker() -> BuiltinChecker {
        static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
        let schema = SCHEMA.get_or_init(|| {
            json!({
                "type": "object",
                "properties": {
                    "channel": {"type": "string"},
                    "count": {"type": "integer"},
                    "mode": {"enum": ["fast", "slow"]},
                    "meta": {"type": "object", "properties": {"tag": {"type": "string"}}, "additionalProperties": false}
                },
                "required": ["channel"]
            })
        });
        BuiltinChecker::new(&[ToolSignature {
            path: "chat.send_message",
            description: None,
            input_schema: schema,
            output_schema: None,
        }])
    }

    fn codes(src: &str) -> Vec<(u32, u32, String)> {
        checker()
            .check(src)
            .into_iter()
            .map(|d| (d.line, d.column, d.code))
            .collect()
    }

    #[test]
    fn accepts_valid_calls() {
        assert!(
            codes("const r = await tools.chat.send_message({ channel: 'x', count: 2, mode: 'fast' });\nreturn r;")
                .is_empty()
        );
        assert!(codes("const c = 'x';\nawait tools.chat.send_message({ channel: c, ...{} });").is_empty());
    }

    #[test]
    fn misspelled_tool_and_namespace() {
        let d = checker().check("await tools.chat.send_mesage({ channel: 'x' });");
        assert_eq!(d[0].code, "TS2339");
        assert_eq!((d[0].line, d[0].column), (1, 18));
        assert!(
            d[0].message.contains("Did you mean 'send_message'?"),
            "{}",
            d[0].message
        );
        assert_eq!(codes("await tools.caht.send_message({ channel: 'x' });")[0].2, "TS2339");
    }

    #[test]
    fn bad_properties_and_values() {
        assert_eq!(
            codes("\nawait tools.chat.send_message({ chanel: 'x' });"),
            vec![(2, 31, "TS2741".to_string()), (2, 33, "TS2353".to_string()),]
        );
        assert_eq!(codes("await tools.chat.send_message({ channel: 1 });")[0].2, "TS2322");
        assert_eq!(
            codes("await tools.chat.send_message({ channel: 'x', mode: 'medium' });")[0].2,
            "TS2322"
        );
        assert_eq!(
            codes("await tools.chat.send_message({ channel: 'x', meta: { tga: 'a' } });")[0].2,
            "TS2353"
        );
        assert_eq!(codes("await tools.chat.send_message();")[0].2, "TS2554");
        // Positional arguments, as a small model wrote them for the seed query.
        let positional = codes("const c = { name: 'x' };\nawait tools.chat.send_message(c.name, 'hello');");
        assert_eq!(positional, vec![(2, 39, "TS2554".to_string())]);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(codes("const x = ;")[0].2, "SYNTAX");
    }

    /// The program Qwen2.5-Coder-1.5B wrote for the seed query
    /// (`shared/data/real-model-transcripts/seed-query-run1`), verbatim. TypeScript 7 reports
    /// TS2488 at 2:23 and TS2554 at 4:58 and 7:54; so must the built-in checker.
    #[test]
    fn the_seed_query_run1_program_fails_as_with_tsc() {
        let object = json!({"type": "object"});
        let channels = json!({
            "type": "object",
            "properties": {"channels": {"type": "array", "items": {"$ref": "#/$defs/Channel"}}},
            "required": ["channels"],
            "$defs": {"Channel": {"type": "object", "properties": {"name": {"type": "string"}}}}
        });
        let tool = |path| ToolSignature {
            path,
            description: None,
            input_schema: &object,
            output_schema: None,
        };
        let checker = BuiltinChecker::new(&[
            ToolSignature {
                output_schema: Some(&channels),
                ..tool("workspace.list_channels")
            },
            tool("workspace.comment_on_issue"),
            tool("workspace.add_reaction"),
        ]);
        let run1 = "const channels = await tools.workspace.list_channels();\nfor (const channel of channels) {\n  if (channel.name.startsWith('test')) {\n    await tools.workspace.comment_on_issue(channel.name, 'This is a test message!');\n  }\n  if (channel.name.startsWith('e')) {\n    await tools.workspace.add_reaction(channel.name, '👍');\n  }\n}\nreturn { success: true };";
        let found: Vec<(u32, u32, String)> = checker
            .check(run1)
            .into_iter()
            .map(|d| (d.line, d.column, d.code))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, 23, "TS2488".to_string()),
                (4, 58, "TS2554".to_string()),
                (7, 54, "TS2554".to_string())
            ]
        );
        let message = &checker.check(run1)[0].message;
        assert!(message.contains("property 'channels'"), "{message}");
        // `.filter` on the object, as in another real run; destructured, all is well.
        let filtered = checker
            .check("const channels = await tools.workspace.list_channels({});\nreturn channels.filter((c) => c);");
        assert_eq!(filtered[0].code, "TS2339", "{filtered:?}");
        assert!(checker
            .check("const { channels } = await tools.workspace.list_channels({});\nfor (const c of channels) {}\nreturn channels.map((c) => c.name);")
            .is_empty());
    }
}
