//! `codemode serve` end to end over streamable HTTP on loopback: the demo MCP server (real
//! rmcp, HTTP) behind a `CodeModeServer`, and codemode's own MCP client (rmcp) as the agent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use codemode_core::{CodeMode, StaticToolProvider, ToolError, ToolProvider, ToolSpec};
use codemode_demo_server::{DemoServer, WorkspaceState};
use codemode_env_local::WasmEnvironment;
use codemode_mcp::{McpServerConfig, McpToolProvider};
use codemode_serve::http::HttpOptions;
use codemode_serve::{CodeModeServer, ServeOptions};
use serde_json::{Value, json};

/// The demo workspace over HTTP on loopback; its state, shared with the test.
async fn demo_server() -> (McpServerConfig, Arc<Mutex<WorkspaceState>>) {
    let shared = Arc::new(Mutex::new(WorkspaceState::seed()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = codemode_demo_server::http_router(DemoServer::with_state(shared.clone()));
    tokio::spawn(axum::serve(listener, router).into_future());
    let config = McpServerConfig {
        url: Some(format!("http://{addr}/mcp")),
        ..McpServerConfig::default()
    };
    (config, shared)
}

/// A key the server's environment holds, which no answer may carry.
const UPSTREAM_KEY: &str = "upstream-key-0123456789";

/// Sets the variables the tests read, once, before any server reads the environment.
fn test_environment() {
    static SET: std::sync::Once = std::sync::Once::new();
    // SAFETY of set_var: it runs once, before any test of this binary starts a server or
    // a client (the only readers of the environment here).
    SET.call_once(|| unsafe {
        std::env::set_var("CODEMODE_TEST_SERVE_TOKEN", "s3cret-token");
        std::env::set_var("CODEMODE_TEST_WRONG_TOKEN", "wrong-token");
        std::env::set_var("CODEMODE_TEST_UPSTREAM_API_KEY", UPSTREAM_KEY);
    });
}

/// `codemode serve` over HTTP in front of `providers` (the wasm sandbox, no models); its URL.
async fn serve(providers: Vec<(&str, Arc<dyn ToolProvider>)>, options: ServeOptions, http: HttpOptions) -> String {
    test_environment();
    let mut builder = CodeMode::builder().environment(Arc::new(WasmEnvironment::new().unwrap()));
    for (name, provider) in providers {
        builder = builder.tool_provider(name, provider);
    }
    serve_codemode(builder.build().await.unwrap(), options, http).await
}

/// `codemode serve` over HTTP in front of `codemode`; its URL.
async fn serve_codemode(codemode: CodeMode, options: ServeOptions, http: HttpOptions) -> String {
    test_environment();
    let server = CodeModeServer::new(Arc::new(codemode), options);
    let listener = codemode_serve::http::bind("127.0.0.1:0", &http).await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { codemode_serve::http::serve(server, listener, &http, std::future::pending()).await });
    url
}

/// Our MCP client, as an agent would connect.
async fn agent(url: &str, token_env: Option<&str>) -> Result<McpToolProvider, codemode_mcp::McpError> {
    let config = McpServerConfig {
        url: Some(url.to_string()),
        bearer_token_env: token_env.map(str::to_string),
        ..McpServerConfig::default()
    };
    McpToolProvider::connect("codemode", &config).await
}

async fn workspace_serve(options: ServeOptions) -> (McpToolProvider, Arc<Mutex<WorkspaceState>>) {
    let (config, state) = demo_server().await;
    let workspace = McpToolProvider::connect("workspace", &config).await.unwrap();
    let url = serve(
        vec![("workspace", Arc::new(workspace))],
        options,
        HttpOptions::default(),
    )
    .await;
    (agent(&url, None).await.unwrap(), state)
}

mod models;
mod programs;
mod security;
