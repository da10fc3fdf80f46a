//! The seed's TypeScript example in Rust: three models, an MCP server, an environment, `run`.
//!
//! ```sh
//! OPENROUTER_API_KEY=... cargo run --example library
//! ```
//! Without a key it says so and stops (`codemode demo` shows the pipeline offline).

use std::sync::Arc;

use codemode::mcp::McpServerConfig;
use codemode::mcp::McpToolProvider;
use codemode::openrouter::OpenRouterClient;
use codemode::{CodeMode, RunOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(openrouter) = OpenRouterClient::new() else {
        eprintln!("set OPENROUTER_API_KEY to run this example (or try `cargo codemode demo`)");
        return Ok(());
    };
    let workspace = McpServerConfig {
        command: Some("codemode-demo-server".into()),
        ..Default::default()
    };
    let codemode = CodeMode::builder()
        .strategy_llm(Arc::new(openrouter.llm("anthropic/claude-sonnet-4.5").build()))
        .tiny_llm(Arc::new(openrouter.llm("google/gemini-2.5-flash").build()))
        .main_llm(Arc::new(openrouter.llm("anthropic/claude-sonnet-4.5").build()))
        .tool_provider(
            "workspace",
            Arc::new(McpToolProvider::connect("workspace", &workspace).await?),
        )
        .environment(codemode::default_environment()?)
        .build()
        .await?;
    let query = "Get all channels, send a message to every channel that starts with 'test', \
                 and set an emoji on each message in channels that start with the letter 'e'.";
    let report = codemode.run(RunOptions::new(query).max_tool_calls(50)).await?;
    println!("{}: {}", report.result_type, report.output);
    print!("{}", report.timing_table());
    Ok(())
}
