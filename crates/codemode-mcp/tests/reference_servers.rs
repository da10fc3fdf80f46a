//! `McpToolProvider` against real MCP servers nobody here wrote (the reference servers from
//! npm, installed by `.ci/run` into `tests/npm`), driven by TypeScript programs in the Node
//! process environment; and against a misbehaving fixture server for the failure cases.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codemode_core::{CodeMode, ResultType, RunOptions, ToolError, ToolProvider};
use codemode_env_local::ProcessEnvironment;
use codemode_mcp::McpServerConfig;
use codemode_mcp::McpToolProvider;
use serde_json::json;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A reference server's binary from `tests/npm/node_modules/.bin`.
fn npm_server(name: &str) -> String {
    let bin = root().join("tests/npm/node_modules/.bin").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run `npm ci --prefix tests/npm` (as .ci/run does)",
        bin.display()
    );
    bin.to_string_lossy().into_owned()
}

fn stdio(command: String, args: &[&str]) -> McpServerConfig {
    McpServerConfig {
        command: Some(command),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..McpServerConfig::default()
    }
}

fn fixture(mode: &str, log: Option<&std::path::Path>) -> McpServerConfig {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/misbehaving_server.mjs");
    let mut config = stdio("node".into(), &[script.to_str().unwrap()]);
    config.env.insert("FIXTURE_MODE".into(), mode.into());
    if let Some(log) = log {
        config
            .env
            .insert("FIXTURE_LOG".into(), log.to_string_lossy().into_owned());
    }
    config
}

/// A `CodeMode` over one provider in the Node.js environment, with the default approvals.
async fn node_codemode(namespace: &str, provider: Arc<dyn ToolProvider>) -> CodeMode {
    CodeMode::builder()
        .environment(Arc::new(ProcessEnvironment::node().unwrap()))
        .tool_provider(namespace, provider)
        .build()
        .await
        .unwrap()
}

/// A `CodeMode` over `servers` that approves every call (these tests are about the servers;
/// the filesystem server annotates `write_file` as destructive).
async fn codemode_with(servers: Vec<(&str, McpServerConfig)>) -> CodeMode {
    let mut builder = CodeMode::builder()
        .environment(Arc::new(ProcessEnvironment::node().unwrap()))
        .approver(Arc::new(codemode_core::ApproveAll));
    for (name, config) in servers {
        let provider = McpToolProvider::connect(name, &config)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        builder = builder.tool_provider(name, Arc::new(provider));
    }
    builder.build().await.unwrap()
}

#[tokio::test]
async fn everything_server_types_and_calls() {
    let cm = codemode_with(vec![(
        "everything",
        stdio(npm_server("mcp-server-everything"), &["stdio"]),
    )])
    .await;
    let paths = cm.catalog().tool_paths();
    for p in [
        "everything.echo",
        "everything.get_sum",
        "everything.get_structured_content",
        "everything.trigger_long_running_operation",
    ] {
        assert!(paths.contains(&p.to_string()), "{p} in {paths:?}");
    }
    let decls = cm.declarations();
    assert!(decls.contains("get_structured_content(input: EverythingGetStructuredContentInput): Promise<EverythingGetStructuredContentOutput>;"));
    assert!(
        decls.contains("type EverythingGetStructuredContentOutput = {"),
        "output schemas flow into return types"
    );
    let program = r#"
const weather = await tools.everything.get_structured_content({ location: "Chicago" });
const echoes = await Promise.all(["a", "b", "c", "d"].map((message) => tools.everything.echo({ message })));
const sum = await tools.everything.get_sum({ a: 2, b: 3 });
const progress = await tools.everything.trigger_long_running_operation({ duration: 1, steps: 2 });
let error = "";
try {
  // Valid under the schema, refused by the server: an isError result.
  await tools.everything.gzip_file_as_resource({ name: "x.gz", data: "file:///etc/hostname" });
} catch (e) {
  error = String(e);
}
let invalid = "";
try {
  const a: any = "not a number";
  await tools.everything.get_sum({ a, b: 1 });
} catch (e) {
  invalid = String(e);
}
return { weather, echoes, sum, progress, error, invalid };
"#;
    let report = cm
        .run(codemode_core::RunRequest::program(program, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    let out = &report.output;
    assert!(out["weather"]["temperature"].is_number(), "structuredContent: {out}");
    assert_eq!(out["echoes"], json!(["Echo: a", "Echo: b", "Echo: c", "Echo: d"]));
    assert_eq!(out["sum"], json!("The sum of 2 and 3 is 5."));
    assert!(out["progress"].to_string().contains("completed"), "{out}");
    let error = out["error"].as_str().unwrap();
    assert!(
        error.contains("tools.everything.gzip_file_as_resource failed") && error.contains("Unsupported URL protocol"),
        "{error}"
    );
    let invalid = out["invalid"].as_str().unwrap();
    assert!(
        invalid.contains("tools.everything.get_sum: invalid arguments: at /a")
            && invalid.contains("is not of type \"number\""),
        "refused by the bridge before the call: {invalid}"
    );
    assert_eq!(report.tool_calls.len(), 9);
}

/// The everything server's `simulate-research-query` takes MCP task calls only
/// (`execution.taskSupport: "required"`): offered, every call of it failed with -32601. It is
/// left out of the catalog, and the provider says why. (The server registers it once the
/// client is initialized and announces it with `tools/list_changed`, so the test lists again
/// until it shows.)
#[tokio::test]
async fn a_tool_callable_only_as_an_mcp_task_is_left_out_with_the_reason() {
    let provider = McpToolProvider::connect("everything", &stdio(npm_server("mcp-server-everything"), &["stdio"]))
        .await
        .unwrap();
    let left_out = |warnings: &[String]| {
        warnings
            .iter()
            .any(|w| w.contains("`simulate-research-query` can only be called as an MCP task"))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names: Vec<String> = provider
            .list_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert!(names.iter().any(|n| n == "echo"), "{names:?}");
        assert!(!names.iter().any(|n| n == "simulate-research-query"), "{names:?}");
        let warnings = provider.listing_warnings();
        if left_out(&warnings) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no warning about the task-only tool: {warnings:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_call_past_its_timeout_fails_naming_the_tool() {
    let cm = codemode_with(vec![(
        "everything",
        stdio(npm_server("mcp-server-everything"), &["stdio"]),
    )])
    .await;
    let program = "try {\n  await tools.everything.trigger_long_running_operation({ duration: 5, steps: 5 });\n  return 'finished';\n} catch (e) {\n  return String(e);\n}";
    let started = Instant::now();
    let report = cm
        .run(codemode_core::RunRequest::program(
            program,
            RunOptions::default().tool_call_timeout(0.5),
        ))
        .await
        .unwrap();
    assert_eq!(
        report.output,
        json!("Error: tools.everything.trigger_long_running_operation timed out after 0.5 s (tool_call_timeout)")
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "did not wait for the operation"
    );
    // The server is still usable.
    let report = cm
        .run(codemode_core::RunRequest::program(
            "return await tools.everything.echo({ message: 'still here' });",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(report.output, json!("Echo: still here"));
}

#[tokio::test]
async fn memory_and_filesystem_servers() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let mut memory = stdio(npm_server("mcp-server-memory"), &[]);
    memory.env.insert(
        "MEMORY_FILE_PATH".into(),
        dir.path().join("memory.jsonl").to_string_lossy().into_owned(),
    );
    let fs = stdio(npm_server("mcp-server-filesystem"), &[files.to_str().unwrap()]);
    let root = files.to_str().unwrap();
    // Without an approver, the server's destructive tool (annotated so by the server) is
    // denied under the default policy, and nothing is written.
    let provider = Arc::new(McpToolProvider::connect("fs", &fs).await.unwrap());
    let unapproved = node_codemode("fs", provider).await;
    let write = format!(r#"return await tools.fs.write_file({{ path: "{root}/x.txt", content: "x" }});"#);
    let report = unapproved
        .run(codemode_core::RunRequest::program(&write, RunOptions::default()))
        .await
        .unwrap();
    assert!(
        report
            .error
            .as_deref()
            .unwrap_or("")
            .contains("tools.fs.write_file was denied"),
        "{report:#?}"
    );
    assert!(!files.join("x.txt").exists());
    assert!(!report.approvals[0].approved);
    let cm = codemode_with(vec![("memory", memory), ("fs", fs)]).await;
    let program = format!(
        r#"
await tools.memory.create_entities({{ entities: [
  {{ name: "codemode", entityType: "project", observations: ["written in Rust"] }},
  {{ name: "rmcp", entityType: "crate", observations: ["the MCP SDK"] }},
] }});
const graph = await tools.memory.read_graph({{}});
await Promise.all(["a.txt", "b.txt"].map((f) => tools.fs.write_file({{ path: "{root}/" + f, content: "file " + f }})));
const listing = await tools.fs.list_directory({{ path: "{root}" }});
const b = await tools.fs.read_text_file({{ path: "{root}/b.txt" }});
return {{ entities: graph.entities.map((e: any) => e.name), listing, b }};
"#
    );
    let report = cm
        .run(codemode_core::RunRequest::program(&program, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output["entities"], json!(["codemode", "rmcp"]));
    assert!(
        report.output["listing"].to_string().contains("a.txt"),
        "{}",
        report.output
    );
    assert_eq!(std::fs::read_to_string(files.join("a.txt")).unwrap(), "file a.txt");
    assert!(report.output["b"].to_string().contains("file b.txt"));
}

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

fn unavailable_message(err: &ToolError) -> &str {
    match err {
        ToolError::Unavailable { message, .. } => message,
        other => panic!("expected Unavailable, got {other:?}"),
    }
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

#[tokio::test]
async fn garbage_on_stdout_fails_the_call_in_flight_at_once() {
    let provider = McpToolProvider::connect("confused", &fixture("garbage-instead-of-answer", None))
        .await
        .unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), provider.call_tool("work", json!({})))
        .await
        .expect("the call does not wait for a timeout")
        .unwrap_err();
    let message = unavailable_message(&err);
    assert!(
        message.contains("not JSON-RPC") && message.contains("Traceback (most recent call last): not an answer"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed at once: {:?}",
        started.elapsed()
    );
}

/// An answer over rmcp's 16 MiB line limit was dropped by rmcp and the call waited for its
/// timeout; now it fails at once, naming the size and the limit, and the server stays usable.
#[tokio::test]
async fn an_answer_over_the_size_limit_fails_the_call_at_once() {
    let provider = McpToolProvider::connect("huge", &fixture("huge-answer", None))
        .await
        .unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(20), provider.call_tool("work", json!({})))
        .await
        .expect("the call does not wait for a timeout")
        .unwrap_err();
    let ToolError::Failed(message) = &err else {
        panic!("expected a failed call, got {err:?}")
    };
    assert!(
        message.contains("17.0 MB") && message.contains("over the 16 MiB limit"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // The connection survives: the next call is answered (again too large, again at once).
    let again = tokio::time::timeout(Duration::from_secs(20), provider.call_tool("work", json!({})))
        .await
        .expect("the second call does not wait either");
    assert!(matches!(again, Err(ToolError::Failed(_))), "{again:?}");
}

#[tokio::test]
async fn noise_on_stdout_around_answers_is_tolerated() {
    // Lines that are not JSON-RPC before the handshake and before each answer: the answers
    // still arrive within the grace period, so the calls succeed.
    let provider = McpToolProvider::connect("noisy", &fixture("garbage", None))
        .await
        .unwrap();
    assert_eq!(provider.list_tools().await.unwrap()[0].name, "work");
    assert_eq!(provider.call_tool("work", json!({})).await.unwrap(), json!({"call": 1}));
}

#[tokio::test]
async fn tools_list_changed_refreshes_the_catalog() {
    let provider: Arc<dyn ToolProvider> = Arc::new(
        McpToolProvider::connect("dynamic", &fixture("list-changed", None))
            .await
            .unwrap(),
    );
    let cm = node_codemode("dynamic", provider).await;
    assert_eq!(cm.catalog().tool_paths(), vec!["dynamic.work"]);
    let report = cm
        .run(codemode_core::RunRequest::program(
            "return await tools.dynamic.work({});",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(report.output, json!({"call": 1}));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = cm
        .run(codemode_core::RunRequest::program(
            "return await tools.dynamic.added_later({});",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(cm.catalog().tool_paths(), vec!["dynamic.added_later", "dynamic.work"]);
}

#[tokio::test]
async fn dropping_the_provider_ends_the_server_process() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("received.jsonl");
    let provider = McpToolProvider::connect("short_lived", &fixture("hang", Some(&log)))
        .await
        .unwrap();
    provider.list_tools().await.unwrap();
    let pids_before = fixture_pids(&log);
    assert!(!pids_before.is_empty(), "the fixture server runs");
    drop(provider);
    for _ in 0..50 {
        if fixture_pids(&log).iter().all(|p| !pids_before.contains(p)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server process outlived its provider: {:?}", fixture_pids(&log));
}

/// PIDs of running fixture servers in "hang" mode started by this test binary that log to
/// `log` (other tests run fixtures of their own at the same time).
fn fixture_pids(log: &std::path::Path) -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let is_fixture = String::from_utf8_lossy(&cmdline).contains("misbehaving_server.mjs");
        let environ = String::from_utf8_lossy(&environ);
        let is_hang = environ.contains("FIXTURE_MODE=hang") && environ.contains(&*log.to_string_lossy());
        let zombie = status.lines().any(|l| l.starts_with("State:") && l.contains('Z'));
        let is_child = status
            .lines()
            .any(|l| l.starts_with("PPid:") && l.split_whitespace().nth(1) == Some(me.as_str()));
        if is_fixture && is_hang && is_child && !zombie {
            pids.push(pid);
        }
    }
    pids
}
