//! The Node.js process environment against hostile and runaway programs: each ends with the
//! right failure kind, and the next run is served normally.

use std::sync::Arc;
use std::time::{Duration, Instant};

use codemode_core::{
    CatalogBridge, ExecutionLimits, ExecutionRequest, FailureKind, RunEnvironment, RunOutcome, ToolCatalog,
};
use codemode_env_local::ProcessEnvironment;
use serde_json::{Value, json};

async fn run_with(js: &str, limits: ExecutionLimits) -> RunOutcome {
    let env = ProcessEnvironment::node().expect("Node.js 20+ is needed for these tests");
    let bridge = Arc::new(CatalogBridge::new(
        Arc::new(ToolCatalog::new()),
        10,
        Duration::from_secs(5),
    ));
    env.execute(
        ExecutionRequest {
            javascript: js.to_string(),
            limits,
        },
        bridge,
    )
    .await
}

async fn run(js: &str) -> RunOutcome {
    run_with(
        js,
        ExecutionLimits {
            total_timeout: Duration::from_secs(5),
            ..ExecutionLimits::default()
        },
    )
    .await
}

fn failure(outcome: &RunOutcome) -> (FailureKind, String) {
    match &outcome.result {
        Err(f) => (f.kind, f.message.clone()),
        Ok(v) => panic!("expected a failure, got {v}"),
    }
}

#[tokio::test]
async fn endless_loops_are_stopped_at_the_deadline() {
    for js in [
        "while (true) {}",
        "try { while (true) {} } catch (e) {} return 1;",
        "const f = () => Promise.resolve().then(f); await f();",
    ] {
        let started = Instant::now();
        let limits = ExecutionLimits {
            total_timeout: Duration::from_secs(1),
            ..ExecutionLimits::default()
        };
        let outcome = run_with(js, limits).await;
        assert_eq!(failure(&outcome).0, FailureKind::Timeout, "{js}");
        assert!(
            started.elapsed() < Duration::from_millis(1200),
            "{js}: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(run("return 1;").await.result, Ok(json!(1)), "the next run is served");
}

#[tokio::test]
async fn memory_is_capped() {
    let limits = ExecutionLimits {
        memory_limit_bytes: 64 * 1024 * 1024,
        ..ExecutionLimits::default()
    };
    let outcome = run_with("const a = []; while (true) { a.push(new Array(1e5).fill(1)); }", limits).await;
    assert_eq!(failure(&outcome).0, FailureKind::MemoryLimit, "{:?}", outcome.result);
    let (kind, message) = failure(&run("return 'x'.repeat(2 ** 30).length;").await);
    assert_eq!(kind, FailureKind::Runtime, "{message}");
}

#[tokio::test]
async fn no_file_system_processes_environment_or_eval() {
    let (_, m) =
        failure(&run("const fs = await import('node:fs'); return fs.readFileSync('/etc/passwd', 'utf8');").await);
    assert!(m.contains("ERR_ACCESS_DENIED") || m.contains("restricted"), "{m}");
    let (_, m) = failure(&run("const fs = await import('node:fs'); fs.writeFileSync('x.txt', 'x'); return 1;").await);
    assert!(m.contains("ERR_ACCESS_DENIED") || m.contains("restricted"), "{m}");
    let (_, m) =
        failure(&run("const cp = await import('node:child_process'); return cp.execSync('id').toString();").await);
    assert!(m.contains("ERR_ACCESS_DENIED") || m.contains("restricted"), "{m}");
    assert_eq!(run("return typeof process;").await.result, Ok(json!("undefined")));
    assert_eq!(run("return typeof require;").await.result, Ok(json!("undefined")));
    assert_eq!(run("return typeof fetch;").await.result, Ok(json!("undefined")));
    let env = run("const p = await import('node:process'); return Object.keys(p.env);").await;
    assert_eq!(env.result, Ok(json!([])), "the environment is empty");
    let (_, m) = failure(&run("return eval('1 + 1');").await);
    assert!(m.contains("EvalError") || m.contains("Code generation"), "{m}");
    let (_, m) = failure(&run("return console.log.constructor('return 1')();").await);
    assert!(m.contains("EvalError") || m.contains("Code generation"), "{m}");
}

#[tokio::test]
async fn prototype_pollution_does_not_leak_into_the_next_run() {
    let polluted =
        run("Object.prototype.polluted = 'yes'; Array.prototype.push = () => 0; return ({}).polluted;").await;
    assert_eq!(polluted.result, Ok(json!("yes")));
    assert_eq!(
        run("const a = [1]; a.push(2); return [({}).polluted ?? null, a.length];")
            .await
            .result,
        Ok(json!([null, 2]))
    );
}

#[tokio::test]
async fn console_and_values_are_capped() {
    let limits = ExecutionLimits {
        max_console_bytes: 1000,
        ..ExecutionLimits::default()
    };
    let outcome = run_with(
        "for (let i = 0; i < 10000; i++) console.log('spam ' + i); return 1;",
        limits,
    )
    .await;
    assert_eq!(outcome.result, Ok(json!(1)));
    assert!(outcome.console.len() < 200, "{}", outcome.console.len());
    assert_eq!(
        outcome.console.last().unwrap(),
        "[console output truncated after 1000 bytes]"
    );
    let limits = ExecutionLimits {
        max_value_bytes: 1024 * 1024,
        ..ExecutionLimits::default()
    };
    let (kind, m) = failure(&run_with("return 'x'.repeat(2 * 1024 * 1024);", limits).await);
    assert_eq!(kind, FailureKind::Runtime);
    assert!(m.contains("larger than 1048576 bytes"), "{m}");
    let (kind, _) = failure(&run("return new Array(2 ** 31);").await);
    assert_eq!(kind, FailureKind::Runtime);
}

#[tokio::test]
async fn values_and_errors_round_trip() {
    let outcome =
        run("console.log('a', 1, { b: 2 }); console.warn('w'); return { x: [1, 'two', null], d: undefined };").await;
    assert_eq!(outcome.result, Ok(json!({"x": [1, "two", null]})));
    assert_eq!(outcome.console, vec!["a 1 {\"b\":2}", "[warn] w"]);
    assert_eq!(run("return;").await.result, Ok(Value::Null));
    let outcome = run("\n\nnull.x;").await;
    let Err(f) = &outcome.result else { panic!() };
    assert_eq!((f.kind, f.line), (FailureKind::Runtime, Some(3)));
    assert!(f.message.starts_with("TypeError"), "{}", f.message);
    let (_, m) = failure(&run("throw 'a string';").await);
    assert_eq!(m, "Error: uncaught a string");
    let (_, m) = failure(&run("return await tools.nothing.here({});").await);
    assert!(m.contains("TypeError"), "{m}");
}
