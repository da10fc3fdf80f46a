//! The pipeline end to end with the scripted LLM (a test double), the in-process fake chat
//! provider (a test double) and the real Node.js process environment.

#[path = "../support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use codemode::testing::ScriptedLlm;
use codemode::{
    CodeMode, FilterMode, LlmRole, ResultType, RunOptions, StaticToolProvider, Step, ToolCatalog, ToolProvider,
    ToolSpec,
};
use serde_json::json;
use support::{FakeChatProvider, fenced, pipeline, scripted, select_all, without_models};

const SEED_PROGRAM: &str = r#"const { channels } = await tools.chat.list_channels({});
const sent = await Promise.all(
  channels.filter((c) => c.startsWith("test")).map((channel) => tools.chat.send_message({ channel, text: "hello" })),
);
for (const m of sent) {
  await tools.chat.add_reaction({ message_id: m.id, emoji: "wave" });
}
console.log(`sent ${sent.length}`);
return { sent: sent.length };"#;

mod checking;
mod execution;
mod filtering;
mod reporting;
