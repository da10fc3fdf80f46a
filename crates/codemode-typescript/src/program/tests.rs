//! Tests of `program`.

use super::*;

#[test]
fn a_redeclaration_is_undone_keeping_every_position() {
    // The same statement twice: the repeat is blanked out.
    let source = "const a = await tools.m.create({ n: 1 });\nconst a = await tools.m.create({ n: 1 });\nreturn a;\n";
    let prepared = prepare_program(source);
    assert_eq!(
        prepared.text,
        "const a = await tools.m.create({ n: 1 });\n                                         \nreturn a;\n"
    );
    // Different values: one `let`, assigned twice, in the order written.
    let source = "const x = 1;\nconst y = x + 1;\nconst x = y * 2;\nreturn x;\n";
    let prepared = prepare_program(source);
    assert_eq!(
        prepared.text,
        "let   x = 1;\nconst y = x + 1;\n      x = y * 2;\nreturn x;\n"
    );
    assert_eq!(prepared.text.len(), source.len());
    // A destructuring repeated word for word is blanked; one with another value is left
    // to the checker (an assignment to a pattern needs parentheses).
    let source = "const { a } = await f();\nconst { a } = await f();\nconst { a } = await g();\n";
    assert_eq!(
        prepare_program(source).text,
        "const { a } = await f();\n                        \nconst { a } = await g();\n"
    );
    // Nothing to undo: the text is unchanged.
    for source in [
        "const a = 1;\nlet b = a;\nreturn b;\n",
        "var v = 1;\nvar v = 2;\n",
        "if (x) { const a = 1; } const a = 2;\n",
    ] {
        assert_eq!(prepare_program(source).text, source);
    }
}

#[test]
fn a_program_may_not_declare_tools_or_paste_declarations() {
    // Seen from Qwen2.5-Coder-1.5B: a mock `tools` (passed tsc, died at run time with
    // "invalid redefinition of parameter name"), and the declarations pasted back.
    for (program, code) in [
        (
            "const tools = { chat: { send: async () => 1 } };\nawait tools.chat.send();",
            "TS2451",
        ),
        ("let console = { log() {} };\nreturn 1;", "TS2451"),
        ("function tools() {}\nreturn 1;", "TS2451"),
        ("declare const tools: { chat: {} };\nreturn 1;", "TS2451"),
        ("declare namespace chat { }\nreturn 1;", "TS1184"),
        ("declare function helper(): void;\nreturn 1;", "TS1184"),
        ("import x from 'y';\nreturn x;", "TS1208"),
    ] {
        let found = shape_diagnostics(program);
        assert_eq!(found.len(), 1, "{program}: {found:?}");
        assert_eq!(found[0].code, code, "{program}");
        assert_eq!(found[0].line, 1, "{program}");
    }
    // Shadowing inside a function is fine, and so is using the real ones.
    for program in [
        "const f = () => { const tools = 1; return tools; };\nreturn f();",
        "const r = await tools.chat.send({});\nconsole.log(r);\nreturn r;",
    ] {
        assert_eq!(shape_diagnostics(program), [], "{program}");
    }
}

#[test]
fn a_program_with_nothing_to_run_is_refused() {
    // Seen from Qwen2.5-Coder-1.5B on a repair: the declarations alone, which "succeeded"
    // with no tool call once `declare const tools` was blanked out.
    let pasted = prepare_program(
        "type ListInput = { state?: string };\ninterface Issue { id: number }\ndeclare const tools: {\n  w: { list(input?: ListInput): Promise<Issue[]> };\n};\n",
    );
    for program in [pasted.text.as_str(), "", "// nothing yet\n;", "type T = number;"] {
        let found = shape_diagnostics(program);
        assert_eq!(found.len(), 1, "{program:?}: {found:?}");
        assert_eq!((found[0].line, found[0].code.as_str()), (1, "EMPTY"), "{program:?}");
        assert!(found[0].message.contains("no statement that runs"), "{found:?}");
    }
    for program in [
        "type T = number;\nreturn 1;",
        "await tools.w.list();",
        "function f() {}",
    ] {
        assert_eq!(shape_diagnostics(program), [], "{program}");
    }
}

#[test]
fn pasted_declarations_are_blanked_out_and_lines_stay() {
    // Seen from Qwen2.5-Coder-1.5B on repair: the given declarations pasted back above
    // the program, then TS2451 on every repair.
    let source = "declare const tools: {\n  chat: { send(input: { text: string }): Promise<void> };\n};\n\
                  interface SendInput { text: string }\n\
                  declare function helper(): void;\n\
                  await tools.chat.send({ text: 'hi' });\n";
    let p = prepare_program(source);
    assert_eq!(p.stripped_declarations, 2);
    assert_eq!(p.text.lines().count(), source.lines().count());
    assert_eq!(p.text.lines().nth(5), Some("await tools.chat.send({ text: 'hi' });"));
    assert!(
        p.text
            .lines()
            .nth(3)
            .is_some_and(|l| l.starts_with("interface SendInput"))
    );
    assert!(!p.text.contains("declare"), "{}", p.text);
    assert_eq!(shape_diagnostics(&p.text), []);
    // A mock with a value is still refused after preparation.
    let mock = prepare_program("const tools = { chat: {} };\nreturn 1;");
    assert_eq!(mock.stripped_declarations, 0);
    assert_eq!(shape_diagnostics(&mock.text)[0].code, "TS2451");
    // Only declarations left, one of them a function: that function is the entry.
    let p = prepare_program("declare const tools: {};\nasync function go() {\n  return 1;\n}");
    assert!(p.calls_main, "{}", p.text);
}

#[test]
fn a_lone_function_gets_called_whatever_its_name() {
    let p = prepare_program(
        "type T = { n: number };\nasync function list_and_close(): Promise<T> {\n  return { n: 1 };\n}",
    );
    assert!(p.calls_main);
    assert!(p.text.ends_with("\nreturn await list_and_close();\n"), "{}", p.text);
    // Not when the program does its work at the top level, or uses the function, or has two.
    for source in [
        "function fmt(x: number) { return `${x}`; }\nconsole.log('x');",
        "async function go() { return 1; }\nreturn await go();",
        "async function a() {}\nasync function b() {}",
    ] {
        assert!(!prepare_program(source).calls_main, "{source}");
    }
}

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
