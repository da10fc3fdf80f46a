//! `cargo xtask bench`: codemode's benchmarks, each against its alternative in the same run.
//! Prints a table of medians and ratios. Run in release mode.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_trait::async_trait;
use codemode::mcp::McpServerConfig;
use codemode::mcp::McpToolProvider;
use codemode::typescript::{BuiltinChecker, ToolSignature, TscChecker, generate_declarations, transpile};
use codemode::{CodeMode, RunOptions, ToolError, ToolProvider, ToolSpec};
use serde_json::{Value, json};

mod retrieval;
mod serve;
mod soak;

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

/// (path, tool) for every LiveMCPBench tool.
fn livemcpbench(path: &Path) -> Result<Vec<(String, Value)>> {
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let mut out = Vec::new();
    for server in data.as_array().context("tools.json is a list")? {
        for (name, entry) in server["tools"].as_object().context("tools")? {
            for tool in entry["tools"].as_array().context("tools list")? {
                let tool_name = tool["name"].as_str().unwrap_or_default();
                out.push((
                    format!(
                        "{}.{}",
                        codemode::typescript::ident::sanitize_identifier(name),
                        codemode::typescript::ident::sanitize_identifier(tool_name)
                    ),
                    tool.clone(),
                ));
            }
        }
    }
    Ok(out)
}

fn typescript_benches(rows: &mut Vec<Row>) -> Result<()> {
    let tools_path = shared_tools()?;
    let tools = livemcpbench(&tools_path)?;
    let sigs: Vec<ToolSignature<'_>> = tools
        .iter()
        .map(|(p, t)| ToolSignature {
            path: p,
            description: t["description"].as_str(),
            input_schema: &t["inputSchema"],
            output_schema: t.get("outputSchema").filter(|o| !o.is_null()),
            output_learned_from: None,
        })
        .collect();
    let ours = measure(30, || {
        std::hint::black_box(generate_declarations(&sigs));
    });
    let peer = Command::new("node")
        .arg(root().join("benches/js/json_schema_to_typescript.mjs"))
        .arg(&tools_path)
        .arg("5")
        .output();
    let peer_ms = peer
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|v| v["median_ms"].as_f64());
    rows.push(Row {
        name: "declarations, 527 LiveMCPBench tools".into(),
        median: ours,
        note: match peer_ms {
            Some(p) => format!("npm json-schema-to-typescript {p:.1} ms: {:.0}x faster", p / ms(ours)),
            None => "npm peer not installed (cargo xtask npm)".into(),
        },
    });

    let mut program = String::new();
    for i in 0..40 {
        program.push_str(&format!(
            "interface Item{i} {{ id: number; name: string }}\nconst items{i}: Item{i}[] = [{{ id: {i}, name: 'n' }}];\nconst total{i} = items{i}.reduce((a: number, b: Item{i}) => a + b.id, 0) as number;\nif (total{i} > 100) {{ console.log(`big ${{total{i}}}`); }}\nawait Promise.resolve(total{i});\n"
        ));
    }
    program.push_str("return 1;\n");
    let lines = program.lines().count();
    let transpiled = measure(50, || {
        std::hint::black_box(transpile(&program).ok());
    });
    rows.push(Row {
        name: format!("transpile a {lines}-line program (oxc)"),
        median: transpiled,
        note: String::new(),
    });

    let check_tools = &sigs[..sigs.len().min(60)];
    let decls = generate_declarations(check_tools).text;
    let call_program: String = tools[..check_tools.len()]
        .iter()
        .take(20)
        .map(|(p, _)| format!("try {{ await tools.{p}({{}} as any); }} catch (e) {{}}\n"))
        .collect();
    let builtin = measure(50, || {
        std::hint::black_box(BuiltinChecker::new(check_tools).check(&call_program));
    });
    rows.push(Row {
        name: "check, built-in (oxc), 60 tools".into(),
        median: builtin,
        note: String::new(),
    });
    let tsc_path = root().join("tests/npm/node_modules/.bin/tsc");
    match TscChecker::from_path(&tsc_path) {
        Ok(tsc) => {
            // Each check gets a program the compiler has not seen (a counter in a comment).
            let mut n = 0u32;
            let mut next_program = || {
                n += 1;
                format!("// check {n}\n{call_program}")
            };
            let cold_tsc = tsc.clone().cold();
            let cold = measure(10, || {
                std::hint::black_box(cold_tsc.check(&next_program(), &decls).ok());
            });
            rows.push(Row {
                name: format!("check, {} cold process, 60 tools", tsc.name()),
                median: cold,
                note: format!("{:.0}x the built-in checker", ms(cold) / ms(builtin)),
            });
            // The first warm check starts the server; it is not part of the median.
            let first = std::time::Instant::now();
            std::hint::black_box(tsc.check(&next_program(), &decls).ok());
            let first = first.elapsed();
            let warm = measure(50, || {
                std::hint::black_box(tsc.check(&next_program(), &decls).ok());
            });
            rows.push(Row {
                name: format!("check, {} warm (--lsp), 60 tools", tsc.name()),
                median: warm,
                note: format!(
                    "{:.1}x faster than cold; {:.0}x the built-in checker; first check (server start) {:.1} ms",
                    ms(cold) / ms(warm),
                    ms(warm) / ms(builtin),
                    ms(first)
                ),
            });
        }
        Err(e) => rows.push(Row {
            name: "check, tsc".into(),
            median: Duration::ZERO,
            note: format!("skipped: {e}"),
        }),
    }
    Ok(())
}

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

async fn environment_benches(rows: &mut Vec<Row>) -> Result<()> {
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
async fn recursion_benches(rows: &mut Vec<Row>, envs: &[Arc<dyn codemode::RunEnvironment>]) -> Result<()> {
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
        typescript_benches(&mut rows)?;
    }
    if wanted("environments") {
        environment_benches(&mut rows).await?;
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
