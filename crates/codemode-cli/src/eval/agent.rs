//! `codemode eval --agent`: the main model as the agent of an MCP client in front of
//! `codemode serve`, the way Claude Desktop or Cursor use it.
//!
//! Each task gets a fresh demo workspace behind a [`CodeModeServer`] on loopback HTTP; the
//! eval connects to it with codemode's MCP client and offers the model `search_tools`,
//! `describe_tools` and `execute_code` (as their descriptions and schemas, in the
//! function-calling format Qwen-style chat models are trained on: `<tool_call>` JSON). The
//! model calls them one per turn until it answers without a call or runs out of turns. The
//! task is judged by the workspace it leaves behind, like the pipeline's.

use std::sync::Arc;

use anyhow::Result;
use codemode::mcp::{McpServerConfig, McpToolProvider};
use codemode::serve::http::HttpOptions;
use codemode::serve::{CodeModeServer, ServeOptions};
use codemode::{CodeMode, Llm, LlmRequest, LlmRole, Message, TokenUsage, ToolProvider, ToolSpec};
use serde_json::{Value, json};

/// The agent's instructions; `{tools}` becomes one JSON function signature per line.
const AGENT_SYSTEM: &str = include_str!("agent_system.md");
/// The serve tools an agent is offered (`run_task` would hand the task to the pipeline).
const AGENT_TOOLS: [&str; 3] = ["search_tools", "describe_tools", "execute_code"];
/// Model turns per task: search, describe, a program and a few fixes, the answer.
const AGENT_TURNS: usize = 8;
/// The most output tokens one turn asks for (a program fits).
const TURN_TOKENS: u32 = 768;

/// What the agent did with one task.
#[derive(Debug, Default)]
pub(super) struct AgentRun {
    /// `answered` (ended without a call), `turns_exhausted`, or `model_error`.
    pub result_type: &'static str,
    /// The final answer, as a string value.
    pub answer: Value,
    /// Why the run ended early, when it did.
    pub error: Option<String>,
    /// The serve tools it called, in order (`?` for an answer that was not a valid call).
    pub calls: Vec<String>,
    /// `execute_code` calls that came back with an error (the agent's repairs).
    pub failed_programs: u32,
    /// The last program it sent to `execute_code`.
    pub last_program: Option<String>,
    /// The main model's calls and tokens.
    pub usage: TokenUsage,
}

/// Runs `query` with `model` as the agent of a [`CodeModeServer`] over `codemode`.
pub(super) async fn run(codemode: CodeMode, options: ServeOptions, model: &dyn Llm, query: &str) -> Result<AgentRun> {
    let server = CodeModeServer::new(Arc::new(codemode), options);
    let http = HttpOptions::default();
    let listener = codemode::serve::http::bind("127.0.0.1:0", &http).await?;
    let url = format!("http://{}/mcp", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = codemode::serve::http::serve(server, listener, &http, async {
        let _ = stopped.await;
    });
    let agent = async {
        let client = McpToolProvider::connect(
            "codemode",
            &McpServerConfig {
                url: Some(url),
                ..McpServerConfig::default()
            },
        )
        .await?;
        let run = drive(&client, model, query).await;
        // The session is deleted before the server stops.
        client.close().await;
        let _ = stop.send(());
        run
    };
    tokio::select! {
        run = agent => run,
        served = serving => {
            served?;
            anyhow::bail!("codemode serve stopped before the agent finished")
        }
    }
}

/// The agent loop: one model turn, at most one tool call, its result back as the next turn.
async fn drive(client: &McpToolProvider, model: &dyn Llm, query: &str) -> Result<AgentRun> {
    let offered: Vec<ToolSpec> = client
        .list_tools()
        .await
        .map_err(|e| anyhow::anyhow!("tools/list of codemode serve: {e}"))?
        .into_iter()
        .filter(|t| AGENT_TOOLS.contains(&t.name.as_str()))
        .collect();
    let mut messages = vec![Message::system(system_prompt(&offered)), Message::user(query)];
    let mut run = AgentRun {
        result_type: "turns_exhausted",
        ..AgentRun::default()
    };
    // The last call made, to tell a repeated one.
    let mut previous: Option<(String, Value)> = None;
    for _ in 0..AGENT_TURNS {
        let request = LlmRequest {
            role: LlmRole::Main,
            step: "agent".into(),
            messages: messages.clone(),
            max_output_tokens: Some(TURN_TOKENS),
            sampling: Default::default(),
        };
        let response = match model.complete(&request).await {
            Ok(response) => response,
            Err(e) => {
                run.result_type = "model_error";
                run.error = Some(e.to_string());
                return Ok(run);
            }
        };
        // The pipeline's rule: a model that reports no usage is counted (o200k).
        let mut usage = response.usage;
        codemode::tokens::count_unreported(&mut usage, &request.messages, &response.text);
        run.usage.add(usage);
        messages.push(Message::assistant(response.text.clone()));
        let reply = match parse_turn(&response.text) {
            Turn::Answer(text) => {
                run.result_type = "answered";
                run.answer = Value::String(text);
                return Ok(run);
            }
            Turn::Invalid(why) => {
                run.calls.push("?".into());
                format!(
                    "Error: {why}. Call a function as <tool_call>{{\"name\": ..., \"arguments\": {{...}}}}</tool_call>, or answer without one when the task is done."
                )
            }
            Turn::Call { name, arguments } if previous.as_ref() == Some(&(name.clone(), arguments.clone())) => {
                // The same call again gets the same answer; say so instead of running it
                // (seen: the 1.5B model sent one failing program eight times at temperature 0).
                run.calls.push(name.clone());
                if name == "execute_code" {
                    run.failed_programs += 1;
                }
                format!(
                    "Error: this is the same `{name}` call as your last one, and its answer would be the same (above). Change the call: when a tool path or type is unknown, call search_tools, then describe_tools."
                )
            }
            Turn::Call { name, arguments } => {
                previous = Some((name.clone(), arguments.clone()));
                run.calls.push(name.clone());
                if name == "execute_code" {
                    run.last_program = arguments.get("code").and_then(Value::as_str).map(str::to_string);
                }
                if !offered.iter().any(|t| t.name == name) {
                    format!(
                        "Error: there is no function `{name}`; the functions are {}.",
                        AGENT_TOOLS.join(", ")
                    )
                } else {
                    match client.call_tool(&name, arguments).await {
                        Ok(value) => match value {
                            Value::String(text) => text,
                            other => other.to_string(),
                        },
                        Err(e) => {
                            if name == "execute_code" {
                                run.failed_programs += 1;
                            }
                            format!("Error: {e}")
                        }
                    }
                }
            }
        };
        messages.push(Message::user(format!("<tool_response>\n{reply}\n</tool_response>")));
    }
    run.error = Some(format!("no answer after {AGENT_TURNS} turns"));
    Ok(run)
}

fn system_prompt(tools: &[ToolSpec]) -> String {
    let signatures: Vec<String> = tools
        .iter()
        .map(|t| {
            json!({
                "type": "function",
                "function": { "name": t.name, "description": t.description, "parameters": t.input_schema },
            })
            .to_string()
        })
        .collect();
    AGENT_SYSTEM.replace("{tools}", &signatures.join("\n"))
}

/// What one model turn says.
#[derive(Debug, PartialEq)]
enum Turn {
    /// A function call.
    Call { name: String, arguments: Value },
    /// No call: the agent's final answer.
    Answer(String),
    /// A call that cannot be read, and why.
    Invalid(String),
}

/// Reads a turn: the first `<tool_call>` block (the closing tag may be missing), else a
/// JSON object with `name` and `arguments` (bare or fenced), else the text is the answer.
fn parse_turn(text: &str) -> Turn {
    let call = match text.find("<tool_call>") {
        Some(start) => {
            let rest = &text[start + "<tool_call>".len()..];
            Some(rest.split("</tool_call>").next().unwrap_or(rest))
        }
        None => {
            let unfenced = text.trim().trim_start_matches("```json").trim_matches('`').trim();
            (unfenced.starts_with('{') && unfenced.contains("\"name\"")).then_some(unfenced)
        }
    };
    let Some(call) = call else {
        return Turn::Answer(text.trim().to_string());
    };
    let Some(value) = lenient_json(call.trim()) else {
        return Turn::Invalid("the function call is not valid JSON".into());
    };
    let Some(name) = value.get("name").and_then(Value::as_str) else {
        return Turn::Invalid("the function call has no \"name\"".into());
    };
    let arguments = match value.get("arguments") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => json!({}),
    };
    if !arguments.is_object() {
        return Turn::Invalid(format!("the arguments of `{name}` are not a JSON object"));
    }
    Turn::Call {
        name: name.to_string(),
        arguments,
    }
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

    #[test]
    fn a_tool_call_is_read_with_raw_newlines_in_the_program() {
        let turn = parse_turn(
            "Let me run it.\n<tool_call>\n{\"name\": \"execute_code\", \"arguments\": {\"code\": \"const a = \\\"x\\\";\n\treturn a;\"}}\n</tool_call>",
        );
        assert_eq!(
            turn,
            Turn::Call {
                name: "execute_code".into(),
                arguments: json!({ "code": "const a = \"x\";\n\treturn a;" }),
            }
        );
    }

    #[test]
    fn a_program_in_a_template_literal_is_read() {
        let turn = parse_turn(
            "```json\n{\n  \"name\": \"execute_code\",\n  \"arguments\": {\n    \"code\": `\n      const a = \"x\";\n      return a + \\`y\\`;\n    `\n  }\n}\n```",
        );
        assert_eq!(
            turn,
            Turn::Call {
                name: "execute_code".into(),
                arguments: json!({ "code": "\n      const a = \"x\";\n      return a + `y`;\n    " }),
            }
        );
    }

    #[test]
    fn bare_and_fenced_calls_answers_and_garbage_are_told_apart() {
        assert_eq!(
            parse_turn("```json\n{\"name\": \"search_tools\", \"arguments\": {\"query\": \"chat\"}}\n```"),
            Turn::Call {
                name: "search_tools".into(),
                arguments: json!({ "query": "chat" }),
            }
        );
        assert_eq!(
            parse_turn("<tool_call>{\"name\": \"describe_tools\", \"arguments\": \"{\\\"paths\\\": [\\\"a.b\\\"]}\"}"),
            Turn::Call {
                name: "describe_tools".into(),
                arguments: json!({ "paths": ["a.b"] }),
            }
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
}
