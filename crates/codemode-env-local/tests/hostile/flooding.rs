//! Floods of output, values and tool calls; errors and lines; the runtimes locked down; the CPU budget.

use super::*;

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
