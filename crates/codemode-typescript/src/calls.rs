//! The tools a program calls: every `tools.a.b(...)` (or `tools["a"]["b"](...)`) call in its
//! text, found by parsing, whatever the declarations say. The check step uses it to find
//! calls of tools the filter left out.

use oxc::allocator::Allocator;
use oxc::ast::ast::CallExpression;
use oxc::ast_visit::{Visit, walk};

use crate::check::tool_chain;
use crate::diagnostic::LineIndex;
use crate::program::parse;

/// One call of a tool in a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallSite {
    /// The called path without `tools.`: `github.search_repositories`.
    pub path: String,
    /// 1-based line of the callee's first segment.
    pub line: u32,
    /// 1-based column of the callee's first segment.
    pub column: u32,
}

/// The tool calls of `source` (a program body), in the order they appear; a path called
/// twice is listed twice. A program that does not parse yields the calls its parser
/// recovered (none when it gave up).
///
/// ```
/// use codemode_typescript::tool_calls;
///
/// let calls = tool_calls("const r = await tools.git.log({});\nawait tools['web']['fetch-url']({ url: r });");
/// let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
/// assert_eq!(paths, ["git.log", "web.fetch-url"]);
/// assert_eq!((calls[1].line, calls[1].column), (2, 13));
/// ```
pub fn tool_calls(source: &str) -> Vec<ToolCallSite> {
    struct Finder<'s> {
        source: &'s str,
        index: LineIndex,
        found: Vec<ToolCallSite>,
    }
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
            if let Some(chain) = tool_chain(&it.callee)
                && let Some((_, offset)) = chain.first()
            {
                let (line, column) = self.index.position(self.source, *offset as usize);
                let path = chain
                    .iter()
                    .map(|(segment, _)| segment.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                self.found.push(ToolCallSite { path, line, column });
            }
            walk::walk_call_expression(self, it);
        }
    }
    let allocator = Allocator::default();
    let ret = parse(&allocator, source);
    let mut finder = Finder {
        source,
        index: LineIndex::new(source),
        found: Vec::new(),
    };
    finder.visit_program(&ret.program);
    finder.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(source: &str) -> Vec<String> {
        tool_calls(source).into_iter().map(|c| c.path).collect()
    }

    #[test]
    fn calls_inside_functions_loops_and_arguments_are_found() {
        let source = "async function main() {\n  for (const f of await tools.fs.list({ path: '.' })) {\n    await tools.fs.read({ path: await tools.paths.join({ a: f }) });\n  }\n}";
        assert_eq!(paths(source), ["fs.list", "fs.read", "paths.join"]);
    }

    #[test]
    fn references_that_are_not_calls_and_other_objects_are_not_tool_calls() {
        assert!(paths("const f = tools.fs.read; other.fs.read({}); tools;").is_empty());
        // A call of `tools` itself has no path: nothing to look up.
        assert!(paths("await tools();").is_empty());
        // A computed segment that is not a string literal cannot be known.
        assert!(paths("await tools[ns].read({});").is_empty());
    }

    #[test]
    fn the_position_is_that_of_the_first_segment() {
        let calls = tool_calls("let x = 1;\n  await tools.fs.read({});");
        assert_eq!((calls[0].line, calls[0].column), (2, 15));
    }
}
