//! `codemode serve`: code mode as an MCP server over stdio or streamable HTTP.

use std::sync::Arc;

use anyhow::Result;
use codemode::LlmRole;
use codemode::serve::http::HttpOptions;
use codemode::serve::{CodeModeServer, ServeOptions};

use crate::cli::ServeArgs;
use crate::setup::{self, Needs, Setup};
use crate::{Outcome, UsageError};

pub async fn run(args: ServeArgs, setup: &Setup) -> Result<Outcome> {
    let bearer_token = match &args.token_env {
        Some(var) => Some(
            std::env::var(var)
                .ok()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| UsageError(format!("--token-env {var}: the variable {var} is not set or empty")))?,
        ),
        None => None,
    };
    let has_models = LlmRole::ALL
        .into_iter()
        .any(|role| setup.config.llm_context(role).is_some());
    let codemode = setup::build(
        setup,
        Needs {
            llms: has_models,
            environment: true,
            checker: true,
            // stdin carries MCP (stdio) or nobody is at a terminal (HTTP).
            ask: false,
        },
    )
    .await?;
    let catalog = codemode.catalog();
    let server = CodeModeServer::new(
        Arc::new(codemode),
        ServeOptions {
            run: setup.options.clone(),
            max_result_tokens: args.max_result_tokens,
        },
    );
    let offered = if has_models {
        "search_tools, describe_tools, execute_code, run_task"
    } else {
        "search_tools, describe_tools, execute_code (run_task needs [llm.*] models)"
    };
    let Some(addr) = args.http else {
        eprintln!(
            "codemode serve: {} tools; MCP over stdio; tools: {offered}",
            catalog.len()
        );
        codemode::serve::serve_stdio(server).await?;
        return Ok(Outcome::Success);
    };
    let options = HttpOptions {
        bearer_token,
        allowed_hosts: args.allowed_host,
    };
    let listener = codemode::serve::http::bind(&addr, &options)
        .await
        .map_err(|e| UsageError(e.to_string()))?;
    let local = listener.local_addr()?;
    eprintln!(
        "codemode serve: {} tools; streamable HTTP on http://{local}/mcp{}; tools: {offered}",
        catalog.len(),
        if options.bearer_token.is_some() {
            " (bearer token required)"
        } else {
            ""
        }
    );
    codemode::serve::http::serve(server, listener, &options, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(Outcome::Success)
}
