//! The seed's example query as a hand-written program against the demo server, over stdio
//! (the real binary as a child process) and over streamable HTTP (loopback), with the
//! workspace state checked afterwards.

use std::sync::{Arc, Mutex};

use codemode_core::{CodeMode, ResultType, RunOptions};
use codemode_demo_server::{DemoServer, WorkspaceState, http_router};
use codemode_env_local::ProcessEnvironment;
use codemode_mcp::McpServerConfig;
use codemode_mcp::McpToolProvider;
use serde_json::json;

/// "Get all channels, send a message to every channel that starts with 'test', set an emoji
/// on each message in channels that start with the letter 'e'."
const SEED_PROGRAM: &str = r#"
const { channels } = await tools.workspace.list_channels({});
const sent = await Promise.all(
  channels
    .filter((c) => c.name.startsWith("test"))
    .map((c) => tools.workspace.send_message({ channel: c.name, text: "Hello from codemode" })),
);
const lists = await Promise.all(
  channels.filter((c) => c.name.startsWith("e")).map((c) => tools.workspace.list_messages({ channel: c.name })),
);
const reacted = await Promise.all(
  lists.flatMap((l) => l.messages).map((m) => tools.workspace.add_reaction({ message_id: m.id, emoji: "eyes" })),
);
return { sent: sent.map((m) => m.channel), reacted: reacted.map((m) => m.id) };
"#;

async fn run_seed(config: McpServerConfig) -> serde_json::Value {
    let provider = McpToolProvider::connect("workspace", &config).await.unwrap();
    let cm = CodeMode::builder()
        .tool_provider("workspace", Arc::new(provider))
        .environment(Arc::new(ProcessEnvironment::node().unwrap()))
        .build()
        .await
        .unwrap();
    let check = cm.check_program(SEED_PROGRAM).await.unwrap();
    assert!(check.diagnostics.is_empty(), "{:?}", check.diagnostics);
    let report = cm
        .run(codemode_core::RunRequest::program(SEED_PROGRAM, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(
        report.output,
        json!({"sent": ["test-alerts", "test-deploys"], "reacted": [2, 3, 4]})
    );
    assert_eq!(report.tool_calls.len(), 1 + 2 + 2 + 3);
    let state = cm
        .run(codemode_core::RunRequest::program(
            "return await tools.workspace.get_workspace_state({});",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    state.output
}

fn assert_seed_applied(state: &WorkspaceState) {
    // The two sends run concurrently (Promise.all): their order at the server may vary.
    let mut new: Vec<(&str, &str)> = state
        .messages
        .iter()
        .filter(|m| m.author == "me")
        .map(|m| (m.channel.as_str(), m.text.as_str()))
        .collect();
    new.sort();
    assert_eq!(
        new,
        vec![
            ("test-alerts", "Hello from codemode"),
            ("test-deploys", "Hello from codemode")
        ]
    );
    for m in &state.messages {
        let expected: &[&str] = if m.channel.starts_with('e') { &["eyes"] } else { &[] };
        assert_eq!(m.reactions, expected, "message {} in {}", m.id, m.channel);
    }
}

#[tokio::test]
async fn seed_query_over_stdio() {
    let config = McpServerConfig {
        command: Some(env!("CARGO_BIN_EXE_codemode-demo-server").into()),
        ..McpServerConfig::default()
    };
    let state = run_seed(config).await;
    let state: WorkspaceState = serde_json::from_value(state).unwrap();
    assert_seed_applied(&state);
}

#[tokio::test]
async fn seed_query_over_streamable_http() {
    let shared = Arc::new(Mutex::new(WorkspaceState::seed()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, http_router(DemoServer::with_state(shared.clone()))).into_future());
    let mut config = McpServerConfig {
        url: Some(format!("http://{addr}/mcp")),
        ..McpServerConfig::default()
    };
    config.headers.insert("X-Demo-Client".into(), "codemode-tests".into());
    run_seed(config).await;
    assert_seed_applied(&shared.lock().unwrap());
    server.abort();
}

#[tokio::test]
async fn reset_restores_the_seed_state() {
    use codemode_core::ToolProvider;
    let shared = Arc::new(Mutex::new(WorkspaceState::seed()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, http_router(DemoServer::with_state(shared.clone()))).into_future());
    let config = McpServerConfig {
        url: Some(format!("http://{addr}/mcp")),
        ..McpServerConfig::default()
    };
    let provider = McpToolProvider::connect("workspace", &config).await.unwrap();
    provider
        .call_tool("send_message", json!({"channel": "general", "text": "x"}))
        .await
        .unwrap();
    provider.call_tool("close_issue", json!({"issue_id": 1})).await.unwrap();
    assert_eq!(shared.lock().unwrap().messages.len(), 6);
    let err = provider
        .call_tool("send_message", json!({"channel": "nope", "text": "x"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no channel named `nope`"), "{err}");
    assert_eq!(
        provider.call_tool("reset_workspace", json!({})).await.unwrap(),
        json!("workspace reset")
    );
    let state = shared.lock().unwrap().clone();
    assert_eq!(
        serde_json::to_value(&state).unwrap(),
        serde_json::to_value(WorkspaceState::seed()).unwrap()
    );
    server.abort();
}
