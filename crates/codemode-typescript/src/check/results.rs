//! A tool's result used as what it is not: the object a tool returns taken for the list
//! inside it (iterated with `for...of`, or `.map`/`.filter`/... called on it). Seen in real
//! runs: `const channels = await tools.workspace.list_channels(); for (const c of channels)`.

use oxc::ast::ast::Expression;
use serde_json::Value;

use super::{CallVisitor, deref, tool_chain};

/// Array methods a model calls on what it takes for a list.
pub(super) const ARRAY_METHODS: &[&str] = &[
    "map", "filter", "forEach", "find", "some", "every", "reduce", "flatMap", "slice", "includes", "indexOf", "join",
];

impl CallVisitor<'_> {
    /// The tool path when `expr` is `await tools.x.y(...)` of a known tool.
    pub(super) fn awaited_tool(&self, expr: &Expression<'_>) -> Option<String> {
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
    pub(super) fn result_of(&self, expr: &Expression<'_>) -> Option<String> {
        match expr.without_parentheses() {
            Expression::Identifier(id) => self.results.get(id.name.as_str()).cloned(),
            other => self.awaited_tool(other),
        }
    }

    /// The array properties of a tool's declared output, when that output is an object.
    pub(super) fn object_result(&self, path: &str) -> Option<Vec<String>> {
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
    pub(super) fn declares(&self, path: &str, name: &str) -> bool {
        self.checker.outputs.get(path).is_some_and(|schema| {
            deref(schema, schema)
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| p.contains_key(name))
        })
    }
}

pub(super) fn where_the_list_is(lists: &[String]) -> String {
    match lists {
        [] => String::new(),
        [one] => format!(" Its list is the property '{one}': `const {{ {one} }} = await ...`."),
        many => format!(" Its lists are the properties {}.", many.join(", ")),
    }
}
