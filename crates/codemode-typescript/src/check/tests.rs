//! Unit tests of the built-in checker.

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
        output_learned_from: None,
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
        output_learned_from: None,
    };
    let checker = BuiltinChecker::new(&[
        ToolSignature {
            output_schema: Some(&channels),
            output_learned_from: None,
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
    let filtered =
        checker.check("const channels = await tools.workspace.list_channels({});\nreturn channels.filter((c) => c);");
    assert_eq!(filtered[0].code, "TS2339", "{filtered:?}");
    assert!(checker
        .check("const { channels } = await tools.workspace.list_channels({});\nfor (const c of channels) {}\nreturn channels.map((c) => c.name);")
        .is_empty());
}

/// A checker with the demo server's `list_channels` (its output declared) and `list_inbox`.
fn workspace_checker() -> BuiltinChecker {
    static SCHEMAS: std::sync::OnceLock<(Value, Value, Value)> = std::sync::OnceLock::new();
    let (object, channels, inbox) = SCHEMAS.get_or_init(|| {
        (
            json!({"type": "object"}),
            json!({
                "type": "object",
                "properties": {"channels": {"type": "array", "items": {"type": "object"}}},
                "required": ["channels"]
            }),
            json!({
                "type": "object",
                "properties": {"emails": {"type": "array"}, "unread": {"type": "integer"}},
                "additionalProperties": false
            }),
        )
    });
    let tool = |path, output| ToolSignature {
        path,
        description: None,
        input_schema: object,
        output_schema: output,
        output_learned_from: None,
    };
    BuiltinChecker::new(&[
        tool("workspace.list_channels", Some(channels)),
        tool("workspace.list_inbox", Some(inbox)),
        tool("workspace.send_email", None),
    ])
}

fn workspace_codes(src: &str) -> Vec<(u32, u32, String)> {
    workspace_checker()
        .check(src)
        .into_iter()
        .map(|d| (d.line, d.column, d.code))
        .collect()
}

#[test]
fn properties_the_declared_output_lacks() {
    let read = workspace_codes("const r = await tools.workspace.list_channels({});\nreturn r.items;");
    assert_eq!(read, vec![(2, 10, "TS2339".to_string())]);
    let destructured =
        workspace_codes("const { items, channels } = await tools.workspace.list_inbox({});\nreturn items;");
    assert_eq!(
        destructured,
        vec![(1, 9, "TS2339".to_string()), (1, 16, "TS2339".to_string())]
    );
    let message =
        &workspace_checker().check("const r = await tools.workspace.list_inbox({});\nreturn r.total;")[0].message;
    assert!(message.contains("Its properties: emails, unread."), "{message}");
    // Declared properties, and outputs nobody declared, are fine.
    assert!(workspace_codes(
        "const { emails, unread } = await tools.workspace.list_inbox({});\nconst r = await tools.workspace.send_email({});\nreturn [emails, unread, r.anything];"
    )
    .is_empty());
}

/// A Promise used as its value, as a real model wrote `list_inbox({...})[0].id`.
#[test]
fn a_call_without_await_used_as_its_value() {
    let indexed = workspace_codes("const emails = tools.workspace.list_inbox({});\nreturn emails[0].id;");
    assert_eq!(indexed, vec![(2, 14, "TS7053".to_string())]);
    let property = workspace_codes("return tools.workspace.list_channels({}).channels;");
    assert_eq!(property, vec![(1, 42, "TS2339".to_string())]);
    let iterated = workspace_codes("for (const c of tools.workspace.list_channels({})) {}\nreturn 1;");
    assert_eq!(iterated, vec![(1, 17, "TS2488".to_string())]);
    // What a Promise has, and awaiting it later, are fine.
    assert!(workspace_codes(
        "const p = tools.workspace.list_channels({});\np.then((r) => r.channels).catch(() => []);\nconst { channels } = await p;\nreturn channels;"
    )
    .is_empty());
}

/// Names nobody declared, and assignments to a `const`, as tsc reports them; `typeof` of a
/// missing global and the sandbox's globals are fine.
#[test]
fn undeclared_names_and_const_assignments() {
    let codes = |p: &str| -> Vec<(u32, String)> {
        BuiltinChecker::new(&[])
            .check(p)
            .into_iter()
            .map(|d| (d.line, d.code))
            .collect()
    };
    assert_eq!(codes("const a = 1;\nreturn reslt;"), vec![(2, "TS2304".to_string())]);
    assert_eq!(
        codes("const n = 0;\nn = 2;\nreturn n;"),
        vec![(2, "TS2588".to_string())]
    );
    assert_eq!(codes("let n = 0;\nn += 2;\nreturn n;"), vec![]);
    assert_eq!(
        codes(
            "const t = setTimeout(() => {}, 1);\nclearTimeout(t);\nconsole.log(JSON.stringify({ p: typeof process }));\nreturn Math.max(1, Number.parseInt('2'));"
        ),
        vec![]
    );
    assert_eq!(
        codes("function f(x: number) { return x; }\nreturn f(arguments.length);"),
        vec![]
    );
}
