//! The agent loop both baselines of the eval share (`--mode agent`, `--mode direct`): the
//! main model is offered functions in the format Qwen-style chat models are trained on
//! (`<tools>` JSON signatures, `<tool_call>` JSON answers, `<tool_response>` results), reads
//! each result and answers without a call when it is done.
//!
//! With `--function-calls native` the functions go as the API's own (`tools`) and calls come
//! back as `tool_calls`, their results as `tool` messages; a model that writes a call as text
//! anyway is still read. Models without native function calling (the local ones) write calls
//! as text; they are read leniently (a missing closing tag, a fenced or bare JSON object, raw newlines and
//! template literals inside strings), since a baseline that failed on its parser would
//! measure the parser.

use codemode::{Llm, LlmFunction, LlmFunctionCall, LlmRequest, LlmRole, Message, TokenUsage, ToolSpec};
use serde_json::{Value, json};

use crate::cli::FunctionCalls;

/// The text-format block of the system prompts (`{functions}`): `{tools}` becomes one JSON
/// function signature per line.
const TEXT_FUNCTIONS: &str = include_str!("text_functions.md");

/// What one function call did, as the loop reports it to the model and counts it.
pub(super) struct CallAnswer {
    /// The text the model reads back (a result, or `Error: ...`).
    pub text: String,
    /// The call failed (the model has to react to an error).
    pub failed: bool,
    /// Calls to MCP tools it made (one for a direct call; a program's calls for `execute_code`).
    pub tool_calls: usize,
    /// The run must stop here (the tool-call limit), with this result type.
    pub ends_run: Option<&'static str>,
}

/// The limits and wording of one loop.
pub(super) struct LoopSpec {
    /// The system prompt ([`system_prompt`]).
    pub system: String,
    /// The functions offered natively (`--function-calls native`); empty when they are in
    /// the system prompt as text.
    pub functions: Vec<LlmFunction>,
    /// Model turns before the run gives up.
    pub turns: usize,
    /// Calls read from one turn (later ones are ignored).
    pub calls_per_turn: usize,
    /// The most output tokens a turn asks for.
    pub turn_tokens: u32,
    /// What the model is told when it repeats its last call, after the reason.
    pub repeat_hint: &'static str,
}

/// What the agent did with one task.
#[derive(Debug, Default)]
pub(super) struct AgentRun {
    /// `answered` (ended without a call), `turns_exhausted`, `model_error`, or how a call
    /// ended it (`tool_call_limit`).
    pub result_type: &'static str,
    /// The final answer, as a string value.
    pub answer: Value,
    /// Why the run ended early, when it did.
    pub error: Option<String>,
    /// The functions it called, in order (`?` for an answer that was not a valid call).
    pub calls: Vec<String>,
    /// Calls that came back with an error, repeated calls and unreadable calls included.
    pub failed_calls: u32,
    /// Calls to MCP tools the functions made.
    pub tool_calls: usize,
    /// The main model's calls and tokens.
    pub usage: TokenUsage,
}

/// Runs the loop for `query`: one model turn, its calls (`call` makes each), their results
/// back as the next turn, until the model answers, a call ends the run, or turns run out.
pub(super) async fn drive(
    model: &dyn Llm,
    spec: &LoopSpec,
    query: &str,
    mut call: impl AsyncFnMut(&str, Value) -> CallAnswer,
) -> AgentRun {
    let mut messages = vec![Message::system(spec.system.clone()), Message::user(query)];
    let mut run = AgentRun {
        result_type: "turns_exhausted",
        ..AgentRun::default()
    };
    // The calls of the last turn, to tell a repeated one.
    let mut previous: Vec<(String, Value)> = Vec::new();
    for _ in 0..spec.turns {
        let request = LlmRequest {
            role: LlmRole::Main,
            step: "agent".into(),
            messages: messages.clone(),
            max_output_tokens: Some(spec.turn_tokens),
            sampling: Default::default(),
            functions: spec.functions.clone(),
        };
        let response = match model.complete(&request).await {
            Ok(response) => response,
            Err(e) => {
                run.result_type = "model_error";
                run.error = Some(e.to_string());
                return run;
            }
        };
        // The pipeline's rule: a model that reports no usage is counted (o200k).
        let mut usage = response.usage;
        codemode::tokens::count_unreported(&mut usage, &request.messages, &response.text);
        run.usage.add(usage);
        // Native calls, else calls written in the text (also when functions are native: a
        // model may write them anyway).
        let native = !response.calls.is_empty();
        let turn = if native {
            native_turn(&response.calls)
        } else {
            parse_turn(&response.text)
        };
        messages.push(if native {
            Message::assistant_calls(response.text.clone(), response.calls.clone())
        } else {
            Message::assistant(response.text.clone())
        });
        // One reply per call made, or one for the whole turn (an unreadable or repeated call).
        let mut replies = Vec::new();
        let mut made = 0;
        match turn {
            Turn::Answer(text) => {
                run.result_type = "answered";
                run.answer = Value::String(text);
                return run;
            }
            Turn::Invalid(why) => {
                run.calls.push("?".into());
                run.failed_calls += 1;
                replies.push(if native {
                    format!("Error: {why}. Call the function again with a JSON object of arguments, or answer without a call when the task is done.")
                } else {
                    format!(
                        "Error: {why}. Call a function as <tool_call>{{\"name\": ..., \"arguments\": {{...}}}}</tool_call>, or answer without one when the task is done."
                    )
                });
            }
            Turn::Calls(mut calls) => {
                calls.truncate(spec.calls_per_turn);
                if calls == previous {
                    // The same calls again get the same answers; say so instead of making
                    // them (seen: the 1.5B model sent one failing program eight times at
                    // temperature 0).
                    for (name, _) in &calls {
                        run.calls.push(name.clone());
                        run.failed_calls += 1;
                    }
                    replies.push(format!(
                        "Error: this is the same call as your last one, and its answer would be the same (above). If the results above are enough for the task, answer now, without a function call; else change the call{}",
                        spec.repeat_hint
                    ));
                } else {
                    for (name, arguments) in &calls {
                        run.calls.push(name.clone());
                        let answer = call(name, arguments.clone()).await;
                        run.tool_calls += answer.tool_calls;
                        run.failed_calls += u32::from(answer.failed);
                        if let Some(result_type) = answer.ends_run {
                            run.result_type = result_type;
                            run.error = Some(answer.text);
                            return run;
                        }
                        replies.push(answer.text);
                    }
                    made = calls.len();
                    previous = calls;
                }
            }
        }
        if native {
            messages.extend(native_replies(&response.calls, replies, made, spec.calls_per_turn));
        } else {
            let replies: Vec<String> = replies
                .into_iter()
                .map(|reply| format!("<tool_response>\n{reply}\n</tool_response>"))
                .collect();
            messages.push(Message::user(replies.join("\n")));
        }
    }
    run.error = Some(format!("no answer after {} turns", spec.turns));
    run
}

/// The answer to a call of a function that was not offered.
pub(super) fn unknown_function(name: &str, names: &[String]) -> CallAnswer {
    CallAnswer {
        text: format!(
            "Error: there is no function `{name}`; the functions are {}.",
            names.join(", ")
        ),
        failed: true,
        tool_calls: 0,
        ends_run: None,
    }
}

/// The system prompt `template` for `functions`: in text format, `{functions}` becomes the
/// block that lists their signatures and says how to write a call; natively, the API carries
/// both and the block is left out.
pub(super) fn system_prompt(template: &str, functions: &[ToolSpec], format: FunctionCalls) -> String {
    match format {
        FunctionCalls::Text => {
            let signatures: Vec<String> = functions.iter().map(|t| signature(t).to_string()).collect();
            let block = TEXT_FUNCTIONS.replace("{tools}", &signatures.join("\n"));
            template
                .replace("{each}", ", one <tool_call> block each")
                .replace("{functions}", &block)
        }
        FunctionCalls::Native => template.replace("{each}", "").replace("{functions}", ""),
    }
}

/// The functions a loop offers natively: none in text format (they are in the prompt).
pub(super) fn native_functions(functions: &[ToolSpec], format: FunctionCalls) -> Vec<LlmFunction> {
    match format {
        FunctionCalls::Text => Vec::new(),
        FunctionCalls::Native => functions
            .iter()
            .map(|t| LlmFunction {
                name: t.name.clone(),
                description: t.description.clone().unwrap_or_default(),
                parameters: t.input_schema.clone(),
            })
            .collect(),
    }
}

/// A turn of native calls: their arguments are JSON text, read leniently; one that is not
/// an object makes the turn invalid (none of its calls is made).
fn native_turn(calls: &[LlmFunctionCall]) -> Turn {
    let mut read = Vec::new();
    for call in calls {
        let arguments = if call.arguments.trim().is_empty() {
            json!({})
        } else {
            lenient_json(&call.arguments).unwrap_or(Value::Null)
        };
        if !arguments.is_object() {
            return Turn::Invalid(format!("the arguments of `{}` are not a JSON object", call.name));
        }
        read.push((call.name.clone(), arguments));
    }
    Turn::Calls(read)
}

/// The `tool` messages answering a turn's native calls, one per call as the API requires:
/// the first `made` get their own reply; a turn answered as a whole gives every call that
/// reply; calls past `per_turn` are said not to be made.
fn native_replies(calls: &[LlmFunctionCall], replies: Vec<String>, made: usize, per_turn: usize) -> Vec<Message> {
    let whole = (made == 0).then(|| replies.first().cloned()).flatten();
    calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let text = match (&whole, replies.get(i)) {
                (Some(reply), _) => reply.clone(),
                (None, Some(reply)) if i < made => reply.clone(),
                _ => format!(
                    "Error: this call was not made: at most {per_turn} calls are made from one answer; call it again."
                ),
            };
            Message::tool(call.id.clone(), text)
        })
        .collect()
}

/// One function as the model reads it (the OpenAI `tools` entry).
pub(super) fn signature(tool: &ToolSpec) -> Value {
    json!({
        "type": "function",
        "function": { "name": tool.name, "description": tool.description, "parameters": tool.input_schema },
    })
}

/// What one model turn says.
#[derive(Debug, PartialEq)]
pub(super) enum Turn {
    /// Function calls (name, arguments), in order.
    Calls(Vec<(String, Value)>),
    /// No call: the agent's final answer.
    Answer(String),
    /// A call that cannot be read, and why (none of the turn's calls is made).
    Invalid(String),
}

/// Reads a turn: every `<tool_call>` block (the last closing tag may be missing); else a
/// JSON object with `name` (bare or fenced); else every fenced block between prose that is
/// an object with `name` and `arguments` (seen: "I will use `list_directory`:" and the call
/// in a ```json block); else the text is the answer.
pub(super) fn parse_turn(text: &str) -> Turn {
    let blocks: Vec<&str> = if text.contains("<tool_call>") {
        text.split("<tool_call>")
            .skip(1)
            .map(|rest| rest.split("</tool_call>").next().unwrap_or(rest))
            .collect()
    } else {
        let unfenced = text.trim().trim_start_matches("```json").trim_matches('`').trim();
        if unfenced.starts_with('{') && unfenced.contains("\"name\"") {
            vec![unfenced]
        } else {
            let fenced = fenced_calls(text);
            if fenced.is_empty() {
                return Turn::Answer(text.trim().to_string());
            }
            fenced
        }
    };
    let mut calls = Vec::new();
    for block in blocks {
        match parse_call(block) {
            Ok(call) => calls.push(call),
            Err(why) => return Turn::Invalid(why),
        }
    }
    Turn::Calls(calls)
}

/// The fenced code blocks of `text` that read as an object with a string `name` and
/// `arguments`.
fn fenced_calls(text: &str) -> Vec<&str> {
    text.split("```")
        .skip(1)
        .step_by(2)
        .map(|block| block.strip_prefix("json").unwrap_or(block).trim())
        .filter(|block| {
            lenient_json(block)
                .is_some_and(|v| v.get("name").is_some_and(Value::is_string) && v.get("arguments").is_some())
        })
        .collect()
}

fn parse_call(block: &str) -> Result<(String, Value), String> {
    let value = lenient_json(block.trim()).ok_or("the function call is not valid JSON")?;
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or("the function call has no \"name\"")?;
    let arguments = match value.get("arguments") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => json!({}),
    };
    if !arguments.is_object() {
        return Err(format!("the arguments of `{name}` are not a JSON object"));
    }
    Ok((name.to_string(), arguments))
}

/// JSON as small models write it: also with raw newlines and tabs inside strings (a
/// program in `"code"`), with a program in a JavaScript template literal (`` `...` ``, seen
/// with Qwen2.5-Coder 1.5B), and with text after the object.
fn lenient_json(text: &str) -> Option<Value> {
    let mut escaped = String::with_capacity(text.len());
    // The quote of the string the scan is in: `"`, or `` ` `` for a template literal.
    let mut quote: Option<char> = None;
    let mut backslash = false;
    for c in text.chars() {
        let was_backslash = backslash;
        backslash = c == '\\' && !was_backslash;
        match (quote, c) {
            (None, '"' | '`') => {
                quote = Some(c);
                escaped.push('"');
            }
            (Some(q), _) if c == q && !was_backslash => {
                quote = None;
                escaped.push('"');
            }
            (Some(_), '\n') => escaped.push_str("\\n"),
            (Some(_), '\r') => {}
            (Some(_), '\t') => escaped.push_str("\\t"),
            (Some('`'), '"') => escaped.push_str("\\\""),
            (Some('`'), '`') => {
                // `\`` inside a template literal: a backtick, which needs no escape in JSON.
                escaped.pop();
                escaped.push('`');
            }
            _ => escaped.push(c),
        }
    }
    let mut values = serde_json::Deserializer::from_str(&escaped).into_iter::<Value>();
    values.next()?.ok()
}

#[cfg(test)]
mod tests {
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
}
