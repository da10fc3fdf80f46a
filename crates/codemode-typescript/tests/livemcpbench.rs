//! All 527 real tools of LiveMCPBench (70 servers): declarations that parse, are stable,
//! and agree with the built-in checker on sample calls.

mod common;

use codemode_typescript::{BuiltinChecker, generate_declarations};
use oxc::allocator::Allocator;
use oxc::parser::Parser;
use oxc::span::SourceType;

#[test]
fn all_527_tools_give_valid_stable_declarations() {
    let data = common::tools_json();
    let tools = common::tools(&data);
    assert_eq!(tools.len(), 527);
    let sigs = common::signatures(&tools);
    let decls = generate_declarations(&sigs);
    assert_eq!(decls.tools.len(), 527, "every tool has types");
    let allocator = Allocator::default();
    let ret = Parser::new(&allocator, &decls.text, SourceType::d_ts()).parse();
    assert!(
        ret.diagnostics.is_empty(),
        "syntax errors: {:?}",
        ret.diagnostics.iter().take(3).collect::<Vec<_>>()
    );
    let mut reversed = sigs.clone();
    reversed.reverse();
    assert_eq!(
        generate_declarations(&reversed).text,
        decls.text,
        "stable whatever the input order"
    );
    assert!(!decls.text.contains("Record<string, any>"));
}

#[test]
fn sample_calls_of_every_tool_pass_the_builtin_checker() {
    let data = common::tools_json();
    let tools = common::tools(&data);
    let sigs = common::signatures(&tools);
    let checker = BuiltinChecker::new(&sigs);
    let program = common::sample_program(&tools);
    let diagnostics = checker.check(&program);
    let lines: Vec<&str> = program.lines().collect();
    let shown: Vec<String> = diagnostics
        .iter()
        .take(5)
        .map(|d| format!("{} :: {}", d.render("p.ts"), lines[d.line as usize - 1]))
        .collect();
    assert!(
        diagnostics.is_empty(),
        "{} diagnostics, e.g.\n{}",
        diagnostics.len(),
        shown.join("\n")
    );
}
