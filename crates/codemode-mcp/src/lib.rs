//! MCP servers as codemode tool providers, on the official Rust SDK (`rmcp`).
//!
//! [`McpToolProvider::connect`] starts a stdio server as a child process (command, args,
//! env, cwd) or connects to a streamable HTTP server (URL, headers, bearer token from an
//! environment variable). Each server becomes one namespace of the `ToolCatalog`.
//!
//! Results: `structuredContent` when present, otherwise text parsed as JSON when it is JSON
//! and kept as a string when not; images and resources as small objects with their MIME
//! type; `isError` results fail the call (a JS exception naming the tool). A call that
//! exceeds `tool_call_timeout` is dropped, which sends MCP's `notifications/cancelled`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode_core::config::McpServerConfig;
//! use codemode_mcp::McpToolProvider;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = McpServerConfig {
//!     command: Some("npx".into()),
//!     args: vec!["-y".into(), "@modelcontextprotocol/server-memory".into()],
//!     ..McpServerConfig::default()
//! };
//! let memory = McpToolProvider::connect("memory", &config).await?;
//! let codemode = codemode_core::CodeMode::builder().tool_provider("memory", Arc::new(memory)).build().await?;
//! println!("{}", codemode.declarations());
//! # Ok(()) }
//! ```

mod content;
mod provider;

use std::sync::Arc;

use codemode_core::config::McpServerConfig;
use codemode_core::registry::{ProviderFuture, ToolProviderFactory};
use codemode_core::{ToolError, ToolProvider};

pub use content::result_to_value;
pub use provider::{McpError, McpToolProvider};

fn create(name: String, config: serde_json::Value) -> ProviderFuture {
    Box::pin(async move {
        let config: McpServerConfig = serde_json::from_value(config).map_err(|e| ToolError::Unavailable {
            provider: name.clone(),
            message: format!("invalid MCP server configuration: {e}"),
        })?;
        let provider = McpToolProvider::connect(&name, &config).await?;
        Ok(Arc::new(provider) as Arc<dyn ToolProvider>)
    })
}

inventory::submit! {
    ToolProviderFactory {
        name: "mcp",
        description: "MCP servers over stdio (child process) or streamable HTTP",
        create,
    }
}
