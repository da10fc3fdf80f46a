//! The TypeScript 7 compiler (installed into tests/npm) against our declarations and
//! programs, side by side with the built-in checker.

mod common;

use codemode_typescript::{BuiltinChecker, Severity, ToolSignature, generate_declarations, prepare_program};
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

/// A synthetic tool result, different for each `seed`: text, numbers, nulls, arrays of
/// objects, keys that are no identifiers (`a-b`, `123`, `""`, `__proto__`, `*/`), deep and
/// wide values.
fn synthetic_result(seed: u64) -> serde_json::Value {
    const KEYS: &[&str] = &[
        "id",
        "name",
        "a-b",
        "123",
        "",
        "constructor",
        "__proto__",
        "with space",
        "ünïcode",
        "$ref",
        "*/",
        "type",
        "toString",
        "null",
        "0x1",
        "key\"quote",
    ];
    let mut state = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    fn build(next: &mut dyn FnMut(u64) -> u64, depth: u32) -> serde_json::Value {
        let kind = if depth > 12 { next(4) } else { next(9) };
        match kind {
            0 => json!(null),
            1 => json!("some text"),
            2 => json!(next(1000)),
            3 => json!(next(2) == 0),
            4 | 5 => {
                let len = next(4);
                serde_json::Value::Array((0..len).map(|_| build(next, depth + 1)).collect())
            }
            6 => {
                // Wide: more fields than an object keeps, so a dictionary.
                let map: serde_json::Map<String, serde_json::Value> =
                    (0..60).map(|i| (format!("field{i}"), json!(i))).collect();
                serde_json::Value::Object(map)
            }
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..next(5) {
                    let key = KEYS[next(KEYS.len() as u64) as usize];
                    map.insert(key.to_string(), build(next, depth + 1));
                }
                serde_json::Value::Object(map)
            }
        }
    }
    build(&mut next, 0)
}

/// Every LiveMCPBench tool without an output schema given a type learned from three
/// synthetic results of its own: the declarations stay `tsc --strict` clean.
#[test]
fn tsc_strict_accepts_learned_output_types_for_every_tool() {
    let data = common::tools_json();
    let tools = common::tools(&data);
    let learned: Vec<Option<serde_json::Value>> = tools
        .iter()
        .enumerate()
        .map(|(i, (_, t))| {
            t.get("outputSchema").filter(|o| !o.is_null()).is_none().then(|| {
                (0..3)
                    .map(|k| codemode_shapes::Shape::of(&synthetic_result((i * 3 + k) as u64)))
                    .reduce(codemode_shapes::Shape::merge)
                    .map(|s| s.to_schema())
                    .unwrap_or_default()
            })
        })
        .collect();
    let signatures: Vec<ToolSignature<'_>> = common::signatures(&tools)
        .into_iter()
        .zip(&learned)
        .map(|(signature, learned)| match learned {
            Some(schema) => ToolSignature {
                output_schema: Some(schema),
                output_learned_from: Some(3),
                ..signature
            },
            None => signature,
        })
        .collect();
    let learned_count = learned.iter().filter(|l| l.is_some()).count();
    assert!(learned_count > 400, "{learned_count} tools without an output schema");
    let decls = generate_declarations(&signatures);
    assert_eq!(decls.text.matches("Learned from 3 results").count(), learned_count);
    for part in [
        "\"a-b\"?: ",
        "__proto__?: ",
        "constructor?: ",
        "[key: string]: ",
        " | null",
        "any[]",
    ] {
        assert!(
            decls.text.contains(part),
            "no `{part}` in the learned types: the synthetic results are too plain"
        );
    }
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

/// A tool with `schema` as its input and no output schema.
fn signature<'a>(path: &'a str, schema: &'a serde_json::Value) -> ToolSignature<'a> {
    ToolSignature {
        path,
        description: None,
        input_schema: schema,
        output_schema: None,
        output_learned_from: None,
    }
}

/// Both checkers report each mistake at the same line.
#[test]
fn both_checkers_catch_misspellings_and_wrong_types() {
    let schema = chat_schema();
    let sig = signature("chat.send_message", &schema);
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
    let sig = signature("chat.send_message", &schema);
    let decls = generate_declarations(&[sig]).text;
    let program = "// a comment\n\nconst n: number = 'x';\nreturn n;";
    let d = common::tsc().check(program, &decls).unwrap();
    assert_eq!((d[0].line, d[0].column, d[0].code.as_str()), (3, 7, "TS2322"), "{d:?}");
    assert!(common::tsc().name().starts_with("tsc 7."));
    // No DOM: `document` does not exist; our console does.
    let d = common::tsc().check("console.log(document.title);", &decls).unwrap();
    assert_eq!(d[0].code, "TS2584", "{d:?}");
}

/// The warm server (one `tsc --lsp --stdio` kept across checks) reports exactly what a cold
/// `tsc` run reports, follows changing declarations, and is replaced when it dies.
/// Needs the `testing` feature (the warm server's pid); `cargo test --workspace` has it
/// through codemode-core's `testing`.
#[cfg(feature = "testing")]
#[test]
fn warm_and_cold_checks_agree_and_the_warm_server_is_reused() {
    let schema = chat_schema();
    let sig = signature("chat.send_message", &schema);
    let chat = generate_declarations(&[sig]).text;
    let other_schema = json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]});
    let other = generate_declarations(&[signature("search.query", &other_schema)]).text;
    let warm = common::tsc();
    assert!(warm.is_warm());
    let cold = common::tsc().cold();
    let cases = [
        (&chat, "await tools.chat.send_mesage({ channel: 'a' });"),
        (&chat, "// x\nawait tools.chat.send_message({ chanel: 'a' });"),
        (&chat, "const n: number = 'x';\nreturn n;"),
        (
            &chat,
            "const r = await tools.chat.send_message({ channel: 'a' });\nreturn r;",
        ),
        (&other, "await tools.chat.send_message({ channel: 'a' });"),
        (&other, "const r = await tools.search.query({ q: 1 });\nreturn r;"),
        (&other, "return await tools.search.query({ q: 'ok' });"),
        (&chat, "let x = ;"),
        (&chat, "console.log(document.title);"),
    ];
    let mut pid = None;
    for (decls, program) in cases {
        let prepared = prepare_program(program).text;
        let from_warm = warm.check(&prepared, decls).unwrap();
        let from_cold = cold.check(&prepared, decls).unwrap();
        assert_eq!(from_warm, from_cold, "warm and cold differ on {program:?}");
        let now = warm.warm_server_pid();
        assert!(now.is_some(), "the warm server should be running");
        if pid.is_some() {
            assert_eq!(pid, now, "the warm server was restarted without a failure");
        }
        pid = now;
    }
    // A dead server is replaced and the check still answers.
    let killed = pid.unwrap();
    std::process::Command::new("kill")
        .args(["-9", &killed.to_string()])
        .status()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let d = warm.check("const n: number = 'x';\nreturn n;", &chat).unwrap();
    assert_eq!(d[0].code, "TS2322", "{d:?}");
    let d = warm.check("const n: number = 'x';\nreturn n;", &chat).unwrap();
    assert_eq!(d[0].code, "TS2322", "{d:?}");
    assert_ne!(warm.warm_server_pid(), Some(killed));
    assert!(warm.warm_server_pid().is_some());
}

/// A tool without an output schema returns `any` (its server's JSON or text, as from
/// `JSON.parse`): a program reads what it expects without a cast, and a parameter without a
/// type is no error (`noImplicitAny`'s complaints are dropped), while `const xs = []` still
/// gets its evolving type. A tool that declares no parameters takes none.
#[test]
fn untyped_results_parameters_without_types_and_tools_without_parameters() {
    let schema = chat_schema();
    let none = json!({"type": "object", "properties": {}});
    let sigs = [
        signature("chat.send_message", &schema),
        signature("chat.list_channels", &none),
    ];
    let decls = generate_declarations(&sigs).text;
    assert!(
        decls.contains("type ChatListChannelsInput = Record<string, never>;"),
        "{decls}"
    );
    let builtin = BuiltinChecker::new(&sigs);
    let tsc = common::tsc();
    let ok = "const { id } = await tools.chat.send_message({ channel: 'a' });\n\
              const all = await tools.chat.list_channels({});\n\
              const names = all.items.map((c) => c.name);\n\
              const seen = [];\n\
              for (const n of names) seen.push(n);\n\
              function twice(x) { return [x, x]; }\n\
              await tools.chat.list_channels();\n\
              return { id, seen, t: twice(1) };";
    let prepared = prepare_program(ok).text;
    assert_eq!(tsc.check(&prepared, &decls).unwrap(), vec![], "{ok}");
    assert!(builtin.check(&prepared).is_empty(), "{:?}", builtin.check(&prepared));
    // Real mistakes still fail, and an argument for a tool without parameters is one.
    let wrong = "const all = await tools.chat.list_channels({ name: 'general' });\nconst n: number = all;\nreturn n.toFixed(1) + 'x'.foo;";
    let prepared = prepare_program(wrong).text;
    let t = tsc.check(&prepared, &decls).unwrap();
    assert!(t.iter().any(|d| d.line == 1 && d.code == "TS2322"), "{t:?}");
    assert!(t.iter().any(|d| d.line == 3 && d.code == "TS2339"), "{t:?}");
    let b = builtin.check(&prepared);
    assert!(
        b.iter()
            .any(|d| d.line == 1 && d.message.contains("takes no arguments")),
        "{b:?}"
    );
}

/// A key written twice (TS1117) is a warning in a value the program keeps or returns (the
/// last value wins and the program runs), and an error in what a tool receives.
#[test]
fn a_key_written_twice_blocks_the_run_only_in_a_tool_argument() {
    let schema = chat_schema();
    let sig = signature("chat.send_message", &schema);
    let decls = generate_declarations(&[sig]).text;
    let tsc = common::tsc();
    let returned = "const a = await tools.chat.send_message({ channel: 'a' });
const b = await tools.chat.send_message({ channel: 'b' });
return { id: a, id: b };";
    let d = tsc.check(returned, &decls).unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].line, d[0].code.as_str(), d[0].severity),
        (3, "TS1117", Severity::Warning)
    );
    let sent = "await tools.chat.send_message({
  channel: 'a',
  channel: 'b',
});";
    let d = tsc.check(sent, &decls).unwrap();
    assert_eq!(
        (d[0].line, d[0].code.as_str(), d[0].severity),
        (3, "TS1117", Severity::Error),
        "{d:?}"
    );
}
