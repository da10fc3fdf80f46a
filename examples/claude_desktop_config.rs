//! Tools from the MCP servers of a Claude Desktop / Cursor config file.
//!
//! ```sh
//! cargo run --example claude_desktop_config -- ~/.config/Claude/claude_desktop_config.json
//! ```
//! Without an argument it uses a config that starts the demo server through `cargo`.

use std::path::PathBuf;
use std::sync::Arc;

use codemode::CodeMode;
use codemode::config::load_mcp_servers_json;
use codemode::mcp::{McpServerConfig, McpToolProvider};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::args().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            let file = std::env::temp_dir().join("codemode-example-mcp.json");
            let config = r#"{"mcpServers": {"workspace": {"command": "cargo", "args": ["run", "--quiet", "-p", "codemode-demo-server"]}}}"#;
            std::fs::write(&file, config)?;
            file
        }
    };
    let mut builder = CodeMode::builder();
    for (name, context) in load_mcp_servers_json(&path)? {
        // Checks the entry and resolves its `cwd` against the file's folder.
        let server = McpServerConfig::from_context(&context)?;
        match McpToolProvider::connect(&name, &server).await {
            Ok(provider) => builder = builder.tool_provider(name, Arc::new(provider)),
            Err(e) => eprintln!("skipping {name}: {e}"),
        }
    }
    let codemode = builder.build().await?;
    for path in codemode.catalog().tool_paths() {
        println!("tools.{path}");
    }
    Ok(())
}
