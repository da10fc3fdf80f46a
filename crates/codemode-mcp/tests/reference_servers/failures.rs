//! Servers that are missing, exit, crash, go away or hang: named, restarted, cancelled.

use super::*;

#[tokio::test]
async fn a_command_that_does_not_exist_names_the_server() {
    let err = McpToolProvider::connect("ghost", &stdio("/nonexistent/mcp-server".into(), &[]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MCP server `ghost` failed to start") && err.contains("/nonexistent/mcp-server"),
        "{err}"
    );
    // Through the catalog: the failing server is reported, the others keep working.
    let good: Arc<dyn ToolProvider> = Arc::new(
        McpToolProvider::connect("everything", &stdio(npm_server("mcp-server-everything"), &["stdio"]))
            .await
            .unwrap(),
    );
    let cm = CodeMode::builder()
        .tool_provider("everything", good)
        .build()
        .await
        .unwrap();
    assert!(cm.catalog().tool("everything.echo").is_some());
}

#[tokio::test]
async fn a_server_that_exits_is_started_again_by_the_next_call() {
    let provider = McpToolProvider::connect("fragile", &fixture("exit-after-first-call", None))
        .await
        .unwrap();
    assert_eq!(
        provider.call_tool("work", json!({"n": 1})).await.unwrap(),
        json!({"call": 1})
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(provider.tools_changed(), "a server that is gone asks for a relist");
    // The next call starts a new process: its call counter starts over.
    assert_eq!(
        provider.call_tool("work", json!({"n": 2})).await.unwrap(),
        json!({"call": 1})
    );
}

#[tokio::test]
async fn a_server_that_exited_is_started_again_by_the_next_run() {
    let provider: Arc<dyn ToolProvider> = Arc::new(
        McpToolProvider::connect("fragile", &fixture("exit-after-first-call", None))
            .await
            .unwrap(),
    );
    let cm = node_codemode("fragile", provider).await;
    let program = "return await tools.fragile.work({ n: 1 });";
    let first = cm
        .run(codemode_core::RunRequest::program(program, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(first.output, json!({"call": 1}), "{first:#?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The run lists the tools again first (the server is gone), which restarts it.
    let second = cm
        .run(codemode_core::RunRequest::program(program, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(second.result_type, ResultType::Success, "{second:#?}");
    assert_eq!(second.output, json!({"call": 1}));
}

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The everything server over streamable HTTP on `port`, once it accepts connections.
async fn everything_over_http(port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(npm_server("mcp-server-everything"))
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the everything server did not listen on port {port}");
}

#[tokio::test]
async fn an_http_server_that_went_away_is_connected_anew_when_it_is_back() {
    let port = free_port();
    let mut server = everything_over_http(port).await;
    let config = McpServerConfig {
        url: Some(format!("http://127.0.0.1:{port}/mcp")),
        ..McpServerConfig::default()
    };
    let provider = McpToolProvider::connect("remote", &config).await.unwrap();
    let echo = |text: &str| json!({"message": text});
    assert_eq!(
        provider.call_tool("echo", echo("one")).await.unwrap(),
        json!("Echo: one")
    );
    // The server goes away: a call fails with an error that names it.
    server.kill().await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(20), provider.call_tool("echo", echo("two")))
        .await
        .expect("a call to a server that is gone fails at once")
        .unwrap_err();
    eprintln!("while down: {err}");
    assert!(
        matches!(&err, ToolError::Unavailable { provider, .. } if provider == "remote"),
        "{err:?}"
    );
    // It comes back without the old session: the next calls reach it again.
    let _server = everything_over_http(port).await;
    let mut last = None;
    for _ in 0..3 {
        let call = tokio::time::timeout(Duration::from_secs(20), provider.call_tool("echo", echo("three")));
        match call.await.expect("a call to a server that is back does not hang") {
            Ok(value) => {
                last = Some(value);
                break;
            }
            Err(e) => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    assert_eq!(last, Some(json!("Echo: three")));
    // (A restart between two calls, with no failed call in between, is renewed by rmcp on the
    // server's 404; this server answers 400 without an id instead, so that case is tested
    // against the demo server: examples/demo-server/tests/seed_query.rs.)
}

#[tokio::test]
async fn a_crash_during_a_call_names_the_exit_status_and_stderr_and_restarts_are_bounded() {
    let provider = McpToolProvider::connect("crashy", &fixture("exit-during-call", None))
        .await
        .unwrap();
    let err = provider.call_tool("work", json!({})).await.unwrap_err();
    let message = unavailable_message(&err);
    assert!(
        message.contains("it exited (exit status: 3) during tools/call work")
            && message.contains("fixture: crashed while working"),
        "{message}"
    );
    // Each next call restarts it (and it crashes again), MAX_RESTARTS times in a row...
    for _ in 0..codemode_mcp::MAX_RESTARTS {
        let err = provider.call_tool("work", json!({})).await.unwrap_err();
        assert!(unavailable_message(&err).contains("exit status: 3"), "{err}");
    }
    // ...then it gives up, at once, saying why.
    let started = Instant::now();
    let err = provider.call_tool("work", json!({})).await.unwrap_err();
    let message = unavailable_message(&err);
    assert!(
        message.contains("exited (exit status: 3)") && message.contains("gave up after 3 restarts in a row"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "giving up does not wait");
}

#[tokio::test]
async fn a_server_that_exits_at_start_names_its_status_and_stderr() {
    let err = McpToolProvider::connect("broken", &fixture("exit-at-start", None))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MCP server `broken` failed to start")
            && err.contains("exit status: 2")
            && err.contains("fixture: cannot open the database"),
        "{err}"
    );
}

#[tokio::test]
async fn a_tool_without_input_schema_keeps_its_server_and_takes_any_object() {
    let provider: Arc<dyn ToolProvider> = Arc::new(
        McpToolProvider::connect("loose", &fixture("no-input-schema", None))
            .await
            .unwrap(),
    );
    let cm = node_codemode("loose", provider).await;
    assert_eq!(cm.catalog().tool_paths(), vec!["loose.schemaless", "loose.work"]);
    let report = cm
        .run(codemode_core::RunRequest::program(
            "return [await tools.loose.schemaless({ anything: 1 }), await tools.loose.work({ n: 2 })];",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!([{"call": 1}, {"call": 2}]));
}

#[tokio::test]
async fn a_call_that_times_out_sends_cancellation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("received.jsonl");
    let provider: Arc<dyn ToolProvider> = Arc::new(
        McpToolProvider::connect("stuck", &fixture("hang", Some(&log)))
            .await
            .unwrap(),
    );
    let cm = node_codemode("stuck", provider).await;
    let report = cm
        .run(codemode_core::RunRequest::program(
            "try { await tools.stuck.work({ n: 1 }); } catch (e) { return String(e); }",
            RunOptions::default().tool_call_timeout(0.3),
        ))
        .await
        .unwrap();
    assert_eq!(
        report.output,
        json!("Error: tools.stuck.work timed out after 0.3 s (tool_call_timeout)")
    );
    let mut received = String::new();
    for _ in 0..50 {
        received = std::fs::read_to_string(&log).unwrap_or_default();
        if received.contains("notifications/cancelled") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        received.contains("notifications/cancelled"),
        "the server received the cancellation:\n{received}"
    );
}

#[tokio::test]
async fn dropping_a_run_cancels_its_calls_in_flight_and_ends_its_subprocess() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("received.jsonl");
    let provider: Arc<dyn ToolProvider> = Arc::new(
        McpToolProvider::connect("stuck", &fixture("hang", Some(&log)))
            .await
            .unwrap(),
    );
    // The Node.js environment: each run is a subprocess of this test.
    let cm = node_codemode("stuck", provider).await;
    let options = RunOptions::default();
    let run = cm.run(codemode_core::RunRequest::program(
        "await tools.stuck.work({ n: 1 }); return 1;",
        options.clone(),
    ));
    // Boxed, so that `drop` really drops the run (a pinned reference would not).
    let mut run = Box::pin(run);
    // Until the call is in flight (the server logged it), then the run is dropped.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("tools/call") {
        assert!(Instant::now() < deadline, "the call never reached the server");
        let _ = tokio::time::timeout(Duration::from_millis(50), &mut run).await;
    }
    // (Other tests of this binary may have runs up too; they end by themselves.)
    let running = runs_of_node_environment();
    assert!(!running.is_empty(), "the run's subprocess is up");
    drop(run);
    let mut received = String::new();
    let mut left = running.clone();
    for _ in 0..100 {
        received = std::fs::read_to_string(&log).unwrap_or_default();
        let now = runs_of_node_environment();
        left = running.iter().copied().filter(|p| now.contains(p)).collect();
        if received.contains("notifications/cancelled") && left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("after the drop: run subprocesses {left:?} are left; the server received:\n{received}");
}

/// PIDs of child processes of this test that are runs of the Node.js environment (not MCP
/// servers).
fn runs_of_node_environment() -> Vec<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            let cmdline =
                String::from_utf8_lossy(&std::fs::read(entry.path().join("cmdline")).unwrap_or_default()).into_owned();
            let is_child = status
                .lines()
                .any(|l| l.starts_with("PPid:") && l.split_whitespace().nth(1) == Some(me.as_str()));
            // A killed process is a zombie until tokio reaps it: it has ended.
            let zombie = status.lines().any(|l| l.starts_with("State:") && l.contains('Z'));
            is_child && !zombie && !cmdline.contains("misbehaving_server.mjs") && !cmdline.contains("mcp-server")
        })
        .filter_map(|entry| entry.file_name().to_string_lossy().parse().ok())
        .collect()
}
