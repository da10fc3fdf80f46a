//! Nothing to reach but the bridge; unawaited work, rejections, pollution between runs.

use super::*;

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
