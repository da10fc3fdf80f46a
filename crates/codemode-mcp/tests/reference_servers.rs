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

async fn codemode_with(servers: Vec<(&str, McpServerConfig)>) -> CodeMode {
    let mut builder = CodeMode::builder().environment(Arc::new(ProcessEnvironment::node().unwrap()));
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
    let report = cm.execute_program(program, &RunOptions::default()).await.unwrap();
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
        .execute_program(program, &RunOptions::default().tool_call_timeout(0.5))
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
        .execute_program(
            "return await tools.everything.echo({ message: 'still here' });",
            &RunOptions::default(),
        )
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
    let cm = codemode_with(vec![("memory", memory), ("fs", fs)]).await;
    let root = files.to_str().unwrap();
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
    let report = cm.execute_program(&program, &RunOptions::default()).await.unwrap();
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

#[tokio::test]
async fn a_server_that_exits_after_the_first_call() {
    let provider = McpToolProvider::connect("fragile", &fixture("exit-after-first-call", None))
        .await
        .unwrap();
    assert_eq!(
        provider.call_tool("work", json!({"n": 1})).await.unwrap(),
        json!({"call": 1})
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let err = provider.call_tool("work", json!({"n": 2})).await.unwrap_err();
    let ToolError::Unavailable {
        provider: name,
        message,
    } = &err
    else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(name, "fragile");
    assert!(
        message.contains("exiting after the first call"),
        "the stderr tail is shown: {message}"
    );
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
    let cm = CodeMode::builder()
        .tool_provider("stuck", provider)
        .environment(Arc::new(ProcessEnvironment::node().unwrap()))
        .build()
        .await
        .unwrap();
    let report = cm
        .execute_program(
            "try { await tools.stuck.work({ n: 1 }); } catch (e) { return String(e); }",
            &RunOptions::default().tool_call_timeout(0.3),
        )
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
async fn a_server_that_prints_garbage_on_stdout() {
    match McpToolProvider::connect("noisy", &fixture("garbage", None)).await {
        // Tolerated: non-protocol lines are skipped and the tools work.
        Ok(provider) => {
            assert_eq!(provider.list_tools().await.unwrap()[0].name, "work");
            assert_eq!(provider.call_tool("work", json!({})).await.unwrap(), json!({"call": 1}));
        }
        // Or refused with an error that names the server.
        Err(e) => assert!(e.to_string().contains("`noisy`"), "{e}"),
    }
}

#[tokio::test]
async fn tools_list_changed_refreshes_the_catalog() {
    let provider: Arc<dyn ToolProvider> = Arc::new(
        McpToolProvider::connect("dynamic", &fixture("list-changed", None))
            .await
            .unwrap(),
    );
    let cm = CodeMode::builder()
        .tool_provider("dynamic", provider)
        .environment(Arc::new(ProcessEnvironment::node().unwrap()))
        .build()
        .await
        .unwrap();
    assert_eq!(cm.catalog().tool_paths(), vec!["dynamic.work"]);
    let report = cm
        .execute_program("return await tools.dynamic.work({});", &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.output, json!({"call": 1}));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = cm
        .execute_program("return await tools.dynamic.added_later({});", &RunOptions::default())
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
    let pids_before = fixture_pids();
    assert!(!pids_before.is_empty(), "the fixture server runs");
    drop(provider);
    for _ in 0..50 {
        if fixture_pids().iter().all(|p| !pids_before.contains(p)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server process outlived its provider: {:?}", fixture_pids());
}

/// PIDs of running fixture servers in "hang" mode started by this test binary.
fn fixture_pids() -> Vec<u32> {
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
        let is_hang = String::from_utf8_lossy(&environ).contains("FIXTURE_MODE=hang");
        let is_child = status
            .lines()
            .any(|l| l.starts_with("PPid:") && l.split_whitespace().nth(1) == Some(me.as_str()));
        if is_fixture && is_hang && is_child {
            pids.push(pid);
        }
    }
    pids
}
