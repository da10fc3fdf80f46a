//! `codemode-demo-server`: the demo MCP server over stdio (default) or streamable HTTP.
//!
//! ```text
//! codemode-demo-server                         # stdio
//! codemode-demo-server --http 127.0.0.1:8080   # streamable HTTP at http://127.0.0.1:8080/mcp
//! ```

use anyhow::{Context, Result, bail};
use codemode_demo_server::DemoServer;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => codemode_demo_server::serve_stdio()
            .await
            .map_err(|e| anyhow::anyhow!("stdio server: {e}"))?,
        [flag, addr] if flag == "--http" => {
            let router = codemode_demo_server::http_router(DemoServer::new());
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            eprintln!(
                "codemode-demo-server: streamable HTTP on http://{}/mcp",
                listener.local_addr()?
            );
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
        _ => bail!("usage: codemode-demo-server [--http ADDR]"),
    }
    Ok(())
}
