//! The wasm sandbox's own guarantees: a pre-initialized snapshot that still gives every run
//! its own `Math.random` sequence, a CPU budget apart from the wall clock, and a pool of
//! instance slots that makes extra concurrent runs wait instead of failing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use codemode_core::{
    CatalogBridge, ExecutionLimits, ExecutionRequest, FailureKind, RunEnvironment, RunOutcome, ToolCatalog, ToolError,
    ToolProvider, ToolSpec,
};
use codemode_env_local::WasmEnvironment;
use serde_json::{Value, json};

/// Test double: an in-process provider whose `sleep` tool waits `ms` milliseconds.
struct Sleeper;

#[async_trait]
impl ToolProvider for Sleeper {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        Ok(vec![ToolSpec::new("sleep", "waits", json!({"type": "object"}))])
    }

    async fn call_tool(&self, _name: &str, args: Value) -> Result<Value, ToolError> {
        let ms = args["ms"].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(json!(ms))
    }
}

async fn run(env: &WasmEnvironment, js: &str, limits: ExecutionLimits) -> RunOutcome {
    let mut catalog = ToolCatalog::new();
    let provider: Arc<dyn ToolProvider> = Arc::new(Sleeper);
    catalog.add_tools("t", provider, vec![ToolSpec::new("sleep", "", json!({}))]);
    let bridge = Arc::new(CatalogBridge::new(Arc::new(catalog), 100, Duration::from_secs(5)));
    env.execute(
        ExecutionRequest {
            javascript: js.to_string(),
            limits,
        },
        bridge,
    )
    .await
}

fn limits(wall: f64, cpu: f64) -> ExecutionLimits {
    ExecutionLimits {
        total_timeout: Duration::from_secs_f64(wall),
        cpu_time: Duration::from_secs_f64(cpu),
        ..ExecutionLimits::default()
    }
}

#[tokio::test]
async fn runs_start_from_the_snapshot_with_their_own_random_sequence() {
    let env = WasmEnvironment::new().expect("the wasm sandbox");
    assert!(env.is_snapshot(), "the guest should be pre-initialized");
    let js = "const a = [Math.random(), Math.random(), Math.random()];\n\
              if (!a.every((x) => x >= 0 && x < 1)) throw new Error('out of range: ' + a);\n\
              return a;";
    let first = run(&env, js, limits(5.0, 5.0)).await.result.expect("first run");
    let second = run(&env, js, limits(5.0, 5.0)).await.result.expect("second run");
    assert_ne!(first, second, "two runs drew the same Math.random sequence");
    let spread = run(
        &env,
        "let s = 0; for (let i = 0; i < 10000; i++) s += Math.random(); return s / 10000;",
        limits(5.0, 5.0),
    )
    .await
    .result
    .expect("mean");
    let mean = spread.as_f64().expect("a number");
    assert!((0.45..0.55).contains(&mean), "Math.random mean {mean}");
}

#[tokio::test]
async fn the_cpu_budget_stops_computation_but_not_waiting() {
    let env = WasmEnvironment::new().expect("the wasm sandbox");
    let started = Instant::now();
    let outcome = run(&env, "while (true) {}", limits(10.0, 0.3)).await;
    let elapsed = started.elapsed();
    let failure = outcome.result.expect_err("the loop must be stopped");
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert!(failure.message.contains("cpu_time_limit"), "{}", failure.message);
    // The budget stopped it (the message says so), long before the 10 s wall clock.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");

    // Waiting 600 ms for tools with a 0.2 s CPU budget is fine: waiting is not computing.
    let outcome = run(
        &env,
        "const a = await tools.t.sleep({ ms: 300 });\nconst b = await tools.t.sleep({ ms: 300 });\nreturn a + b;",
        limits(5.0, 0.2),
    )
    .await;
    assert_eq!(outcome.result, Ok(json!(600)));

    // The wall clock still applies when the budget is larger.
    let outcome = run(&env, "while (true) {}", limits(0.5, 30.0)).await;
    let failure = outcome.result.expect_err("the loop must be stopped");
    assert!(
        failure.message.contains("total_execution_timeout"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn more_concurrent_runs_than_slots_wait_for_a_slot() {
    let env = Arc::new(WasmEnvironment::with_pool_size(2).expect("the wasm sandbox"));
    let runs = (0..8).map(|i| {
        let env = env.clone();
        async move {
            run(
                &env,
                &format!("await tools.t.sleep({{ ms: 50 }});\nreturn {i};"),
                limits(10.0, 10.0),
            )
            .await
            .result
        }
    });
    let results = futures::future::join_all(runs).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result, Ok(json!(i)));
    }
}

#[tokio::test]
async fn large_programs_cross_into_the_sandbox_intact() {
    // The input is written into pages grown above the guest's heap: several pages here.
    let env = WasmEnvironment::new().expect("the wasm sandbox");
    let text = "abcdefghij".repeat(30_000);
    let js = format!(
        "const s = '{text}';\nconst big = new Array(20000).fill('y').join('');\nreturn [s.length, s.slice(0, 3), s.slice(-2), big.length];"
    );
    let outcome = run(&env, &js, limits(5.0, 5.0)).await;
    assert_eq!(outcome.result, Ok(json!([300_000, "abc", "ij", 20_000])));
}

#[tokio::test]
async fn json_nests_4096_levels_deep_and_no_deeper() {
    // JSON.stringify's cycle check scans every enclosing object, so the guest's QuickJS caps
    // the nesting (see QUICKJS_PATCHES in xtask): deeper is a RangeError, as in Node.js.
    let env = WasmEnvironment::new().expect("the wasm sandbox");
    let nest = |depth: usize| {
        format!(
            "let d = {{}};\nfor (let i = 1; i < {depth}; i++) d = {{ a: d }};\ntry {{ return JSON.stringify(d).length; }} catch (e) {{ return String(e); }}"
        )
    };
    let outcome = run(&env, &nest(4096), limits(30.0, 30.0)).await;
    assert_eq!(outcome.result, Ok(json!(4095 * 6 + 2)));
    let outcome = run(&env, &nest(100_000), limits(30.0, 30.0)).await;
    assert_eq!(
        outcome.result,
        Ok(json!("RangeError: Maximum call stack size exceeded"))
    );
}
