//! The TypeScript 7 compiler (installed into tests/npm) against our declarations and
//! programs, side by side with the built-in checker.

mod common;

use codemode_typescript::{BuiltinChecker, ToolSignature, generate_declarations, prepare_program};
use serde_json::json;

#[test]
fn tsc_strict_accepts_the_declarations_of_all_527_tools() {
    let data = common::tools_json();
    let tools = common::tools(&data);
    let decls = generate_declarations(&common::signatures(&tools));
    let diagnostics = common::tsc().check_declarations(&decls.text).unwrap();
    assert!(
        diagnostics.is_empty(),
        "{} errors, e.g. {:?}",
        diagnostics.len(),
        diagnostics.iter().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn sample_values_of_every_tool_type_check_as_its_input() {
    let data = common::tools_json();
    let tools = common::tools(&data);
    let decls = generate_declarations(&common::signatures(&tools));
    let program = common::sample_program(&tools);
    let diagnostics = common::tsc().check(&program, &decls.text).unwrap();
    let lines: Vec<&str> = program.lines().collect();
    let shown: Vec<String> = diagnostics
        .iter()
        .take(5)
        .map(|d| {
            format!(
                "{} :: {}",
                d.render("p.ts"),
                lines.get(d.line as usize - 1).unwrap_or(&"")
            )
        })
        .collect();
    assert!(
        diagnostics.is_empty(),
        "{} diagnostics:\n{}",
        diagnostics.len(),
        shown.join("\n")
    );
}

fn chat_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {"channel": {"type": "string"}, "count": {"type": "integer"}, "mode": {"enum": ["fast", "slow"]}},
        "required": ["channel"],
        "additionalProperties": false
    })
}

/// Both checkers report each mistake at the same line.
#[test]
fn both_checkers_catch_misspellings_and_wrong_types() {
    let schema = chat_schema();
    let sig = ToolSignature {
        path: "chat.send_message",
        description: None,
        input_schema: &schema,
        output_schema: None,
    };
    let decls = generate_declarations(&[sig]).text;
    let builtin = BuiltinChecker::new(&[sig]);
    let tsc = common::tsc();
    for (program, builtin_code, tsc_code) in [
        (
            "const r = 1;\nawait tools.chat.send_mesage({ channel: 'a' });",
            "TS2339",
            "TS2551",
        ),
        (
            "const r = 1;\nawait tools.chat.send_message({ chanel: 'a' });",
            "TS2353",
            "TS2561",
        ),
        (
            "const r = 1;\nawait tools.chat.send_message({ channel: 42 });",
            "TS2322",
            "TS2322",
        ),
        (
            "const r = 1;\nawait tools.chat.send_message({ channel: 'a', mode: 'medium' });",
            "TS2322",
            "TS2322",
        ),
    ] {
        let prepared = prepare_program(program).text;
        let b = builtin.check(&prepared);
        let t = tsc.check(&prepared, &decls).unwrap();
        assert!(
            b.iter().any(|d| d.line == 2 && d.code == builtin_code),
            "builtin on {program}: {b:?}"
        );
        assert!(
            t.iter().any(|d| d.line == 2 && d.code == tsc_code),
            "tsc on {program}: {t:?}"
        );
    }
    let ok = "const r = await tools.chat.send_message({ channel: 'a', count: 2, mode: 'fast' });\nreturn r;";
    assert!(builtin.check(ok).is_empty());
    assert!(tsc.check(ok, &decls).unwrap().is_empty());
}

#[test]
fn tsc_positions_are_those_of_the_program_as_written() {
    let schema = chat_schema();
    let sig = ToolSignature {
        path: "chat.send_message",
        description: None,
        input_schema: &schema,
        output_schema: None,
    };
    let decls = generate_declarations(&[sig]).text;
    let program = "// a comment\n\nconst n: number = 'x';\nreturn n;";
    let d = common::tsc().check(program, &decls).unwrap();
    assert_eq!((d[0].line, d[0].column, d[0].code.as_str()), (3, 7, "TS2322"), "{d:?}");
    assert!(common::tsc().name().starts_with("tsc 7."));
    // No DOM: `document` does not exist; our console does.
    let d = common::tsc().check("console.log(document.title);", &decls).unwrap();
    assert_eq!(d[0].code, "TS2584", "{d:?}");
}
