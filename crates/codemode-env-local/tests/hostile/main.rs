//! Every environment (the wasm sandbox, the Node.js subprocess and the Deno subprocess)
//! against hostile and runaway programs: each ends with the right failure kind, near its
//! deadline (1.2 times it plus a few seconds of slack for a busy machine), and the next run is
//! served normally. Speed is measured by `cargo xtask bench`, not here. Deno comes from the npm package
//! installed into tests/npm (`cargo xtask npm`), or `CODEMODE_DENO`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use codemode_core::{
    CatalogBridge, ExecutionLimits, ExecutionRequest, FailureKind, RunEnvironment, RunOutcome, ToolCatalog, ToolError,
    ToolProvider, ToolSpec,
};
use codemode_env_local::{ProcessEnvironment, WasmEnvironment};
use serde_json::{Value, json};

/// Test double: an in-process provider with an echo tool and a tool that never answers.
struct Tools;

#[async_trait]
impl ToolProvider for Tools {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        Ok(vec![
            ToolSpec::new("echo", "echo", json!({"type": "object"})),
            ToolSpec::new("hang", "never answers", json!({"type": "object"})),
        ])
    }

    async fn call_tool(&self, name: &str, args: Value) -> Result<Value, ToolError> {
        if name == "hang" {
            std::future::pending::<()>().await;
        }
        Ok(args)
    }
}

fn deno() -> ProcessEnvironment {
    let from_npm = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/npm/node_modules/.bin/deno");
    match std::env::var_os("CODEMODE_DENO") {
        Some(_) => ProcessEnvironment::deno(),
        None => ProcessEnvironment::with_deno(&from_npm),
    }
    .expect("Deno 2 is needed for these tests: run `cargo xtask npm` (tests/npm installs it) or set CODEMODE_DENO")
}

fn environments() -> Vec<Arc<dyn RunEnvironment>> {
    vec![
        Arc::new(WasmEnvironment::new().expect("the wasm sandbox")),
        Arc::new(ProcessEnvironment::node().expect("Node.js 20+ is needed for these tests")),
        Arc::new(deno()),
    ]
}

fn catalog() -> Arc<ToolCatalog> {
    let mut c = ToolCatalog::new();
    let provider: Arc<dyn ToolProvider> = Arc::new(Tools);
    c.add_tools(
        "t",
        provider,
        vec![
            ToolSpec::new("echo", "", json!({})),
            ToolSpec::new("hang", "", json!({})),
        ],
    );
    Arc::new(c)
}

async fn run_with(env: &dyn RunEnvironment, js: &str, limits: ExecutionLimits) -> RunOutcome {
    run_recorded(env, js, limits).await.0
}

/// [`run_with`], with the arguments of every tool call the program made.
async fn run_recorded(env: &dyn RunEnvironment, js: &str, limits: ExecutionLimits) -> (RunOutcome, Vec<Value>) {
    let bridge = Arc::new(CatalogBridge::new(catalog(), 10, Duration::from_millis(500)));
    let started = Instant::now();
    let outcome = env
        .execute(
            ExecutionRequest {
                javascript: js.to_string(),
                limits,
            },
            bridge.clone(),
        )
        .await;
    let elapsed = started.elapsed();
    let calls = bridge.records().into_iter().map(|r| r.arguments).collect();
    // Containment, not speed: a runaway program must end near its deadline. The slack
    // covers a subprocess starting on a busy machine; a program that was not stopped never
    // ends at all.
    let allowed = limits.total_timeout.mul_f64(1.2) + SLACK;
    assert!(elapsed < allowed, "{}: `{js}` took {elapsed:?}", env.name());
    (outcome, calls)
}

/// What a run may take beyond 1.2 times its deadline (start-up of a subprocess, a busy machine).
const SLACK: Duration = Duration::from_secs(3);

fn limits(secs: f64) -> ExecutionLimits {
    ExecutionLimits {
        total_timeout: Duration::from_secs_f64(secs),
        ..ExecutionLimits::default()
    }
}

async fn run(env: &dyn RunEnvironment, js: &str) -> RunOutcome {
    run_with(env, js, limits(5.0)).await
}

fn failure(env: &dyn RunEnvironment, outcome: &RunOutcome) -> (FailureKind, String) {
    match &outcome.result {
        Err(f) => (f.kind, f.message.clone()),
        Ok(v) => panic!("{}: expected a failure, got {v}", env.name()),
    }
}

mod flooding;
mod isolation;
mod limits;
