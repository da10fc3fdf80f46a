//! The program shape shared by `implement`, `exec` and `check`: a program is the body of
//! an async function. Top-level `await` and `return` are allowed; a program that declares
//! `main()` without calling it gets `return await main();` appended (after the last line,
//! so line numbers do not move).

use oxc::allocator::Allocator;
use oxc::ast::ast::{Expression, Program, Statement};
use oxc::ast_visit::{Visit, walk};
use oxc::parser::{ParseOptions, Parser, ParserReturn};
use oxc::span::SourceType;

use crate::diagnostic::{Diagnostic, LineIndex};

/// A program ready to check or transpile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedProgram {
    /// The program text, with the call to `main()` appended when needed.
    pub text: String,
    /// True when `return await main();` was appended.
    pub calls_main: bool,
}

/// Parses `source` as a program body (TypeScript, module, `return` allowed at the top).
pub(crate) fn parse<'a>(allocator: &'a Allocator, source: &'a str) -> ParserReturn<'a> {
    let options = ParseOptions {
        allow_return_outside_function: true,
        ..ParseOptions::default()
    };
    Parser::new(allocator, source, SourceType::ts().with_module(true))
        .with_options(options)
        .parse()
}

/// Syntax errors of a parse, and import/export statements (which a program cannot use),
/// as diagnostics.
pub(crate) fn syntax_diagnostics(ret: &ParserReturn<'_>, source: &str) -> Vec<Diagnostic> {
    let index = LineIndex::new(source);
    let mut out: Vec<Diagnostic> = ret
        .diagnostics
        .iter()
        .map(|d| {
            let offset = d.labels.first().map_or(0, |l| l.offset() as usize);
            let (line, column) = index.position(source, offset);
            let mut message = d.message.to_string();
            if let Some(help) = &d.help {
                message.push_str(&format!(" ({help})"));
            }
            Diagnostic::error(line, column, "SYNTAX", message)
        })
        .collect();
    if !ret.panicked {
        for stmt in &ret.program.body {
            if stmt.is_module_declaration() {
                let (line, column) = index.position(source, span_start(stmt));
                out.push(Diagnostic::error(
                    line,
                    column,
                    "TS1208",
                    "import and export are not available in a codemode program: call tools through the global `tools` object",
                ));
            }
        }
    }
    out
}

fn span_start(stmt: &Statement<'_>) -> usize {
    use oxc::span::GetSpan;
    stmt.span().start as usize
}

/// Applies the program shape rules to `source`.
pub fn prepare_program(source: &str) -> PreparedProgram {
    let allocator = Allocator::default();
    let ret = parse(&allocator, source);
    let calls_main = !ret.panicked && needs_main_call(&ret.program);
    let mut text = source.to_string();
    if calls_main {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("return await main();\n");
    }
    PreparedProgram { text, calls_main }
}

fn needs_main_call(program: &Program<'_>) -> bool {
    let declares_main = program.body.iter().any(|s| match s {
        Statement::FunctionDeclaration(f) => f.id.as_ref().is_some_and(|id| id.name == "main"),
        _ => false,
    });
    if !declares_main {
        return false;
    }
    let mut finder = MainCallFinder { found: false };
    finder.visit_program(program);
    !finder.found
}

struct MainCallFinder {
    found: bool,
}

impl<'a> Visit<'a> for MainCallFinder {
    fn visit_call_expression(&mut self, it: &oxc::ast::ast::CallExpression<'a>) {
        if let Expression::Identifier(id) = &it.callee
            && id.name == "main"
        {
            self.found = true;
        }
        walk::walk_call_expression(self, it);
    }

    fn visit_identifier_reference(&mut self, it: &oxc::ast::ast::IdentifierReference<'a>) {
        // `main().then(...)`, `await main`, `main.call()` and the like count as using it.
        if it.name == "main" {
            self.found = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_gets_called() {
        let p = prepare_program("async function main() {\n  return 1;\n}");
        assert!(p.calls_main);
        assert!(p.text.ends_with("\nreturn await main();\n"));
        assert!(p.text.starts_with("async function main() {\n  return 1;\n}"));
    }

    #[test]
    fn main_already_called_or_absent() {
        assert!(!prepare_program("async function main() { return 1 }\nreturn await main();").calls_main);
        assert!(!prepare_program("async function main() { return 1 }\nmain().then(console.log);").calls_main);
        assert!(!prepare_program("const x = await tools.a.b();\nreturn x;").calls_main);
    }
}
