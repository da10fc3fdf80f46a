//! The corpus of programs of the kinds real models write against the demo server's tools
//! (`tests/corpus/*.ts`; `wrong-*` must be rejected, `ok-*` accepted), checked by both
//! checkers: TypeScript 7 (installed into tests/npm) and the built-in one. Prints how many
//! of tsc's diagnostics the built-in checker reproduces (same code, same line), and fails
//! when that falls below what it was, or when the built-in checker rejects a right program.

mod common;

use std::path::PathBuf;

use codemode_typescript::{
    BuiltinChecker, Diagnostic, Severity, ToolSignature, generate_declarations, prepare_program,
};
use serde_json::Value;

/// What the built-in checker reached when the corpus was written: programs it rejects and
/// tsc diagnostics it reproduces. Raise them when it gets better; never lower them.
const BUILTIN_REJECTS_AT_LEAST: usize = 31;
const BUILTIN_REPRODUCES_AT_LEAST: usize = 33;

struct Program {
    name: String,
    text: String,
}

fn corpus() -> Vec<Program> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut programs: Vec<Program> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ts"))
        .map(|p| Program {
            name: p.file_stem().unwrap().to_string_lossy().into_owned(),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    programs.sort_by(|a, b| a.name.cmp(&b.name));
    programs
}

fn errors(diagnostics: Vec<Diagnostic>) -> Vec<(u32, String)> {
    let mut found: Vec<(u32, String)> = diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.line, d.code))
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn the_builtin_checker_against_tsc_on_the_corpus() {
    let tools: Value =
        serde_json::from_str(include_str!("corpus/workspace.tools.json")).expect("corpus/workspace.tools.json");
    let listed = tools["workspace"]["tools"].as_array().unwrap();
    let paths: Vec<String> = listed
        .iter()
        .map(|t| format!("workspace.{}", t["name"].as_str().unwrap()))
        .collect();
    let signatures: Vec<ToolSignature<'_>> = listed
        .iter()
        .zip(&paths)
        .map(|(t, path)| ToolSignature {
            path,
            description: t["description"].as_str(),
            input_schema: &t["inputSchema"],
            output_schema: t.get("outputSchema").filter(|o| !o.is_null()),
            output_learned_from: None,
        })
        .collect();
    let declarations = generate_declarations(&signatures).text;
    let builtin = BuiltinChecker::new(&signatures);
    let tsc = common::tsc();

    let programs = corpus();
    let wrong = programs.iter().filter(|p| p.name.starts_with("wrong-")).count();
    assert!(
        wrong >= 30,
        "the corpus has {wrong} wrong programs; it needs at least 30"
    );
    let (mut rejected, mut tsc_total, mut reproduced, mut extra) = (0, 0, 0, 0);
    let mut table = String::new();
    let mut problems = Vec::new();
    for program in &programs {
        let prepared = prepare_program(&program.text).text;
        let by_tsc = errors(tsc.check(&prepared, &declarations).unwrap());
        let by_builtin = errors(builtin.check(&prepared));
        let should_fail = program.name.starts_with("wrong-");
        if should_fail && by_tsc.is_empty() {
            problems.push(format!(
                "{}: tsc accepts it, so it does not belong in the corpus",
                program.name
            ));
        }
        if !should_fail && !by_tsc.is_empty() {
            problems.push(format!("{}: tsc rejects it: {by_tsc:?}", program.name));
        }
        if !should_fail && !by_builtin.is_empty() {
            problems.push(format!(
                "{}: the built-in checker rejects a right program: {by_builtin:?}",
                program.name
            ));
        }
        if should_fail {
            let same = by_tsc.iter().filter(|d| by_builtin.contains(d)).count();
            tsc_total += by_tsc.len();
            reproduced += same;
            extra += by_builtin.iter().filter(|d| !by_tsc.contains(d)).count();
            rejected += usize::from(!by_builtin.is_empty());
            table.push_str(&format!(
                "{:<40} tsc {:<28} builtin {:<28} {}\n",
                program.name,
                render(&by_tsc),
                render(&by_builtin),
                if by_builtin.is_empty() {
                    "MISSED"
                } else if same == by_tsc.len() {
                    "same"
                } else {
                    "rejected"
                }
            ));
        }
    }
    println!(
        "{table}\nthe built-in checker rejects {rejected} of {wrong} wrong programs and reproduces {reproduced} of \
         tsc's {tsc_total} diagnostics ({:.0} %); {extra} of its diagnostics are not tsc's",
        100.0 * reproduced as f64 / tsc_total.max(1) as f64
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        rejected >= BUILTIN_REJECTS_AT_LEAST,
        "the built-in checker now rejects {rejected} wrong programs, fewer than {BUILTIN_REJECTS_AT_LEAST}\n{table}"
    );
    assert!(
        reproduced >= BUILTIN_REPRODUCES_AT_LEAST,
        "the built-in checker now reproduces {reproduced} of tsc's diagnostics, fewer than {BUILTIN_REPRODUCES_AT_LEAST}\n{table}"
    );
}

fn render(found: &[(u32, String)]) -> String {
    if found.is_empty() {
        return "-".into();
    }
    found
        .iter()
        .map(|(line, code)| format!("{line}:{code}"))
        .collect::<Vec<_>>()
        .join(",")
}
