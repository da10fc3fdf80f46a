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

#[tokio::test]
async fn endless_loops_are_stopped_at_the_deadline() {
    for env in environments() {
        for js in [
            "while (true) {}",
            "try { while (true) {} } catch (e) {} return 1;",
            "const f = () => Promise.resolve().then(f); await f();",
        ] {
            let outcome = run_with(env.as_ref(), js, limits(1.0)).await;
            assert_eq!(
                failure(env.as_ref(), &outcome).0,
                FailureKind::Timeout,
                "{}: {js}",
                env.name()
            );
        }
        assert_eq!(
            run(env.as_ref(), "return 1;").await.result,
            Ok(json!(1)),
            "{}: the next run is served",
            env.name()
        );
    }
}

#[tokio::test]
async fn memory_is_capped() {
    for env in environments() {
        let small = ExecutionLimits {
            memory_limit_bytes: 64 * 1024 * 1024,
            ..limits(10.0)
        };
        let outcome = run_with(
            env.as_ref(),
            "const a = []; while (true) { a.push(new Array(1e5).fill(1)); }",
            small,
        )
        .await;
        assert_eq!(
            failure(env.as_ref(), &outcome).0,
            FailureKind::MemoryLimit,
            "{}: {:?}",
            env.name(),
            outcome.result
        );
        // Node's heap cap does not cover ArrayBuffers (see docs/security.md); wasm's cap does.
        let cases: &[&str] = if env.name() == "wasm" {
            &[
                "return 'x'.repeat(2 ** 30).length;",
                "const b = new ArrayBuffer(2 ** 31); return b.byteLength;",
            ]
        } else {
            &["return 'x'.repeat(2 ** 30).length;"]
        };
        for js in cases {
            let (kind, message) = failure(env.as_ref(), &run_with(env.as_ref(), js, small).await);
            assert!(
                matches!(kind, FailureKind::Runtime | FailureKind::MemoryLimit),
                "{}: {js}: {kind:?} {message}",
                env.name()
            );
        }
        assert_eq!(run(env.as_ref(), "return 2;").await.result, Ok(json!(2)));
    }
}

/// Recursion of every kind: plain, wide frames, and through native frames (map, JSON,
/// getters, Proxy traps, replace callbacks, async). `cargo xtask bench` times each case.
fn recursions() -> Vec<(String, String)> {
    serde_json::from_str(include_str!("recursion.json")).expect("tests/recursion.json is a list of [name, program]")
}

#[tokio::test]
async fn deep_recursion_is_a_catchable_range_error() {
    // What is asserted is how each ends; the deadline is far away so that a slow machine
    // does not turn a stack overflow into a timeout (the time each takes is a benchmark).
    let patient = limits(60.0);
    for env in environments() {
        for (name, body) in recursions() {
            let caught = format!(
                "try {{\n{body}\n}} catch (e) {{ return [e instanceof RangeError, String(e.message)]; }}\nreturn 'not caught';"
            );
            let outcome = run_with(env.as_ref(), &caught, patient).await;
            let value = outcome.result.clone().unwrap_or_else(|f| json!(f.message));
            assert_eq!(value[0], json!(true), "{}: {name}: `{body}` gave {value}", env.name());
            let (kind, message) = failure(env.as_ref(), &run_with(env.as_ref(), &body, patient).await);
            assert_eq!(kind, FailureKind::Runtime, "{}: {name}: {message}", env.name());
            assert!(message.contains("RangeError"), "{}: {name}: {message}", env.name());
        }
        assert_eq!(run(env.as_ref(), "return 3;").await.result, Ok(json!(3)));
    }
}

#[tokio::test]
async fn nothing_to_reach_but_the_bridge() {
    for env in environments() {
        let env = env.as_ref();
        for js in [
            "const fs = await import('node:fs'); return fs.readFileSync('/etc/passwd', 'utf8');",
            "const cp = await import('node:child_process'); return cp.execSync('id').toString();",
        ] {
            failure(env, &run(env, js).await);
        }
        assert_eq!(
            run(env, "return typeof process;").await.result,
            Ok(json!("undefined")),
            "{}",
            env.name()
        );
        assert_eq!(
            run(env, "return typeof require;").await.result,
            Ok(json!("undefined")),
            "{}",
            env.name()
        );
        assert_eq!(
            run(env, "return typeof fetch;").await.result,
            Ok(json!("undefined")),
            "{}",
            env.name()
        );
        let global = run(
            env,
            "try { return console.log.constructor('return typeof process')(); } catch (e) { return 'refused'; }",
        )
        .await;
        assert!(
            matches!(global.result, Ok(ref v) if v == "undefined" || v == "refused"),
            "{}: {:?}",
            env.name(),
            global.result
        );
    }
    let wasm = WasmEnvironment::new().unwrap();
    assert_eq!(
        run(&wasm, "return typeof WebAssembly + ' ' + typeof setTimeout;")
            .await
            .result,
        Ok(json!("undefined function"))
    );
}

#[tokio::test]
async fn work_the_program_did_not_await_is_finished_not_dropped() {
    // (program, value, the `n` of every call made, in order). Seen from a real model:
    // `main().then(...)` returned at once and the report said success with 0 tool calls.
    let cases: [(&str, Value, &[i64]); 5] = [
        (
            "const main = async () => {\n  await tools.t.echo({ n: 1 });\n  await tools.t.echo({ n: 2 });\n};\nmain().then(() => console.log('Done'));",
            Value::Null,
            &[1, 2],
        ),
        (
            "(async () => { await tools.t.echo({ n: 1 }); await tools.t.echo({ n: 2 }); })();\nreturn 'started';",
            json!("started"),
            &[1, 2],
        ),
        ("tools.t.echo({ n: 7 });\nreturn 1;", json!(1), &[7]),
        (
            "setTimeout(() => tools.t.echo({ n: 3 }), 50);\nreturn 'later';",
            json!("later"),
            &[3],
        ),
        (
            "let ticks = 0;\nconst id = setInterval(() => { ticks++; tools.t.echo({ n: ticks }); if (ticks === 3) clearInterval(id); }, 10);\nreturn 'ticking';",
            json!("ticking"),
            &[1, 2, 3],
        ),
    ];
    for env in environments() {
        for (js, value, ns) in &cases {
            let (outcome, calls) = run_recorded(env.as_ref(), js, limits(5.0)).await;
            assert_eq!(outcome.result.as_ref(), Ok(value), "{}: {js}", env.name());
            let made: Vec<i64> = calls.iter().filter_map(|a| a["n"].as_i64()).collect();
            assert_eq!(&made, ns, "{}: {js}", env.name());
        }
        let outcome = run(
            env.as_ref(),
            "(async () => { await tools.t.echo({}); })().then(() => console.log('Done'));",
        )
        .await;
        assert_eq!(outcome.console, ["Done"], "{}", env.name());
        // A cleared timer is not waited for.
        let started = Instant::now();
        let outcome = run(
            env.as_ref(),
            "const t = setTimeout(() => {}, 60000);\nclearTimeout(t);\nreturn 1;",
        )
        .await;
        assert_eq!(outcome.result, Ok(json!(1)), "{}", env.name());
        assert!(started.elapsed() < Duration::from_secs(5), "{}", env.name());
    }
}

#[tokio::test]
async fn a_rejection_nothing_handles_fails_the_run() {
    for env in environments() {
        for js in [
            // The body has returned; the floating work throws later.
            "(async () => { await tools.t.echo({}); const r = null; return r.id; })();\nreturn 1;",
            "const main = async () => { const c = await tools.t.echo({}); return c.messages[0].id; };\nmain().then(() => console.log('Done'));",
            // The body is still running when the forgotten call's promise rejects.
            "tools.t.hang({});\nawait new Promise((ok) => setTimeout(ok, 1500));\nreturn 1;",
        ] {
            let (kind, message) = failure(env.as_ref(), &run(env.as_ref(), js).await);
            assert_eq!(kind, FailureKind::Runtime, "{}: {js}: {message}", env.name());
            assert!(
                message.contains("did not await or catch"),
                "{}: {js}: {message}",
                env.name()
            );
        }
        // A rejection that is caught later in the same turn is handled.
        assert_eq!(
            run(
                env.as_ref(),
                "const p = Promise.reject(new Error('x'));\ntry { await p; } catch (e) { return 'caught'; }"
            )
            .await
            .result,
            Ok(json!("caught")),
            "{}",
            env.name()
        );
    }
}

#[tokio::test]
async fn prototype_pollution_does_not_leak_into_the_next_run() {
    for env in environments() {
        let polluted = run(
            env.as_ref(),
            "Object.prototype.polluted = 'yes'; Array.prototype.push = () => 0; return ({}).polluted;",
        )
        .await;
        assert_eq!(polluted.result, Ok(json!("yes")));
        let clean = run(
            env.as_ref(),
            "const a = [1]; a.push(2); return [({}).polluted ?? null, a.length];",
        )
        .await;
        assert_eq!(clean.result, Ok(json!([null, 2])), "{}", env.name());
    }
}

#[tokio::test]
async fn console_and_values_are_capped() {
    for env in environments() {
        let env = env.as_ref();
        let capped = ExecutionLimits {
            max_console_bytes: 1000,
            ..limits(5.0)
        };
        let outcome = run_with(
            env,
            "for (let i = 0; i < 10000; i++) console.log('spam ' + i); return 1;",
            capped,
        )
        .await;
        assert_eq!(outcome.result, Ok(json!(1)), "{}", env.name());
        assert_eq!(
            outcome.console.last().unwrap(),
            "[console output truncated after 1000 bytes]",
            "{}",
            env.name()
        );
        let small = ExecutionLimits {
            max_value_bytes: 1024 * 1024,
            ..limits(5.0)
        };
        let (kind, m) = failure(env, &run_with(env, "return 'x'.repeat(2 * 1024 * 1024);", small).await);
        assert_eq!(kind, FailureKind::Runtime, "{}", env.name());
        assert!(m.contains("larger than 1048576 bytes"), "{}: {m}", env.name());
        let (kind, _) = failure(env, &run(env, "return new Array(2 ** 31);").await);
        assert!(
            matches!(kind, FailureKind::Runtime | FailureKind::MemoryLimit),
            "{}: {kind:?}",
            env.name()
        );
    }
}

#[tokio::test]
async fn tool_calls_floods_and_hangs() {
    for env in environments() {
        let env = env.as_ref();
        let outcome = run(
            env,
            "const r = await Promise.all([1, 2, 3].map((i) => tools.t.echo({ i })));\nreturn r;",
        )
        .await;
        assert_eq!(
            outcome.result,
            Ok(json!([{"i": 1}, {"i": 2}, {"i": 3}])),
            "{}",
            env.name()
        );
        let (kind, m) = failure(
            env,
            &run(
                env,
                "for (let i = 0; i < 100; i++) { try { await tools.t.echo({ i }); } catch (e) {} }\nreturn 1;",
            )
            .await,
        );
        assert_eq!(kind, FailureKind::ToolCallLimit, "{}: {m}", env.name());
        let hang = run(
            env,
            "try { await tools.t.hang({}); } catch (e) { return String(e.message); }",
        )
        .await;
        assert_eq!(
            hang.result,
            Ok(json!("tools.t.hang timed out after 0.5 s (tool_call_timeout)")),
            "{}",
            env.name()
        );
        let (kind, m) = failure(env, &run(env, "await new Promise(() => {});").await);
        assert!(
            matches!(kind, FailureKind::Runtime | FailureKind::Timeout),
            "{}: {m}",
            env.name()
        );
    }
}

#[tokio::test]
async fn values_errors_and_lines_round_trip() {
    for env in environments() {
        let env = env.as_ref();
        let outcome = run(
            env,
            "console.log('a', 1, { b: 2 }); console.warn('w'); return { x: [1, 'two', null], d: undefined };",
        )
        .await;
        assert_eq!(outcome.result, Ok(json!({"x": [1, "two", null]})), "{}", env.name());
        assert_eq!(outcome.console, vec!["a 1 {\"b\":2}", "[warn] w"], "{}", env.name());
        assert_eq!(run(env, "return;").await.result, Ok(Value::Null));
        let outcome = run(env, "\n\nnull.x;").await;
        let Err(f) = &outcome.result else {
            panic!("{}", env.name())
        };
        assert_eq!(
            (f.kind, f.line),
            (FailureKind::Runtime, Some(3)),
            "{}: {f:?}",
            env.name()
        );
        assert!(f.message.starts_with("TypeError"), "{}: {}", env.name(), f.message);
        let (_, m) = failure(env, &run(env, "throw 'a string';").await);
        assert_eq!(m, "Error: uncaught a string", "{}", env.name());
    }
}

#[tokio::test]
async fn node_permission_model_empty_environment_and_no_eval() {
    let node = ProcessEnvironment::node().unwrap();
    let denied = |m: &str| m.contains("ERR_ACCESS_DENIED") || m.contains("restricted");
    let (_, m) = failure(
        &node,
        &run(
            &node,
            "const fs = await import('node:fs'); return fs.readFileSync('/etc/passwd', 'utf8');",
        )
        .await,
    );
    assert!(denied(&m), "{m}");
    let (_, m) = failure(
        &node,
        &run(
            &node,
            "const fs = await import('node:fs'); fs.writeFileSync('x.txt', 'x'); return 1;",
        )
        .await,
    );
    assert!(denied(&m), "{m}");
    let (_, m) = failure(
        &node,
        &run(
            &node,
            "const cp = await import('node:child_process'); return cp.execSync('id').toString();",
        )
        .await,
    );
    assert!(denied(&m), "{m}");
    let env = run(
        &node,
        "const p = await import('node:process'); return Object.keys(p.env);",
    )
    .await;
    assert_eq!(env.result, Ok(json!([])), "the environment is empty");
    let (_, m) = failure(&node, &run(&node, "return eval('1 + 1');").await);
    assert!(m.contains("EvalError") || m.contains("Code generation"), "{m}");
}

#[tokio::test]
async fn deno_has_no_permissions_an_empty_environment_and_no_eval() {
    let deno = deno();
    assert_eq!(deno.name(), "deno");
    let denied = |m: &str| m.contains("NotCapable") || m.contains("Requires") || m.contains("permission");
    for js in [
        "const fs = await import('node:fs'); return fs.readFileSync('/etc/passwd', 'utf8');",
        "const fs = await import('node:fs'); fs.writeFileSync('x.txt', 'x'); return 1;",
        "const cp = await import('node:child_process'); return cp.execSync('id').toString();",
        "const p = await import('node:process'); return p.env.HOME ?? Object.keys(p.env);",
        "const r = await import('node:net'); return await new Promise((ok, no) => r.connect(80, '127.0.0.1').on('connect', ok).on('error', no));",
    ] {
        let (_, m) = failure(&deno, &run(&deno, js).await);
        assert!(denied(&m), "{js}: {m}");
    }
    let (_, m) = failure(&deno, &run(&deno, "return eval('1 + 1');").await);
    assert!(m.contains("EvalError") || m.contains("Code generation"), "{m}");
    // Deno's own API stays (node: modules are built on it) and is held by the permissions.
    for js in [
        "return Deno.env.get('HOME');",
        "return await Deno.readTextFile('/etc/hostname');",
        "return new Deno.Command('/usr/bin/id').outputSync();",
    ] {
        let (_, m) = failure(&deno, &run(&deno, js).await);
        assert!(denied(&m), "{js}: {m}");
    }
}

#[tokio::test]
async fn the_cpu_budget_stops_computing_but_not_waiting() {
    let sleepy = "const t = Date.now(); await new Promise((ok) => setTimeout(ok, 700)); return Date.now() - t >= 650;";
    for env in environments() {
        let env = env.as_ref();
        let budget = ExecutionLimits {
            cpu_time: Duration::from_millis(400),
            ..limits(8.0)
        };
        let started = Instant::now();
        let outcome = run_with(env, "while (true) {}", budget).await;
        let elapsed = started.elapsed();
        let (kind, message) = failure(env, &outcome);
        assert_eq!(kind, FailureKind::Timeout, "{}: {message}", env.name());
        assert!(message.contains("cpu_time_limit"), "{}: {message}", env.name());
        // The budget, not the 8 s wall clock, stopped it (the message says which).
        assert!(elapsed < Duration::from_secs(8), "{}: took {elapsed:?}", env.name());
        // Waiting on a timer costs no CPU.
        let budget = ExecutionLimits {
            cpu_time: Duration::from_millis(300),
            ..limits(8.0)
        };
        assert_eq!(
            run_with(env, sleepy, budget).await.result,
            Ok(json!(true)),
            "{}",
            env.name()
        );
    }
}
