//! `cargo xtask bench`: codemode's benchmarks, each against its alternative in the same run.
//! Prints a table of medians and ratios. Run in release mode.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use codemode::mcp::McpServerConfig;
use codemode::mcp::McpToolProvider;
use codemode::{CodeMode, RunOptions, ToolProvider};
use serde_json::json;

mod environments;
mod retrieval;
mod serve;
mod soak;
mod typescript;

struct Row {
    name: String,
    median: Duration,
    note: String,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

async fn measure_async<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed());
    }
    median(samples)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared_tools() -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("CODEMODE_SHARED_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(root().join("../shared"));
    candidates.push(PathBuf::from("/work/shared"));
    candidates
        .into_iter()
        .map(|c| c.join("data/livemcpbench/tools.json"))
        .find(|p| p.is_file())
        .context("shared/data/livemcpbench/tools.json not found (set CODEMODE_SHARED_DIR)")
}

/// One wasm run from scratch; prints its milliseconds (used with `--first-run`).
async fn first_run() -> Result<()> {
    let started = Instant::now();
    let env = codemode::env_local::WasmEnvironment::new()?;
    let cm = CodeMode::builder().environment(Arc::new(env)).build().await?;
    cm.run(codemode::RunRequest::program("return 1;", RunOptions::default()))
        .await?;
    println!("{}", ms(started.elapsed()));
    Ok(())
}

/// The demo workspace server: this binary again, with `--serve-demo`, over stdio.
fn demo_server() -> Result<McpServerConfig> {
    let exe = std::env::current_exe()?;
    Ok(McpServerConfig {
        command: Some(exe.to_string_lossy().into_owned()),
        args: vec!["--serve-demo".into()],
        ..McpServerConfig::default()
    })
}

/// Code mode over the demo server in the default environment, as the serve and soak groups
/// run it.
async fn demo_codemode(demo: &McpServerConfig) -> Result<CodeMode> {
    Ok(CodeMode::builder()
        .tool_provider(
            "workspace",
            Arc::new(McpToolProvider::connect("workspace", demo).await?),
        )
        .environment(codemode::default_environment()?)
        .build()
        .await?)
}

async fn mcp_benches(rows: &mut Vec<Row>) -> Result<()> {
    let config = demo_server()?;
    let direct = McpToolProvider::connect("workspace", &config).await?;
    let n = 1000;
    let started = Instant::now();
    for _ in 0..n {
        direct.call_tool("list_channels", json!({})).await?;
    }
    let direct_time = started.elapsed();
    rows.push(Row {
        name: "1,000 sequential MCP calls, direct rmcp client".into(),
        median: direct_time,
        note: format!("{:.0} calls/s", n as f64 / direct_time.as_secs_f64()),
    });
    let cm = CodeMode::builder()
        .tool_provider(
            "workspace",
            Arc::new(McpToolProvider::connect("workspace", &config).await?),
        )
        .environment(codemode::default_environment()?)
        .build()
        .await?;
    let opts = RunOptions::default().max_tool_calls(100_000);
    let seq = measure_async(3, || async {
        cm.run(codemode::RunRequest::program(
            "for (let i = 0; i < 1000; i++) { await tools.workspace.list_channels({}); }\nreturn 1;",
            opts.clone(),
        ))
        .await
        .ok();
    })
    .await;
    rows.push(Row {
        name: "1,000 sequential MCP calls from sandboxed code".into(),
        median: seq,
        note: format!(
            "{:.0} calls/s; {:.1} us added per call over direct",
            n as f64 / seq.as_secs_f64(),
            (seq.as_secs_f64() - direct_time.as_secs_f64()) * 1e6 / n as f64
        ),
    });
    let all = measure_async(3, || async {
        cm.run(codemode::RunRequest::program(
            "await Promise.all(Array.from({ length: 1000 }, () => tools.workspace.list_channels({})));\nreturn 1;",
            opts.clone(),
        ))
        .await
        .ok();
    })
    .await;
    rows.push(Row {
        name: "1,000 MCP calls under Promise.all from sandboxed code".into(),
        median: all,
        note: format!("{:.0} calls/s", n as f64 / all.as_secs_f64()),
    });
    Ok(())
}

fn print(rows: &[Row]) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(10);
    println!("{:<width$}  {:>12}  notes", "benchmark", "median");
    println!("{}", "-".repeat(width + 60));
    for r in rows {
        println!("{:<width$}  {:>9.3} ms  {}", r.name, ms(r.median), r.note);
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--first-run") {
        return first_run().await;
    }
    if std::env::args().nth(1).as_deref() == Some("--serve-demo") {
        return codemode_demo_server::serve_stdio()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"));
    }
    if cfg!(debug_assertions) {
        eprintln!("note: a debug build; run `cargo xtask bench` for release numbers");
    }
    // `--only typescript|environments|mcp|serve|retrieval|filter|soak` runs one group;
    // `--soak-runs N` sets the soak's sequential runs (10,000).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let wanted = |group: &str| only.is_none_or(|o| o == group);
    if let Some(o) = only
        && ![
            "typescript",
            "environments",
            "mcp",
            "serve",
            "retrieval",
            "filter",
            "soak",
        ]
        .contains(&o)
    {
        anyhow::bail!("--only takes typescript, environments, mcp, serve, retrieval, filter or soak, not `{o}`");
    }
    let soak_runs = match args.iter().position(|a| a == "--soak-runs") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| anyhow::anyhow!("--soak-runs takes a positive whole number"))?,
        None => 10_000,
    };
    let mut rows = Vec::new();
    if wanted("typescript") {
        typescript::typescript_benches(&mut rows)?;
    }
    if wanted("environments") {
        environments::environment_benches(&mut rows).await?;
    }
    if wanted("mcp") {
        mcp_benches(&mut rows).await?;
    }
    if wanted("serve") {
        serve::serve_benches(&mut rows, &demo_server()?).await?;
    }
    if wanted("retrieval") {
        retrieval::index_benches(&mut rows).await?;
    }
    if wanted("filter") {
        retrieval::filter_benches(&mut rows).await?;
    }
    if wanted("soak") {
        let soaked = soak::soak_benches(&mut rows, &demo_server()?, soak_runs).await;
        if let Err(e) = soaked {
            print(&rows);
            return Err(e.context("the soak failed"));
        }
    }
    print(&rows);
    Ok(())
}
