//! Traces, and runtime errors going back to the model.

use super::*;

/// A scripted model (a test double) against the demo server, with the built-in checker.
fn scripted_workspace(main: &[&str]) -> tempfile::TempDir {
    let dir = workspace();
    let exe = env!("CARGO_BIN_EXE_codemode");
    let script = serde_json::json!({
        "strategy": ["1. List the channels.\n2. Find the channel asked for and read its messages."],
        "tiny": ["[\"workspace.list_channels\", \"workspace.list_messages\", \"workspace.send_message\"]"],
        "main": main,
    });
    std::fs::write(dir.path().join("script.json"), script.to_string()).unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[mcp_servers.workspace]\ncommand = {exe:?}\nargs = [\"demo-server\"]\n\
             [llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n[run]\ntype_checker = \"builtin\"\n"
        ),
    )
    .unwrap();
    dir
}

/// `--trace FILE` and `--otlp URL` on a whole run (scripted model as a test double, the demo
/// server over stdio, a wiremock collector on loopback as the fake OpenTelemetry collector).
#[tokio::test(flavor = "multi_thread")]
async fn a_trace_nests_steps_model_calls_and_tool_calls_under_the_run() {
    use wiremock::matchers::{method, path};
    let collector = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .expect(1)
        .mount(&collector)
        .await;
    let program =
        "```typescript\nconst { channels } = await tools.workspace.list_channels({});\nreturn channels.length;\n```";
    let dir = scripted_workspace(&[program]);
    let cwd = dir.path().to_path_buf();
    let otlp = collector.uri();
    let out = tokio::task::spawn_blocking(move || {
        codemode(
            &cwd,
            &[
                "--trace",
                "trace.jsonl",
                "--otlp",
                &otlp,
                "--json",
                "run",
                "How many channels?",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let spans: Vec<Value> = std::fs::read_to_string(dir.path().join("trace.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |name: &str, field: &str, value: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name && s["fields"][field] == value)
            .unwrap_or_else(|| panic!("no {name} span with {field} = {value}: {spans:#?}"))
    };
    let run = find("run", "kind", "pipeline");
    assert_eq!(run["fields"]["result_type"], "success");
    let plan = find("step", "step", "plan");
    let execute = find("step", "step", "execute");
    let model_call = find("model_call", "role", "strategy");
    let tool_call = find("tool_call", "path", "workspace.list_channels");
    assert_eq!(plan["parent_id"], run["span_id"]);
    assert_eq!(execute["parent_id"], run["span_id"]);
    assert_eq!(
        model_call["parent_id"], plan["span_id"],
        "the model call is under its step"
    );
    assert_eq!(
        tool_call["parent_id"], execute["span_id"],
        "the tool call is under execute"
    );
    assert!(
        model_call["fields"]["prompt_tokens"].as_u64().unwrap() > 0,
        "{model_call}"
    );
    assert!(spans.iter().all(|s| s["trace_id"] == run["trace_id"]), "one trace");
    assert!(tool_call["duration_ms"].as_f64().unwrap() > 0.0);
    // The collector got the same spans as OTLP JSON.
    let requests = collector.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let sent = body["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap();
    assert_eq!(sent.len(), spans.len());
    let sent_tool = sent.iter().find(|s| s["name"] == "tool_call").unwrap();
    assert_eq!(sent_tool["parentSpanId"], execute["span_id"]);
    assert!(
        sent_tool["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "path" && a["value"]["stringValue"] == "workspace.list_channels"),
        "{sent_tool}"
    );
}

/// A model's guess that a channel exists passes every checker (`!`) and fails at run time.
const GUESSES_A_CHANNEL: &str = "```typescript\nconst { channels } = await tools.workspace.list_channels({});\nconst ops = channels.find((c) => c.name === \"ops\")!;\nconst { messages } = await tools.workspace.list_messages({ channel: ops.name });\nreturn messages.length;\n```";

#[test]
fn a_runtime_error_after_read_only_calls_goes_back_to_the_model() {
    let fixed = "```typescript\nconst { channels } = await tools.workspace.list_channels({});\nconst ops = channels.find((c) => c.name === \"ops\");\nif (!ops) return \"no ops channel\";\nconst { messages } = await tools.workspace.list_messages({ channel: ops.name });\nreturn messages.length;\n```";
    let dir = scripted_workspace(&[GUESSES_A_CHANNEL, fixed]);
    let out = codemode(
        dir.path(),
        &["--json", "--log-dir", "logs", "run", "How many messages are in ops?"],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    assert_eq!(report["result_type"], "success", "{report:#}");
    assert_eq!(report["output"], "no ops channel");
    assert_eq!(report["runtime_repairs"], 1);
    let attempt = &report["runtime_attempts"][0];
    assert_eq!(attempt["result_type"], "runtime_error");
    assert!(attempt["error"].as_str().unwrap().contains("TypeError"), "{attempt:#}");
    assert_eq!(attempt["error_line"], 3, "{attempt:#}");
    assert_eq!(attempt["tool_calls"][0]["path"], "workspace.list_channels");
    assert!(attempt["code"].as_str().unwrap().contains("!;"));
    // The model saw the error, the failing line and the calls already made.
    let prompt = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().contains("runtime_repair"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .expect("a prompt log of the runtime repair");
    assert!(prompt.contains("TypeError"), "{prompt}");
    assert!(
        prompt.contains("3 | const { messages } = await tools.workspace.list_messages"),
        "{prompt}"
    );
    assert!(
        prompt.contains("- tools.workspace.list_channels({}) returned"),
        "{prompt}"
    );
}

/// A program that wrote, then failed: under the default `replay` policy it is repaired and
/// run again, and its write is answered from the first attempt's record, not made twice.
/// Under `read_only` it is not run again; under `always` the write is made again.
#[test]
fn a_runtime_error_after_a_write_is_repaired_without_repeating_the_write() {
    let writes_first = "```typescript\nawait tools.workspace.send_message({ channel: \"general\", text: \"hi\" });\nconst { channels } = await tools.workspace.list_channels({});\nconst ops = channels.find((c) => c.name === \"ops\")!;\nreturn ops.topic;\n```";
    let fixed = "```typescript\nawait tools.workspace.send_message({ channel: \"general\", text: \"hi\" });\nconst { channels } = await tools.workspace.list_channels({});\nconst ops = channels.find((c) => c.name === \"ops\");\nreturn ops ? ops.topic : \"no ops channel\";\n```";
    let dir = scripted_workspace(&[writes_first, fixed]);
    let query = "Say hi, then tell me the ops topic";
    let report = |args: &[&str]| -> (Option<i32>, Value) {
        let out = codemode(dir.path(), args);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
        (out.status.code(), report)
    };

    let (_, replayed) = report(&["--json", "run", query]);
    assert_eq!(replayed["result_type"], "success", "{replayed:#}");
    assert_eq!(replayed["output"], "no ops channel");
    assert_eq!(replayed["runtime_repairs"], 1);
    let first = &replayed["runtime_attempts"][0]["tool_calls"][0];
    assert_eq!(first["path"], "workspace.send_message", "{replayed:#}");
    assert!(first.get("replayed").is_none(), "{first:#}");
    let again = &replayed["tool_calls"][0];
    assert_eq!(again["path"], "workspace.send_message", "{replayed:#}");
    assert_eq!(again["replayed"], true, "the rerun did not send again: {again:#}");
    assert_eq!(again["result"], first["result"]);
    // list_channels({}) succeeded before the failure too, so it is answered the same way.
    assert_eq!(replayed["tool_calls"][1]["replayed"], true, "{replayed:#}");

    let (code, read_only) = report(&["--json", "--rerun-policy", "read_only", "run", query]);
    assert_eq!(code, Some(1), "{read_only:#}");
    assert_eq!(read_only["result_type"], "runtime_error", "{read_only:#}");
    assert_eq!(read_only["runtime_repairs"], 0);
    let error = read_only["error"].as_str().unwrap();
    assert!(
        error.contains("not repaired") && error.contains("tools.workspace.send_message"),
        "{error}"
    );

    let (_, always) = report(&["--json", "--rerun-policy", "always", "run", query]);
    assert_eq!(always["result_type"], "success", "{always:#}");
    assert_eq!(always["runtime_repairs"], 1);
    assert!(always["tool_calls"][0].get("replayed").is_none(), "{always:#}");
}
