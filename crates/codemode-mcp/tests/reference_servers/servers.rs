//! The reference servers from npm typed and called; MCP tasks left out; timeouts naming the tool.

use super::*;

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
