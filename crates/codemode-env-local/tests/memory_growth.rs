//! 1,000 wasm runs in a row without the host's memory growing. In its own test binary, so
//! no other test's allocations show in the process's resident size.

use std::sync::Arc;
use std::time::Duration;

use codemode_core::{CatalogBridge, ExecutionLimits, ExecutionRequest, RunEnvironment, ToolCatalog};
use codemode_env_local::WasmEnvironment;
use serde_json::json;

fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

#[tokio::test]
async fn a_thousand_wasm_runs_without_the_host_growing() {
    let wasm = WasmEnvironment::new().unwrap();
    let catalog = Arc::new(ToolCatalog::new());
    let run = |js: &'static str| {
        let bridge = Arc::new(CatalogBridge::new(catalog.clone(), 10, Duration::from_secs(1)));
        let request = ExecutionRequest {
            javascript: js.into(),
            limits: ExecutionLimits::default(),
        };
        let wasm = wasm.clone();
        async move { wasm.execute(request, bridge).await }
    };
    for _ in 0..100 {
        run("return [1, 2, 3].map((x) => x * 2);").await;
    }
    let before = rss();
    for i in 0..1000 {
        let outcome =
            run("const o = { a: new Array(1000).fill('x') }; Object.prototype.leak = o; return o.a.length;").await;
        assert_eq!(outcome.result, Ok(json!(1000)), "run {i}");
    }
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 16 * 1024 * 1024,
        "the host grew by {} MiB over 1,000 runs",
        grown / (1024 * 1024)
    );
}
