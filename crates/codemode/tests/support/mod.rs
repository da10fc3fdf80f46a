//! Test doubles shared by the integration tests: an in-process chat workspace provider
//! (`FakeChatProvider`, not an MCP server) and helpers to build a pipeline with the
//! scripted LLM.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use codemode::testing::ScriptedLlm;
use codemode::{CodeMode, LlmRole, ToolError, ToolProvider, ToolSpec};
use serde_json::{Value, json};

/// A fake chat workspace: channels, messages and reactions, kept in memory.
#[derive(Default)]
pub(crate) struct FakeChatProvider {
    pub messages: Mutex<Vec<Value>>,
    pub reactions: Mutex<Vec<Value>>,
}

#[async_trait]
impl ToolProvider for FakeChatProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        Ok(vec![
            ToolSpec::new("list_channels", "List all channels", json!({"type": "object", "properties": {}}))
                .with_output_schema(json!({"type": "object", "properties": {"channels": {"type": "array", "items": {"type": "string"}}}, "required": ["channels"]})),
            ToolSpec::new(
                "send_message",
                "Send a message to a channel",
                json!({"type": "object", "properties": {"channel": {"type": "string"}, "text": {"type": "string"}}, "required": ["channel", "text"], "additionalProperties": false}),
            ),
            ToolSpec::new(
                "add_reaction",
                "React to a message with an emoji",
                json!({"type": "object", "properties": {"message_id": {"type": "integer"}, "emoji": {"type": "string"}}, "required": ["message_id", "emoji"]}),
            ),
            ToolSpec::new("slow", "Waits `ms` milliseconds", json!({"type": "object", "properties": {"ms": {"type": "integer"}}, "required": ["ms"]})),
            ToolSpec::new("fail", "Always fails", json!({"type": "object"})),
        ])
    }

    async fn call_tool(&self, name: &str, args: Value) -> Result<Value, ToolError> {
        match name {
            "list_channels" => Ok(json!({"channels": ["general", "test-1", "test-2", "eng", "random"]})),
            "send_message" => {
                let mut m = self.messages.lock().unwrap();
                m.push(args.clone());
                Ok(json!({"id": m.len(), "channel": args["channel"]}))
            }
            "add_reaction" => {
                self.reactions.lock().unwrap().push(args);
                Ok(json!({"ok": true}))
            }
            "slow" => {
                tokio::time::sleep(Duration::from_millis(args["ms"].as_u64().unwrap_or(0))).await;
                Ok(json!({"slept": args["ms"]}))
            }
            "fail" => Err(ToolError::Failed("the fake tool failed on purpose".into())),
            other => Err(ToolError::UnknownTool(other.into())),
        }
    }
}

/// Answers the filter with every tool path it is shown.
pub(crate) fn select_all(request: &codemode::LlmRequest) -> Result<String, codemode::LlmError> {
    let listing = &request.messages[1].content;
    let paths: Vec<String> = listing
        .lines()
        .filter_map(|l| {
            l.split_once(". ")
                .and_then(|(n, rest)| n.parse::<usize>().ok().map(|_| rest))
        })
        .filter_map(|rest| rest.split('(').next().map(str::to_string))
        .collect();
    Ok(serde_json::to_string(&paths).unwrap())
}

pub(crate) fn fenced(code: &str) -> String {
    format!("Here is the program:\n```typescript\n{code}\n```\n")
}

pub(crate) async fn pipeline(llm: Arc<ScriptedLlm>, chat: Arc<FakeChatProvider>) -> CodeMode {
    CodeMode::builder()
        .llm(llm)
        .tool_provider("chat", chat)
        .environment(codemode::default_environment().expect("Node.js is needed for these tests"))
        .build()
        .await
        .unwrap()
}

/// The chat tools in the default environment, with no models: for `RunRequest::program`.
pub(crate) async fn without_models(chat: Arc<FakeChatProvider>) -> CodeMode {
    CodeMode::builder()
        .tool_provider("chat", chat)
        .environment(codemode::default_environment().expect("the default environment starts"))
        .build()
        .await
        .unwrap()
}

pub(crate) fn scripted(main_answers: &[&str]) -> ScriptedLlm {
    let mut llm = ScriptedLlm::new()
        .reply(
            LlmRole::Strategy,
            "1. list channels\n2. send to test channels\n3. react",
        )
        .respond_with(LlmRole::Tiny, select_all);
    for a in main_answers {
        llm = llm.reply(LlmRole::Main, fenced(a));
    }
    llm
}
