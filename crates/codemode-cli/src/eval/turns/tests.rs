//! Tests of `turns`.

use super::*;

fn one(name: &str, arguments: Value) -> Turn {
    Turn::Calls(vec![(name.into(), arguments)])
}

fn native(id: &str, arguments: &str) -> LlmFunctionCall {
    LlmFunctionCall {
        id: id.into(),
        name: "post".into(),
        arguments: arguments.into(),
    }
}

#[test]
fn native_arguments_are_read_leniently_and_must_be_an_object() {
    let turn = native_turn(&[native("a", "{\"text\": \"hi\"}"), native("b", "  ")]);
    assert_eq!(
        turn,
        Turn::Calls(vec![("post".into(), json!({"text": "hi"})), ("post".into(), json!({}))])
    );
    assert_eq!(
        native_turn(&[native("a", "{}"), native("b", "[1]")]),
        Turn::Invalid("the arguments of `post` are not a JSON object".into())
    );
}

#[test]
fn every_native_call_gets_a_reply_naming_it() {
    let calls = [native("a", "{}"), native("b", "{}"), native("c", "{}")];
    let made = native_replies(&calls, vec!["one".into(), "two".into()], 2, 2);
    let read: Vec<(Option<&str>, &str)> = made
        .iter()
        .map(|m| (m.call_id.as_deref(), m.content.as_str()))
        .collect();
    assert_eq!(&read[..2], [(Some("a"), "one"), (Some("b"), "two")]);
    assert_eq!(read[2].0, Some("c"));
    assert!(read[2].1.contains("not made: at most 2 calls"), "{}", read[2].1);
    // A turn answered as a whole (unreadable or repeated calls) answers each call.
    let whole = native_replies(&calls[..2], vec!["Error: the same call".into()], 0, 8);
    assert!(
        whole
            .iter()
            .all(|m| m.content == "Error: the same call" && m.role == codemode::MessageRole::Tool)
    );
}

#[test]
fn native_functions_leave_the_text_format_out_of_the_prompt() {
    let tool = ToolSpec::new("post", "Posts.", json!({"type": "object"}));
    let text = system_prompt(
        "Intro.\n\n{functions}Calls may go in one answer{each}.",
        std::slice::from_ref(&tool),
        FunctionCalls::Text,
    );
    assert!(
        text.contains("<tools>\n{\"type\":\"function\",\"function\":{\"name\":\"post\"")
            && text.contains("one <tool_call> block each."),
        "{text}"
    );
    let native = system_prompt(
        "Intro.\n\n{functions}Calls may go in one answer{each}.",
        std::slice::from_ref(&tool),
        FunctionCalls::Native,
    );
    assert_eq!(native, "Intro.\n\nCalls may go in one answer.");
    assert!(native_functions(std::slice::from_ref(&tool), FunctionCalls::Text).is_empty());
    let functions = native_functions(&[tool], FunctionCalls::Native);
    assert_eq!(
        (functions[0].name.as_str(), functions[0].description.as_str()),
        ("post", "Posts.")
    );
}

#[test]
fn a_tool_call_is_read_with_raw_newlines_in_the_program() {
    let turn = parse_turn(
        "Let me run it.\n<tool_call>\n{\"name\": \"execute_code\", \"arguments\": {\"code\": \"const a = \\\"x\\\";\n\treturn a;\"}}\n</tool_call>",
    );
    assert_eq!(
        turn,
        one("execute_code", json!({ "code": "const a = \"x\";\n\treturn a;" }))
    );
}

#[test]
fn a_program_in_a_template_literal_is_read() {
    let turn = parse_turn(
        "```json\n{\n  \"name\": \"execute_code\",\n  \"arguments\": {\n    \"code\": `\n      const a = \"x\";\n      return a + \\`y\\`;\n    `\n  }\n}\n```",
    );
    assert_eq!(
        turn,
        one(
            "execute_code",
            json!({ "code": "\n      const a = \"x\";\n      return a + `y`;\n    " })
        )
    );
}

#[test]
fn bare_and_fenced_calls_answers_and_garbage_are_told_apart() {
    assert_eq!(
        parse_turn("```json\n{\"name\": \"search_tools\", \"arguments\": {\"query\": \"chat\"}}\n```"),
        one("search_tools", json!({ "query": "chat" }))
    );
    assert_eq!(
        parse_turn("<tool_call>{\"name\": \"describe_tools\", \"arguments\": \"{\\\"paths\\\": [\\\"a.b\\\"]}\"}"),
        one("describe_tools", json!({ "paths": ["a.b"] }))
    );
    assert_eq!(
        parse_turn("  3 issues are open.\n"),
        Turn::Answer("3 issues are open.".into())
    );
    assert!(matches!(parse_turn("<tool_call>{\"name\": "), Turn::Invalid(_)));
    assert!(matches!(
        parse_turn("<tool_call>{\"arguments\": {}}</tool_call>"),
        Turn::Invalid(why) if why.contains("no \"name\"")
    ));
    assert!(matches!(
        parse_turn("<tool_call>{\"name\": \"execute_code\", \"arguments\": [1]}</tool_call>"),
        Turn::Invalid(_)
    ));
}

#[test]
fn calls_in_fenced_blocks_between_prose_are_read_and_other_code_is_not() {
    let text = "To count them I will use `list_directory`:\n\n```json\n{\n  \"name\": \"list_directory\",\n  \"arguments\": {\"path\": \"/tmp/docs\"}\n}\n```\n\nThen filter:\n\n```json\n{\"name\": \"filter\", \"arguments\": {\"pattern\": \"\\\\.md$\"}}\n```\n\n```json\n{\"name\": \"exit\"}\n```";
    assert_eq!(
        parse_turn(text),
        Turn::Calls(vec![
            ("list_directory".into(), json!({ "path": "/tmp/docs" })),
            ("filter".into(), json!({ "pattern": "\\.md$" })),
        ])
    );
    // Code that is not a call leaves the text an answer.
    let answer = "The query is:\n```sql\nSELECT name FROM products ORDER BY price DESC LIMIT 1;\n```\nDesk Chair.";
    assert_eq!(parse_turn(answer), Turn::Answer(answer.into()));
}

#[test]
fn several_calls_in_one_turn_are_read_in_order_and_one_bad_one_spoils_the_turn() {
    assert_eq!(
        parse_turn(
            "<tool_call>\n{\"name\": \"fs.read\", \"arguments\": {\"path\": \"a\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"fs.read\", \"arguments\": {\"path\": \"b\"}}"
        ),
        Turn::Calls(vec![
            ("fs.read".into(), json!({ "path": "a" })),
            ("fs.read".into(), json!({ "path": "b" })),
        ])
    );
    assert!(matches!(
        parse_turn("<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call><tool_call>{\"name\": </tool_call>"),
        Turn::Invalid(_)
    ));
}
