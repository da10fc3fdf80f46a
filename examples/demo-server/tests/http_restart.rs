//! The demo server restarted under a connected client: the client's HTTP session is gone
//! (the new process answers 404), and the next call renews it and goes through.

use std::time::Duration;

use codemode_core::ToolProvider;
use codemode_mcp::{McpServerConfig, McpToolProvider};
use serde_json::json;

/// The real binary serving streamable HTTP on `port`, once it accepts connections.
async fn demo_over_http(port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_codemode-demo-server"))
        .args(["--http", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the demo server did not listen on port {port}");
}

#[tokio::test]
async fn a_restarted_http_server_gets_a_new_session_on_the_next_call() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = demo_over_http(port).await;
    let config = McpServerConfig {
        url: Some(format!("http://127.0.0.1:{port}/mcp")),
        ..McpServerConfig::default()
    };
    let provider = McpToolProvider::connect("workspace", &config).await.unwrap();
    let send = json!({"channel": "general", "text": "before"});
    assert_eq!(
        provider.call_tool("send_message", send).await.unwrap()["channel"],
        "general"
    );

    server.kill().await.unwrap();
    let _server = demo_over_http(port).await;
    // No failed call in between: the first call after the restart goes through.
    let call = provider.call_tool("list_channels", json!({}));
    let channels = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the call does not hang")
        .unwrap();
    assert!(
        channels["channels"].as_array().is_some_and(|c| !c.is_empty()),
        "{channels}"
    );
}
