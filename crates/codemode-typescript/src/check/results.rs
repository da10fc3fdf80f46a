//! A tool's result used as what it is not, the mistakes small models make most (seen in real
//! runs):
//! - the object a tool returns taken for the list inside it: iterated with `for...of`, or
//!   `.map`/`.filter`/... called on it (`const channels = await tools.ws.list_channels();`);
//! - a property the declared output does not have (`TS2339`), read or destructured;
//! - the Promise of a call without `await` used as its value (`tools.ws.list_inbox({})[0]`).

use oxc::ast::ast::{BindingPattern, Expression, PropertyKey, VariableDeclarator};
use serde_json::Value;

use super::arguments::deref;
use super::{CallVisitor, tool_chain};

/// Array methods (and `length`) a model uses on what it takes for a list.
const ARRAY_METHODS: &[&str] = &[
    "map", "filter", "forEach", "find", "some", "every", "reduce", "flatMap", "slice", "includes", "indexOf", "join",
    "length",
];

/// What a Promise has: using these on one is right.
const PROMISE_METHODS: &[&str] = &["then", "catch", "finally"];

/// A tool's declared output, as far as these rules need it.
struct Output {
    /// Its named properties, when it is an object (empty otherwise).
    properties: Vec<String>,
    /// The properties that are arrays.
    lists: Vec<String>,
    /// An object without an index signature: other properties do not exist.
    closed: bool,
}

impl CallVisitor<'_> {
    /// The tool path when `expr` is a call `tools.x.y(...)` of a known tool.
    fn tool_call(&self, expr: &Expression<'_>) -> Option<String> {
        let Expression::CallExpression(call) = expr.without_parentheses() else {
            return None;
        };
        let path: Vec<String> = tool_chain(&call.callee)?.into_iter().map(|(s, _)| s).collect();
        let path = path.join(".");
        self.checker.tools.contains_key(&path).then_some(path)
    }

    /// The tool path when `expr` is `await tools.x.y(...)` of a known tool.
    fn awaited_tool(&self, expr: &Expression<'_>) -> Option<String> {
        match expr.without_parentheses() {
            Expression::AwaitExpression(awaited) => self.tool_call(&awaited.argument),
            _ => None,
        }
    }

    /// The tool whose result `expr` is: `await tools.x.y(...)` or a `const` holding one.
    fn result_of(&self, expr: &Expression<'_>) -> Option<String> {
        match expr.without_parentheses() {
            Expression::Identifier(id) => self.results.get(id.name.as_str()).cloned(),
            other => self.awaited_tool(other),
        }
    }

    /// The tool whose Promise `expr` is: a call without `await`, or a `const` holding one.
    fn promise_of(&self, expr: &Expression<'_>) -> Option<String> {
        match expr.without_parentheses() {
            Expression::Identifier(id) => self.promises.get(id.name.as_str()).cloned(),
            other => self.tool_call(other),
        }
    }

    /// The declared output of a tool, when it is an object.
    fn object_output(&self, path: &str) -> Option<Output> {
        let schema = self.checker.outputs.get(path)?;
        let output = deref(schema, schema);
        if output.get("type").and_then(Value::as_str) != Some("object") {
            return None;
        }
        let props = output.get("properties").and_then(Value::as_object);
        let mut properties: Vec<String> = props.map(|p| p.keys().cloned().collect()).unwrap_or_default();
        if let Some(required) = output.get("required").and_then(Value::as_array) {
            properties.extend(required.iter().filter_map(Value::as_str).map(str::to_string));
        }
        properties.sort();
        properties.dedup();
        let lists = props
            .map(|p| {
                p.iter()
                    .filter(|(_, v)| deref(v, schema).get("type").and_then(Value::as_str) == Some("array"))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        // Mirrors the declarations: an index signature comes from `patternProperties` or an
        // `additionalProperties` schema, or stands in for an object with no properties.
        let open = output.get("patternProperties").is_some()
            || output.get("additionalProperties").is_some_and(Value::is_object)
            || properties.is_empty();
        Some(Output {
            properties,
            lists,
            closed: !open,
        })
    }

    /// Remembers what a `const` holds; checks the names it destructures from a result.
    pub(super) fn bind(&mut self, declarator: &VariableDeclarator<'_>) {
        let Some(init) = &declarator.init else { return };
        match &declarator.id {
            BindingPattern::BindingIdentifier(id) => {
                if let Some(path) = self.awaited_tool(init) {
                    self.results.insert(id.name.to_string(), path);
                } else if let Some(path) = self.tool_call(init) {
                    self.promises.insert(id.name.to_string(), path);
                }
            }
            BindingPattern::ObjectPattern(pattern) => {
                if let Some(path) = self.promise_of(init) {
                    // `const { emails } = tools.x.list_inbox({})`: destructuring the Promise.
                    for property in &pattern.properties {
                        if let PropertyKey::StaticIdentifier(key) = &property.key
                            && !PROMISE_METHODS.contains(&key.name.as_str())
                        {
                            self.report(
                                key.span.start,
                                "TS2339",
                                format!(
                                    "Property '{}' does not exist on type 'Promise' (the call of tools.{path}, not awaited). Did you forget to use 'await'?",
                                    key.name
                                ),
                            );
                        }
                    }
                    return;
                }
                let Some(path) = self.result_of(init) else { return };
                let Some(output) = self.object_output(&path).filter(|o| o.closed) else {
                    return;
                };
                for property in &pattern.properties {
                    if let PropertyKey::StaticIdentifier(key) = &property.key
                        && !output.properties.iter().any(|p| p == key.name.as_str())
                    {
                        self.report(
                            key.span.start,
                            "TS2339",
                            format!(
                                "Property '{}' does not exist on the result of tools.{path}. Its properties: {}.",
                                key.name,
                                output.properties.join(", ")
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// `for (... of value)`: a tool's object result, or a Promise, is not iterable.
    pub(super) fn check_iterated(&mut self, value: &Expression<'_>) {
        use oxc::span::GetSpan;
        let at = value.span().start;
        if let Some(path) = self.promise_of(value) {
            self.report(
                at,
                "TS2488",
                format!(
                    "Type 'Promise' (the call of tools.{path}, not awaited) must have a '[Symbol.iterator]()' method to be iterated. Did you forget to use 'await'?"
                ),
            );
        } else if let Some(path) = self.result_of(value)
            && let Some(output) = self.object_output(&path)
        {
            self.report(
                at,
                "TS2488",
                format!(
                    "The result of tools.{path} is an object: it must have a '[Symbol.iterator]()' method to be iterated.{}",
                    where_the_list_is(&output.lists, value, &path)
                ),
            );
        }
    }

    /// `value.name`: a property of a Promise, an array method on an object result, or a
    /// property the declared output does not have.
    pub(super) fn check_property(&mut self, value: &Expression<'_>, name: &str, at: u32) {
        if let Some(path) = self.promise_of(value) {
            if !PROMISE_METHODS.contains(&name) {
                // TypeScript 7 says TS2339 here (TS2570 only in some older contexts).
                self.report(
                    at,
                    "TS2339",
                    format!(
                        "Property '{name}' does not exist on type 'Promise' (the call of tools.{path}, not awaited). Did you forget to use 'await'?"
                    ),
                );
            }
            return;
        }
        let Some(path) = self.result_of(value) else { return };
        let Some(output) = self.object_output(&path) else {
            return;
        };
        if output.properties.iter().any(|p| p == name) {
            return;
        }
        if ARRAY_METHODS.contains(&name) {
            self.report(
                at,
                "TS2339",
                format!(
                    "Property '{name}' does not exist on the result of tools.{path}, an object.{}",
                    where_the_list_is(&output.lists, value, &path)
                ),
            );
        } else if output.closed {
            self.report(
                at,
                "TS2339",
                format!(
                    "Property '{name}' does not exist on the result of tools.{path}. Its properties: {}.",
                    output.properties.join(", ")
                ),
            );
        }
    }

    /// `value[i]`: a Promise cannot be indexed.
    pub(super) fn check_index(&mut self, value: &Expression<'_>) {
        use oxc::span::GetSpan;
        if let Some(path) = self.promise_of(value) {
            self.report(
                value.span().end,
                "TS7053",
                format!(
                    "A 'Promise' (the call of tools.{path}, not awaited) cannot be indexed. Did you forget to use 'await'?"
                ),
            );
        }
    }
}

/// Where the list in a tool's object result is, as the line to write: a small model copies a
/// whole line (`const { emails: inbox } = await tools.workspace.list_inbox(...)`) where it
/// did not act on "its list is the property 'emails'" (seen through four repairs).
fn where_the_list_is(lists: &[String], value: &Expression<'_>, path: &str) -> String {
    let variable = match value {
        Expression::Identifier(id) => Some(id.name.as_str()),
        _ => None,
    };
    match (lists, variable) {
        ([], _) => String::new(),
        ([one], Some(v)) if v == one => format!(
            " Its list is the property '{one}': declare `{v}` as `const {{ {one} }} = await tools.{path}(...)`."
        ),
        ([one], Some(v)) => format!(
            " Its list is the property '{one}': declare `{v}` as `const {{ {one}: {v} }} = await tools.{path}(...)`."
        ),
        ([one], None) => format!(" Its list is the property '{one}': `const {{ {one} }} = await tools.{path}(...)`."),
        (many, _) => format!(" Its lists are the properties {}.", many.join(", ")),
    }
}
