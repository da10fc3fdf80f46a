//! `codemode serve` under load: 100 MCP clients over streamable HTTP on loopback, each
//! calling `execute_code` at once, against the same programs run in-process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use codemode::mcp::{McpServerConfig, McpToolProvider};
use codemode::serve::http::HttpOptions;
use codemode::serve::{CodeModeServer, ServeOptions};
use codemode::{CodeMode, ResultType, ToolProvider};
use serde_json::json;

use crate::Row;
use crate::retrieval::{catalog, direct_definition_tokens, function_definition_tokens, load};

/// Agents connected at once; each has one `execute_code` in flight per round.
const CLIENTS: usize = 100;
/// Rounds of `CLIENTS` concurrent calls measured (after one warm-up round).
const ROUNDS: usize = 5;
/// A program an agent would send: one tool call and a little work on its answer.
const PROGRAM: &str = "const { channels } = await tools.workspace.list_channels({});\nreturn channels.length;";

/// The `q`-quantile of sorted `samples`.
pub(crate) fn quantile(samples: &[Duration], q: f64) -> Duration {
    let at = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[at.min(samples.len() - 1)]
}

/// Latencies of every call and the wall time of all rounds.
struct Load {
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Load {
    fn note(&self, what: &str) -> String {
        let calls = self.latencies.len();
        format!(
            "{what}; p99 {:.1} ms; {:.0} calls/s ({calls} calls, {CLIENTS} in flight)",
            quantile(&self.latencies, 0.99).as_secs_f64() * 1000.0,
            calls as f64 / self.wall.as_secs_f64()
        )
    }
}

/// Runs one warm-up round and `ROUNDS` measured rounds of `CLIENTS` concurrent calls of `call`.
async fn measure_load<F, Fut>(call: F) -> Result<Load>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let round = || {
        futures::future::join_all((0..CLIENTS).map(|i| {
            let call = &call;
            async move {
                let started = Instant::now();
                call(i).await.map(|()| started.elapsed())
            }
        }))
    };
    for outcome in round().await {
        outcome?;
    }
    let mut latencies = Vec::with_capacity(CLIENTS * ROUNDS);
    let started = Instant::now();
    for _ in 0..ROUNDS {
        for outcome in round().await {
            latencies.push(outcome?);
        }
    }
    let wall = started.elapsed();
    latencies.sort();
    Ok(Load { latencies, wall })
}

/// What an agent's model reads every turn: codemode serve's tool list against every tool of
/// the catalog listed directly, both as function definitions, at LiveMCPBench's 527 tools
/// and at 10,000.
async fn listing_tokens(rows: &mut Vec<Row>) -> Result<()> {
    let data = load()?;
    for size in [527, 10_000] {
        let catalog = catalog(&data, size)?;
        let direct = direct_definition_tokens(&catalog);
        let codemode = CodeMode::builder().catalog(catalog).build().await?;
        let listed = CodeModeServer::new(Arc::new(codemode), ServeOptions::default()).tools();
        let listed = serde_json::to_value(&listed)?;
        let served = function_definition_tokens(listed.as_array().into_iter().flatten().map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_string(),
                t["description"].clone(),
                t["inputSchema"].clone(),
            )
        }));
        rows.push(Row {
            name: format!("serve: tool definitions an agent reads, {size} tools"),
            median: Duration::ZERO,
            note: format!(
                "{served} tokens through codemode serve, {direct} listing them directly ({:.1}%)",
                served as f64 * 100.0 / direct as f64
            ),
        });
    }
    Ok(())
}

/// The `serve` group: `execute_code` over HTTP from 100 clients, the in-process baseline,
/// and the tool definitions an agent reads.
pub async fn serve_benches(rows: &mut Vec<Row>, demo: &McpServerConfig) -> Result<()> {
    listing_tokens(rows).await?;
    let codemode = Arc::new(crate::demo_codemode(demo).await?);
    let options = ServeOptions::default();
    let server = CodeModeServer::new(codemode.clone(), options.clone());
    let http = HttpOptions::default();
    let listener = codemode::serve::http::bind("127.0.0.1:0", &http).await?;
    let url = format!("http://{}/mcp", listener.local_addr()?);
    tokio::spawn(async move { codemode::serve::http::serve(server, listener, &http, std::future::pending()).await });

    let config = McpServerConfig {
        url: Some(url),
        ..McpServerConfig::default()
    };
    let agents = futures::future::try_join_all((0..CLIENTS).map(|_| McpToolProvider::connect("codemode", &config)))
        .await
        .context("connecting 100 MCP clients to codemode serve")?;
    let over_http = measure_load(|i| {
        let agent = &agents[i];
        async move {
            let answer = agent.call_tool("execute_code", json!({"code": PROGRAM})).await?;
            if answer["result_type"] != "success" {
                bail!("execute_code did not succeed: {answer}");
            }
            Ok(())
        }
    })
    .await?;
    let in_process = measure_load(|_| {
        let codemode = &codemode;
        let run = &options.run;
        async move {
            let report = codemode
                .run(codemode::RunRequest::program(PROGRAM, run.clone()))
                .await?;
            if report.result_type != ResultType::Success {
                bail!("the program did not succeed: {:?}", report.result_type);
            }
            Ok(())
        }
    })
    .await?;
    let http_p50 = quantile(&over_http.latencies, 0.5);
    let local_p50 = quantile(&in_process.latencies, 0.5);
    rows.push(Row {
        name: "serve: 100 concurrent execute_code over HTTP (p50)".into(),
        median: http_p50,
        note: over_http.note(&format!(
            "{:.2}x the in-process p50",
            http_p50.as_secs_f64() / local_p50.as_secs_f64()
        )),
    });
    rows.push(Row {
        name: "serve: the same 100 programs in-process (p50)".into(),
        median: local_p50,
        note: in_process.note("CodeMode::run(RunRequest::program), no MCP"),
    });
    Ok(())
}
