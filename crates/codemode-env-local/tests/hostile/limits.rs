//! Loops, memory and recursion against the limits.

use super::*;

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
    serde_json::from_str(include_str!("../recursion.json")).expect("tests/recursion.json is a list of [name, program]")
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
