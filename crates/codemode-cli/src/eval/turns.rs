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
mod tests;
