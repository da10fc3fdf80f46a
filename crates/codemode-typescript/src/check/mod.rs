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
    Argument, CallExpression, ComputedMemberExpression, Expression, ForOfStatement, ObjectPropertyKind,
    StaticMemberExpression, VariableDeclaration, VariableDeclarationKind,
};
use oxc::ast_visit::{Visit, walk};
use oxc::span::GetSpan;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, LineIndex};
use crate::program::{parse, syntax_diagnostics};
use crate::schema::ToolSignature;

use self::arguments::required;

mod arguments;
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
