//! `codemode eval --agent`: the main model as the agent of an MCP client in front of
//! `codemode serve`, the way Claude Desktop or Cursor use it.
//!
//! Each task gets a fresh demo workspace behind a [`CodeModeServer`] on loopback HTTP; the
//! eval connects to it with codemode's MCP client and offers the model `search_tools`,
//! `describe_tools` and `execute_code` (as their descriptions and schemas, in the
//! function-calling format Qwen-style chat models are trained on: `<tool_call>` JSON; or
//! natively with `--function-calls native`). The
//! model calls them one per turn until it answers without a call or runs out of turns. The
//! task is judged by the workspace it leaves behind, like the pipeline's.

use std::sync::Arc;

use anyhow::Result;
use codemode::mcp::{McpServerConfig, McpToolProvider};
use codemode::serve::http::HttpOptions;
use codemode::serve::{CodeModeServer, ServeOptions};
use codemode::{CodeMode, Llm, ToolProvider, ToolSpec};
use serde_json::Value;

use super::turns::{self, AgentRun, CallAnswer, LoopSpec};
use crate::cli::FunctionCalls;

/// The agent's instructions ([`turns::system_prompt`]).
const AGENT_SYSTEM: &str = include_str!("agent_system.md");
/// The serve tools an agent is offered (`run_task` would hand the task to the pipeline).
const AGENT_TOOLS: [&str; 3] = ["search_tools", "describe_tools", "execute_code"];
/// Model turns per task: search, describe, a program and a few fixes, the answer.
const AGENT_TURNS: usize = 8;
/// The most output tokens one turn asks for (a program fits).
const TURN_TOKENS: u32 = 768;

/// Runs `query` with `model` as the agent of a [`CodeModeServer`] over `codemode`.
pub(super) async fn run(
    codemode: CodeMode,
    options: ServeOptions,
    model: &dyn Llm,
    format: FunctionCalls,
    query: &str,
) -> Result<(AgentRun, Option<String>)> {
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
        let run = drive(&client, model, format, query).await;
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

/// The agent loop over the serve tools; the run, and the last program sent to `execute_code`.
async fn drive(
    client: &McpToolProvider,
    model: &dyn Llm,
    format: FunctionCalls,
    query: &str,
) -> Result<(AgentRun, Option<String>)> {
    let offered: Vec<ToolSpec> = client
        .list_tools()
        .await
        .map_err(|e| anyhow::anyhow!("tools/list of codemode serve: {e}"))?
        .into_iter()
        .filter(|t| AGENT_TOOLS.contains(&t.name.as_str()))
        .collect();
    let names: Vec<String> = offered.iter().map(|t| t.name.clone()).collect();
    let spec = LoopSpec {
        system: turns::system_prompt(AGENT_SYSTEM, &offered, format),
        functions: turns::native_functions(&offered, format),
        turns: AGENT_TURNS,
        calls_per_turn: 1,
        turn_tokens: TURN_TOKENS,
        repeat_hint: ": when a tool path or type is unknown, call search_tools, then describe_tools.",
    };
    let mut last_program = None;
    let run = turns::drive(model, &spec, query, async |name: &str, arguments: Value| {
        if !names.iter().any(|n| n == name) {
            return turns::unknown_function(name, &names);
        }
        if name == "execute_code" {
            last_program = arguments.get("code").and_then(Value::as_str).map(str::to_string);
        }
        match client.call_tool(name, arguments).await {
            Ok(value) => {
                // execute_code answers with its report, whose `tool_calls` are the MCP calls.
                let tool_calls = value.get("tool_calls").and_then(Value::as_array).map_or(0, Vec::len);
                let text = match value {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                CallAnswer {
                    text,
                    failed: false,
                    tool_calls,
                    ends_run: None,
                }
            }
            Err(e) => CallAnswer {
                text: format!("Error: {e}"),
                failed: true,
                tool_calls: 0,
                ends_run: None,
            },
        }
    })
    .await;
    Ok((run, last_program))
}
