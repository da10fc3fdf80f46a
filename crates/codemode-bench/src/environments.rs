//! The run environments against each other: the wasm sandbox, Node.js and Deno subprocesses.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use codemode::typescript::transpile;
use codemode::{RunOptions, ToolError, ToolProvider, ToolSpec};
use serde_json::{Value, json};

use crate::{Row, measure_async, ms, root};

/// An in-process echo tool (the alternative to an MCP server, for bridge costs).
struct Echo;

#[async_trait]
impl ToolProvider for Echo {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        Ok(vec![
            ToolSpec::new("echo", "echo", json!({"type": "object", "properties": {"v": {}}})),
            ToolSpec::new("sleep", "sleep 100 ms", json!({"type": "object"})),
        ])
    }

    async fn call_tool(&self, name: &str, args: Value) -> Result<Value, ToolError> {
        if name == "sleep" {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(args)
    }
}

pub(crate) async fn environment_benches(rows: &mut Vec<Row>) -> Result<()> {
    let wasm: Arc<dyn codemode::RunEnvironment> = Arc::new(codemode::env_local::WasmEnvironment::new()?);
    let node: Arc<dyn codemode::RunEnvironment> = Arc::new(codemode::env_local::ProcessEnvironment::node()?);
    let mut envs = vec![wasm, node];
    // Deno from tests/npm (installed by `cargo xtask bench`), when it runs here.
    match codemode::env_local::ProcessEnvironment::with_deno(root().join("tests/npm/node_modules/.bin/deno")) {
        Ok(deno) => envs.push(Arc::new(deno)),
        Err(e) => eprintln!("bench: the deno rows are skipped: {e}"),
    }
    let opts = RunOptions::default().max_tool_calls(100_000);
    let cases: [(&str, &str, usize); 3] = [
        ("trivial program", "return 1;", 50),
        (
            "1,000 sequential echo calls",
            "for (let i = 0; i < 1000; i++) { await tools.t.echo({ v: i }); }\nreturn 1;",
            5,
        ),
        (
            "Promise.all, 100 calls of 100 ms",
            "await Promise.all(Array.from({ length: 100 }, () => tools.t.sleep({})));\nreturn 1;",
            5,
        ),
    ];
    for (name, program, runs) in cases {
        let mut medians = Vec::new();
        let javascript = transpile(program).map_err(|e| anyhow::anyhow!("{e}"))?.code;
        let mut catalog = codemode::ToolCatalog::new();
        catalog.add_tools("t", Arc::new(Echo), Echo.list_tools().await?);
        let catalog = Arc::new(catalog);
        for env in &envs {
            // The environment alone (a fresh bridge per run, no check or transpile).
            let once = || {
                let bridge = Arc::new(codemode::CatalogBridge::new(
                    catalog.clone(),
                    opts.max_tool_calls,
                    Duration::from_secs(10),
                ));
                let request = codemode::ExecutionRequest {
                    javascript: javascript.clone(),
                    limits: codemode::ExecutionLimits::default(),
                };
                let env = env.clone();
                async move { env.execute(request, bridge).await }
            };
            let outcome = once().await;
            anyhow::ensure!(outcome.result.is_ok(), "{name} in {}: {:?}", env.name(), outcome.result);
            let d = measure_async(runs, || async {
                std::hint::black_box(once().await);
            })
            .await;
            medians.push(d);
        }
        let mut note = format!("{:.1}x faster than node", ms(medians[1]) / ms(medians[0]));
        if let Some(deno) = medians.get(2) {
            note.push_str(&format!(", {:.1}x faster than deno", ms(*deno) / ms(medians[0])));
        }
        rows.push(Row {
            name: format!("{name}, wasm sandbox"),
            median: medians[0],
            note,
        });
        rows.push(Row {
            name: format!("{name}, node subprocess"),
            median: medians[1],
            note: String::new(),
        });
        if let Some(deno) = medians.get(2) {
            rows.push(Row {
                name: format!("{name}, deno subprocess"),
                median: *deno,
                note: String::new(),
            });
        }
    }
    recursion_benches(rows, &envs).await?;
    // The first run in a fresh process, with the compiled-module cache cold and warm.
    let exe = std::env::current_exe()?;
    let cache = std::env::temp_dir().join(format!("codemode-bench-cache-{}", std::process::id()));
    for label in ["cold", "warm"] {
        let out = Command::new(&exe)
            .arg("--first-run")
            .env("CODEMODE_CACHE_DIR", &cache)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let first: f64 = text.trim().parse().unwrap_or(f64::NAN);
        rows.push(Row {
            name: format!("first wasm run in a fresh process, module cache {label}"),
            median: Duration::from_secs_f64(first / 1000.0),
            note: "engine + module + first instance".into(),
        });
    }
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

/// How long each kind of runaway recursion (the hostile tests' list) takes to end in a
/// caught `RangeError`, per environment.
pub(crate) async fn recursion_benches(rows: &mut Vec<Row>, envs: &[Arc<dyn codemode::RunEnvironment>]) -> Result<()> {
    let cases: Vec<(String, String)> =
        serde_json::from_str(include_str!("../../codemode-env-local/tests/recursion.json"))?;
    let catalog = Arc::new(codemode::ToolCatalog::new());
    for (name, body) in cases {
        let program =
            format!("try {{\n{body}\n}} catch (e) {{ return e instanceof RangeError; }}\nreturn 'not caught';");
        let javascript = transpile(&program).map_err(|e| anyhow::anyhow!("{e}"))?.code;
        let mut medians = Vec::new();
        for env in envs {
            let once = || {
                let bridge = Arc::new(codemode::CatalogBridge::new(catalog.clone(), 1, Duration::from_secs(1)));
                let request = codemode::ExecutionRequest {
                    javascript: javascript.clone(),
                    limits: codemode::ExecutionLimits {
                        total_timeout: Duration::from_secs(60),
                        ..codemode::ExecutionLimits::default()
                    },
                };
                let env = env.clone();
                async move { env.execute(request, bridge).await }
            };
            let outcome = once().await;
            anyhow::ensure!(
                outcome.result == Ok(json!(true)),
                "recursion through {name} in {}: {:?}",
                env.name(),
                outcome.result
            );
            medians.push(
                measure_async(3, || async {
                    std::hint::black_box(once().await);
                })
                .await,
            );
        }
        let others: Vec<String> = envs
            .iter()
            .zip(&medians)
            .skip(1)
            .map(|(env, d)| format!("{} {:.1} ms", env.name(), ms(*d)))
            .collect();
        rows.push(Row {
            name: format!("recursion to a RangeError: {name}, wasm"),
            median: medians[0],
            note: others.join(", "),
        });
    }
    Ok(())
}
