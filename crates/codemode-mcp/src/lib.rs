//! MCP servers as codemode tool providers, on the official Rust SDK (`rmcp`).
//!
//! [`McpToolProvider::connect`] starts a stdio server as a child process (command, args,
//! env, cwd) or connects to a streamable HTTP server (URL, headers, bearer token from an
//! environment variable). Each server becomes one namespace of the `ToolCatalog`.
//!
//! Results: `structuredContent` when present, otherwise text parsed as JSON when it is JSON
//! (or a whole Python literal such as `str(rows)`, read as the JSON it stands for) and kept
//! as a string when not; images and resources as small objects with their MIME
//! type; `isError` results fail the call (a JS exception naming the tool). A call that
//! exceeds `tool_call_timeout` is dropped, which sends MCP's `notifications/cancelled`. An
//! answer larger than a stdio message may be (16 MiB) fails its call at once, naming the
//! size. Tools that can only be called as MCP tasks are left out, with the reason in
//! [`McpToolProvider::listing_warnings`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode_mcp::{McpServerConfig, McpToolProvider};
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

mod config;
mod content;
mod listing;
mod provider;
mod pyrepr;
mod stdio;

use std::sync::Arc;

use codemode_traits::CodeModeError;
use codemode_traits::registry::{FactoryContext, ProviderFuture, ToolProviderFactory};
use codemode_traits::{ToolError, ToolProvider};

pub use config::McpServerConfig;
pub use content::result_to_value;
pub use provider::{GARBAGE_GRACE, MAX_RESTARTS, McpError, McpToolProvider};

fn check(context: &FactoryContext) -> Result<(), CodeModeError> {
    McpServerConfig::from_context(context).map(drop)
}

fn create(context: FactoryContext) -> ProviderFuture {
    Box::pin(async move {
        let config = McpServerConfig::from_context(&context).map_err(|e| ToolError::Unavailable {
            provider: context.name.clone(),
            message: e.to_string(),
        })?;
        let provider = McpToolProvider::connect(&context.name, &config).await?;
        Ok(Arc::new(provider) as Arc<dyn ToolProvider>)
    })
}

inventory::submit! {
    ToolProviderFactory {
        name: "mcp",
        description: "MCP servers over stdio (child process) or streamable HTTP",
        check,
        create,
    }
}
