//! `McpToolProvider` against real MCP servers nobody here wrote (the reference servers from
//! npm, installed by `.ci/run` into `tests/npm`), driven by TypeScript programs in the Node
//! process environment; and against a misbehaving fixture server for the failure cases.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codemode_core::{CodeMode, ResultType, RunOptions, ToolError, ToolProvider};
use codemode_env_local::ProcessEnvironment;
use codemode_mcp::McpServerConfig;
use codemode_mcp::McpToolProvider;
use serde_json::json;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A reference server's binary from `tests/npm/node_modules/.bin`.
fn npm_server(name: &str) -> String {
    let bin = root().join("tests/npm/node_modules/.bin").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run `npm ci --prefix tests/npm` (as .ci/run does)",
        bin.display()
    );
    bin.to_string_lossy().into_owned()
}

fn stdio(command: String, args: &[&str]) -> McpServerConfig {
    McpServerConfig {
        command: Some(command),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..McpServerConfig::default()
    }
}

fn fixture(mode: &str, log: Option<&std::path::Path>) -> McpServerConfig {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/misbehaving_server.mjs");
    let mut config = stdio("node".into(), &[script.to_str().unwrap()]);
    config.env.insert("FIXTURE_MODE".into(), mode.into());
    if let Some(log) = log {
        config
            .env
            .insert("FIXTURE_LOG".into(), log.to_string_lossy().into_owned());
    }
    config
}

/// A `CodeMode` over one provider in the Node.js environment, with the default approvals.
async fn node_codemode(namespace: &str, provider: Arc<dyn ToolProvider>) -> CodeMode {
    CodeMode::builder()
        .environment(Arc::new(ProcessEnvironment::node().unwrap()))
        .tool_provider(namespace, provider)
        .build()
        .await
        .unwrap()
}

/// A `CodeMode` over `servers` that approves every call (these tests are about the servers;
/// the filesystem server annotates `write_file` as destructive).
async fn codemode_with(servers: Vec<(&str, McpServerConfig)>) -> CodeMode {
    let mut builder = CodeMode::builder()
        .environment(Arc::new(ProcessEnvironment::node().unwrap()))
        .approver(Arc::new(codemode_core::ApproveAll));
    for (name, config) in servers {
        let provider = McpToolProvider::connect(name, &config)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        builder = builder.tool_provider(name, Arc::new(provider));
    }
    builder.build().await.unwrap()
}

mod failures;
mod servers;
mod wire;

fn unavailable_message(err: &ToolError) -> &str {
    match err {
        ToolError::Unavailable { message, .. } => message,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
