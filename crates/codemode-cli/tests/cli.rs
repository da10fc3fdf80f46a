//! The `codemode` binary, run as a user would run it.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{codemode, codemode_on_a_terminal, codemode_on_a_terminal_with, command, text};

const CATALOG: &str = r#"{
  "chat": {"tools": [
    {"name": "send-message", "description": "Send a message", "inputSchema": {"type": "object", "properties": {"channel": {"type": "string"}, "text": {"type": "string"}}, "required": ["channel", "text"]}},
    {"name": "list_channels", "description": "List channels", "inputSchema": {"type": "object"}}
  ]}
}"#;

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("catalog.json"), CATALOG).unwrap();
    dir
}

#[test]
fn help_for_every_subcommand() {
    let dir = workspace();
    let out = codemode(dir.path(), &["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in ["run", "exec", "tools", "types", "check", "doctor", "serve"] {
        assert!(help.contains(cmd), "{cmd} in --help");
        let sub = codemode(dir.path(), &[cmd, "--help"]);
        assert!(sub.status.success(), "{cmd} --help");
        assert!(text(&sub.stdout).contains("Usage: codemode"), "{cmd}");
    }
    assert!(help.contains("Exit codes"));
}

/// Log lines on stderr carry colour codes on a terminal only: piped (CI, an agent reading
/// `codemode serve`'s stderr, a log file) they are plain text.
#[test]
fn log_lines_are_coloured_on_a_terminal_only() {
    // The demo server over stdio: connecting logs at debug level.
    let dir = workspace();
    let exe = env!("CARGO_BIN_EXE_codemode");
    std::fs::write(
        dir.path().join("mcp.json"),
        format!(r#"{{"mcpServers": {{"workspace": {{"command": {exe:?}, "args": ["demo-server"]}}}}}}"#),
    )
    .unwrap();
    let args = ["--mcp-config", "mcp.json", "tools", "list"];
    let piped = command(dir.path())
        .env("CODEMODE_LOG", "debug")
        .args(args)
        .output()
        .unwrap();
    let stderr = text(&piped.stderr);
    assert!(stderr.contains("DEBUG"), "no log line to look at:\n{stderr}");
    assert!(!stderr.contains('\x1b'), "colour codes in a piped log:\n{stderr:?}");

    let mut on_terminal = command(dir.path());
    on_terminal.env("CODEMODE_LOG", "debug").env_remove("NO_COLOR");
    let shown = text(&codemode_on_a_terminal_with(on_terminal, dir.path(), &args, "").stdout);
    assert!(shown.contains("DEBUG"), "{shown}");
    assert!(shown.contains("\x1b["), "no colour on a terminal:\n{shown:?}");
}

#[test]
fn check_prints_compiler_style_diagnostics() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("p.ts"),
        "// send\nawait tools.chat.send_mesage({ channel: 'a', text: 'b' });\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "check", "p.ts"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "p.ts:2:18: TS2339 Property 'send_mesage' does not exist on 'tools.chat'. Did you mean 'send_message'?"
        ),
        "{stdout}"
    );
    std::fs::write(
        dir.path().join("ok.ts"),
        "return await tools.chat.send_message({ channel: 'a', text: 'b' });\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "check", "ok.ts"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn tools_and_types() {
    let dir = workspace();
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "tools", "list"]);
    assert!(
        text(&out.stdout).contains("chat.send_message   Send a message"),
        "{}",
        text(&out.stdout)
    );
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "--json", "tools", "list"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[1]["name"], "send-message");
    let out = codemode(
        dir.path(),
        &["--catalog", "catalog.json", "tools", "show", "send-message"],
    );
    assert!(text(&out.stdout).contains("path:        tools.chat.send_message"));
    let out = codemode(
        dir.path(),
        &["--catalog", "catalog.json", "types", "--tools", "chat.send_message"],
    );
    let types = text(&out.stdout);
    assert!(types.contains("send_message(input: ChatSendMessageInput)"), "{types}");
    assert!(!types.contains("list_channels"));
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "types", "--tools", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no tool `nope`"));
}

#[test]
fn tools_search_ranks_by_the_filter_index() {
    let dir = workspace();
    let out = codemode(
        dir.path(),
        &[
            "--catalog",
            "catalog.json",
            "tools",
            "search",
            "post a message to a channel",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.contains("chat.send_message"), "{stdout}");
    let out = codemode(
        dir.path(),
        &[
            "--catalog",
            "catalog.json",
            "--json",
            "tools",
            "search",
            "channels",
            "--limit",
            "1",
        ],
    );
    let hits: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    assert!(hits[0]["path"].as_str().unwrap().starts_with("chat."));
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "tools", "search", "zebra"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).is_empty());
    assert!(
        text(&out.stderr).contains("shares a word with `zebra`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exec_runs_programs_and_reports_json() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("p.ts"),
        "const xs: number[] = [1, 2, 3];\nconsole.log('sum');\nreturn xs.reduce((a, b) => a + b, 0);\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--json", "exec", "p.ts"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "success");
    assert_eq!(report["output"], 6);
    assert_eq!(report["console"][0], "sum");
    // Static catalog tools can be typed and checked but not called.
    std::fs::write(
        dir.path().join("call.ts"),
        "return await tools.chat.list_channels({});\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "--json", "exec", "call.ts"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "runtime_error");
    assert!(report["error"].as_str().unwrap().contains("static catalog"), "{report}");
    // The timeout flag holds.
    std::fs::write(dir.path().join("loop.ts"), "while (true) {}\n").unwrap();
    let out = codemode(dir.path(), &["--timeout", "1", "--json", "exec", "loop.ts"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "timeout");
    // So does the CPU budget, apart from the wall clock.
    let out = codemode(
        dir.path(),
        &["--timeout", "30", "--cpu-time", "0.3", "--json", "exec", "loop.ts"],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "timeout");
    assert!(report["error"].as_str().unwrap().contains("cpu_time_limit"), "{report}");
    let out = codemode(dir.path(), &["--cpu-time", "0", "exec", "loop.ts"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cpu_time_limit"), "{}", text(&out.stderr));
}

#[test]
fn a_large_returned_value_is_cut_in_the_printed_report_and_the_program_sees_it_whole() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("big.ts"),
        "const rows = Array.from({ length: 20000 }, (_, i) => ({ id: i, title: `row ${i}` }));\n\
         console.log(`built ${rows.length}`);\n\
         return { count: rows.length, rows };\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--json", "exec", "big.ts"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.len() < 40_000, "printed {} bytes", out.stdout.len());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"]["count"], 20000, "the program saw every row");
    let rows = report["output"]["rows"].as_array().unwrap();
    assert!(rows.len() < 20000 && rows.last().unwrap().as_str().unwrap().contains("more items cut"));
    assert!(
        report["cuts"][0].as_str().unwrap().starts_with("output: cut from"),
        "{}",
        report["cuts"]
    );
    // The human report says it too.
    let out = codemode(dir.path(), &["exec", "big.ts"]);
    assert!(
        text(&out.stdout).contains("note: output: cut from"),
        "{}",
        text(&out.stdout)
    );
    // --report-tokens 0 prints everything.
    let out = codemode(dir.path(), &["--report-tokens", "0", "--json", "exec", "big.ts"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"]["rows"].as_array().unwrap().len(), 20000);
    assert!(report.get("cuts").is_none());
}

#[test]
fn a_destructive_tool_call_needs_approval_and_a_denial_can_be_caught() {
    let dir = workspace();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../codemode-mcp/tests/fixtures/misbehaving_server.mjs");
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[mcp_servers.fx]\ncommand = \"node\"\nargs = [{:?}]\nenv = {{ FIXTURE_MODE = \"destructive\" }}\n",
            fixture.to_string_lossy()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.ts"),
        "const out: unknown[] = [];\n\
         try { out.push(await tools.fx.wipe({})); } catch (e) { out.push(String(e)); }\n\
         out.push(await tools.fx.peek({}));\n\
         out.push(await tools.fx.work({ n: 1 }));\n\
         return out;\n",
    )
    .unwrap();
    // Nobody to ask (stdin is not a terminal): the destructive call is denied, the program
    // catches it and goes on; the other tools need no approval.
    let out = codemode(dir.path(), &["--json", "exec", "p.ts"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let denial = report["output"][0].as_str().unwrap();
    assert!(
        denial.contains("tools.fx.wipe was denied")
            && denial.contains("annotated destructiveHint: true")
            && denial.contains("pass --yes"),
        "{denial}"
    );
    assert_eq!(report["output"][1], serde_json::json!({"call": 1}), "{report}");
    assert_eq!(report["approvals"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["approvals"][0]["path"], "fx.wipe");
    assert_eq!(report["approvals"][0]["approved"], false);
    // --yes approves it; the decision is in the report.
    let out = codemode(dir.path(), &["--yes", "--json", "exec", "p.ts"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"][0], serde_json::json!({"call": 1}), "{report}");
    assert_eq!(report["approvals"][0]["approved"], true);
    assert_eq!(report["approvals"][0]["by"], "approve-all");
    // --approval never asks nobody; --approval all asks for every call (all denied here).
    let out = codemode(dir.path(), &["--approval", "never", "--json", "exec", "p.ts"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"][0], serde_json::json!({"call": 1}));
    assert!(report.get("approvals").is_none(), "{report}");
    let out = codemode(dir.path(), &["--approval", "all", "exec", "p.ts"]);
    assert_eq!(out.status.code(), Some(1), "peek is denied too and not caught");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("approval: tools.fx.wipe denied by no-approver")
            && stdout.contains("approval: tools.fx.peek denied"),
        "{stdout}"
    );
}

#[test]
fn on_a_terminal_the_user_is_asked_and_always_is_remembered_for_the_run() {
    let dir = workspace();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../codemode-mcp/tests/fixtures/misbehaving_server.mjs");
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[mcp_servers.fx]\ncommand = \"node\"\nargs = [{:?}]\nenv = {{ FIXTURE_MODE = \"destructive\" }}\n",
            fixture.to_string_lossy()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.ts"),
        "const out: unknown[] = [];\n\
         try { out.push(await tools.fx.wipe({})); } catch (e) { out.push(String(e)); }\n\
         out.push(await tools.fx.wipe({}));\n\
         return out;\n",
    )
    .unwrap();
    // An answer it does not understand is asked again; "a" approves this call and the next.
    let out = codemode_on_a_terminal(dir.path(), &["exec", "p.ts"], "maybe\na\n");
    let screen = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert_eq!(
        screen.matches("Allow it? [y]es / [n]o / [a]lways").count(),
        2,
        "{screen}"
    );
    assert!(screen.contains("answer y, n or a"), "{screen}");
    assert!(
        screen.contains("the program calls tools.fx.wipe (annotated destructiveHint: true)"),
        "{screen}"
    );
    assert!(
        screen.contains("approval: tools.fx.wipe approved by terminal")
            && screen.contains("approval: tools.fx.wipe approved by remembered"),
        "{screen}"
    );
    assert!(screen.contains("\"call\": 2"), "both calls ran: {screen}");
    // "n" denies the first call (the program catches it); the second is asked again.
    let out = codemode_on_a_terminal(dir.path(), &["exec", "p.ts"], "n\nn\n");
    let screen = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "the second denial is not caught: {screen}");
    assert_eq!(screen.matches("Allow it?").count(), 2, "{screen}");
    assert!(screen.contains("denied on the terminal"), "{screen}");
    assert!(!screen.contains("\"call\""), "no call ran: {screen}");
}

#[test]
fn doctor_reports_environments_limits_and_the_checker() {
    let dir = workspace();
    let out = codemode(dir.path(), &["--cpu-time", "2", "doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("wasm (ready)"), "{stdout}");
    assert!(stdout.contains("cpu_time_limit=2s"), "{stdout}");
    assert!(stdout.contains("deno"), "{stdout}");

    // Environment settings come from [environments.NAME]; E2B needs its key.
    std::fs::write(
        dir.path().join("codemode.toml"),
        "[environments.e2b]\napi_key_env = \"CLI_TEST_NO_SUCH_E2B_KEY\"\n[run]\nenvironment = \"e2b\"\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["doctor"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("e2b (unavailable)"), "{stdout}");
    assert!(stdout.contains("CLI_TEST_NO_SUCH_E2B_KEY is not set"), "{stdout}");
}

#[test]
fn run_with_a_scripted_model_from_codemode_toml() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("script.json"),
        r#"{"strategy": ["1. add the numbers"], "tiny": ["[]"], "main": ["```ts\nconst n: number = 40 + 2;\nreturn { n };\n```"]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        "catalog = \"catalog.json\"\n[llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n[run]\nmax_tool_calls = 5\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--json", "run", "add 40 and 2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "success");
    assert_eq!(report["output"]["n"], 42);
    assert_eq!(report["timings"].as_array().unwrap().len(), 6);
    let out = codemode(dir.path(), &["run", "add 40 and 2"]);
    let human = text(&out.stdout);
    assert!(human.contains("── plan ──") && human.contains("total"), "{human}");
}

#[test]
fn bad_configuration_exits_2_with_a_clear_message() {
    let dir = workspace();
    std::fs::write(dir.path().join("codemode.toml"), "[run]\nmax_tool_call = 3\n").unwrap();
    let out = codemode(dir.path(), &["doctor"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("codemode.toml") && err.contains("max_tool_call"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    let out = codemode(dir.path(), &["--config", "missing.toml", "doctor"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_file(dir.path().join("codemode.toml")).unwrap();
    let out = codemode(dir.path(), &["run", "anything"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no models are configured"));
    std::fs::write(dir.path().join("codemode.toml"), "[llm.main]\nprovider = \"nope\"\n").unwrap();
    let out = codemode(dir.path(), &["run", "anything"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no LLM provider named `nope`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exec_against_mcp_servers_from_a_claude_desktop_config_and_codemode_toml() {
    let dir = workspace();
    let everything =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/npm/node_modules/.bin/mcp-server-everything");
    assert!(
        everything.is_file(),
        "run `npm ci --prefix tests/npm` first (.ci/run does)"
    );
    let everything = everything.to_string_lossy().into_owned();
    std::fs::write(
        dir.path().join("claude_desktop_config.json"),
        serde_json::json!({"mcpServers": {"everything": {"command": everything, "args": ["stdio"]}}}).to_string(),
    )
    .unwrap();
    std::fs::write(dir.path().join("p.ts"), "const [a, b] = await Promise.all([tools.everything.echo({ message: 'x' }), tools.everything.get_sum({ a: 1, b: 2 })]);\nreturn { a, b };\n").unwrap();
    let out = codemode(
        dir.path(),
        &["--mcp-config", "claude_desktop_config.json", "--json", "exec", "p.ts"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["output"],
        serde_json::json!({"a": "Echo: x", "b": "The sum of 1 and 2 is 3."})
    );

    std::fs::write(
        dir.path().join("codemode.toml"),
        format!("[mcp_servers.ev]\ncommand = {everything:?}\nargs = [\"stdio\"]\n\n[mcp_servers.broken]\ncommand = \"/nonexistent/server\"\n"),
    )
    .unwrap();
    let out = codemode(dir.path(), &["tools", "list", "--namespace", "ev"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("ev.get_sum"), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("MCP server `broken` is left out") && err.contains("/nonexistent/server"),
        "{err}"
    );
    let out = codemode(dir.path(), &["types", "--tools", "ev.get_sum"]);
    assert!(text(&out.stdout).contains("get_sum(input: EvGetSumInput)"));
}

/// `codemode run` end to end, all three roles served by a fake OpenAI-compatible server over
/// real HTTP (wiremock on loopback), tools from the real `server-everything` over stdio;
/// the calls are recorded and then replayed with `provider = "replay"`.
#[tokio::test(flavor = "multi_thread")]
async fn run_against_a_fake_openai_compatible_server_then_replay_it() {
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let completion = |text: &str| {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
        }))
    };
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-fake-cli-test-key-0123456789"))
        .and(body_string_contains("You are the planner"))
        .respond_with(completion("1. add 2 and 3 with get_sum\n2. return the text"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_string_contains("You select tools"))
        .respond_with(completion("[\"everything.get_sum\"]"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_string_contains("You write TypeScript programs"))
        .respond_with(completion(
            "```typescript\nconst sum = await tools.everything.get_sum({ a: 2, b: 3 });\nreturn { sum };\n```",
        ))
        .expect(1)
        .mount(&server)
        .await;

    let dir = workspace();
    let everything =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/npm/node_modules/.bin/mcp-server-everything");
    let toml = format!(
        "[llm.main]\nprovider = \"openai\"\nmodel = \"fake-main\"\nbase_url = \"{}/v1\"\napi_key_env = \"FAKE_OPENAI_KEY\"\ntemperature = 0.0\n\n[mcp_servers.everything]\ncommand = {:?}\nargs = [\"stdio\"]\n",
        server.uri(),
        everything.to_string_lossy()
    );
    std::fs::write(dir.path().join("codemode.toml"), toml).unwrap();
    let cwd = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        command(&cwd)
            .args([
                "--json",
                "--record-llm",
                "calls.jsonl",
                "--log-dir",
                "logs",
                "run",
                "What is 2 + 3?",
            ])
            .env("FAKE_OPENAI_KEY", "sk-fake-cli-test-key-0123456789")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "success");
    assert_eq!(report["output"]["sum"], "The sum of 2 and 3 is 5.");
    // The tiny model's choice and the search's three best tools for the request and plan.
    assert_eq!(
        report["selected_tools"],
        serde_json::json!([
            "everything.get_resource_links",
            "everything.get_resource_reference",
            "everything.get_sum"
        ])
    );
    assert_eq!(report["token_usage"]["main"]["prompt_tokens"], 100);
    assert_eq!(report["token_usage"]["strategy"]["calls"], 1);
    let requests = server.received_requests().await.unwrap();
    let filter_calls = requests
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("You select tools"))
        .count();
    assert_eq!(filter_calls, 1, "13 tools fit in one filter batch");
    let logs = std::fs::read_dir(dir.path().join("logs")).unwrap().count();
    assert_eq!(logs, 3);
    for entry in std::fs::read_dir(dir.path().join("logs")).unwrap() {
        let log = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            !log.contains("sk-fake-cli-test-key"),
            "the key stays out of prompt logs"
        );
    }

    // Replay: no server needed, same result.
    drop(server);
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[llm.main]\nprovider = \"replay\"\nrecording = \"calls.jsonl\"\n\n[mcp_servers.everything]\ncommand = {:?}\nargs = [\"stdio\"]\n",
            everything.to_string_lossy()
        ),
    )
    .unwrap();
    let cwd = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || codemode(&cwd, &["--json", "run", "What is 2 + 3?"]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(replayed["output"], report["output"]);
    assert_eq!(replayed["code"], report["code"]);
}

/// `codemode demo` in `dir`, with no API keys in its environment.
fn offline_demo(dir: &Path) -> Output {
    command(dir).arg("demo").output().expect("the codemode binary runs")
}

#[test]
fn demo_runs_offline_and_says_so() {
    let dir = workspace();
    let out = offline_demo(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("OFFLINE"), "{stdout}");
    for step in ["plan", "filter", "types", "implement", "check", "execute"] {
        assert!(
            stdout.contains(&format!("✓ {step}")),
            "progress line for {step}: {stdout}"
        );
    }
    assert!(stdout.contains("── generated code"));
    assert!(
        stdout.contains("workspace.add_reaction({\"message_id\":2,\"emoji\":\"tada\"})"),
        "{stdout}"
    );
    assert!(stdout.contains("\"test-alerts\""));
    assert!(stdout.contains("total"));
    // Without TypeScript 7 the weaker checker runs, and the demo says so.
    if stdout.contains("checker: builtin") {
        assert!(
            text(&out.stderr).contains("TypeScript 7 was not found"),
            "{}",
            text(&out.stderr)
        );
    }

    // The demo uses the configured checker.
    let tsc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/npm/node_modules/.bin/tsc");
    assert!(tsc.is_file(), "run `npm ci --prefix tests/npm` first (.ci/run does)");
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[run]\ntype_checker = \"tsc\"\ntsc_path = {:?}\n",
            tsc.to_string_lossy()
        ),
    )
    .unwrap();
    let out = offline_demo(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("checker: tsc 7"), "{stdout}");
    assert!(!text(&out.stderr).contains("TypeScript 7 was not found"));
}

/// `[tool_providers.NAME]` with `provider = "composio"`, against a fake of Composio's v3 API
/// (a test double: wiremock on loopback). The key comes from the environment; without it,
/// the provider is left out with a message naming the variable.
#[tokio::test(flavor = "multi_thread")]
async fn composio_tool_providers_from_codemode_toml() {
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/tools"))
        .and(header("x-api-key", "ak_cli_test_0123456789"))
        .and(query_param("toolkit_slug", "hackernews"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "items": [{
                "slug": "HACKERNEWS_GET_USER",
                "name": "Get user",
                "description": "Gets a Hacker News user by username.",
                "version": "20250901_00",
                "input_parameters": {"type": "object", "properties": {"username": {"type": "string"}}, "required": ["username"]},
                "output_parameters": {"type": "object", "properties": {
                    "data": {"type": "object", "properties": {"karma": {"type": "integer"}}},
                    "error": {"type": "string", "nullable": true},
                    "successful": {"type": "boolean"}
                }}
            }],
            "next_cursor": null, "total_pages": 1, "current_page": 1, "total_items": 1
        })))
        .mount(&server)
        .await;
    let dir = workspace();
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[tool_providers.hn]\nprovider = \"composio\"\ntoolkits = [\"hackernews\"]\napi_key_env = \"CLI_TEST_COMPOSIO_KEY\"\nbase_url = \"{}\"\n",
            server.uri()
        ),
    )
    .unwrap();
    let run = |args: &[&str], key: Option<&str>| {
        let mut cmd = command(dir.path());
        cmd.args(args);
        match key {
            Some(k) => cmd.env("CLI_TEST_COMPOSIO_KEY", k),
            None => cmd.env_remove("CLI_TEST_COMPOSIO_KEY"),
        };
        cmd.output().unwrap()
    };
    let out = run(&["types"], Some("ak_cli_test_0123456789"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let types = text(&out.stdout);
    assert!(
        types.contains("HACKERNEWS_GET_USER(input: HnHackernewsGetUserInput): Promise<HnHackernewsGetUserOutput>"),
        "{types}"
    );
    assert!(types.contains("karma?: number"), "{types}");

    let out = run(&["tools", "list"], None);
    let err = text(&out.stderr);
    assert!(
        err.contains("tool provider `hn` is left out") && err.contains("CLI_TEST_COMPOSIO_KEY is not set"),
        "{err}"
    );

    let out = run(&["doctor"], None);
    let doctor = text(&out.stdout);
    assert!(doctor.contains("tool_providers.hn  composio"), "{doctor}");
    let kinds = doctor
        .lines()
        .find(|l| l.starts_with("tool providers"))
        .unwrap_or_default();
    assert!(kinds.contains("composio, mcp, pipedream"), "{doctor}");

    std::fs::write(
        dir.path().join("codemode.toml"),
        "[tool_providers.x]\nprovider = \"nope\"\n",
    )
    .unwrap();
    let out = run(&["tools", "list"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("[tool_providers.x]") && err.contains("composio"), "{err}");
}

/// The program Qwen2.5-Coder-1.5B wrote for the seed query in
/// `shared/data/real-model-transcripts/seed-query-run2` (verbatim): its work runs in
/// `main().then(...)`, which the body does not await, and fails there. It was reported as
/// `success` with 0 tool calls; the work must run and its failure must be the run's.
#[test]
fn a_real_models_floating_main_runs_and_its_failure_is_reported() {
    let dir = workspace();
    let exe = env!("CARGO_BIN_EXE_codemode");
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!("[mcp_servers.workspace]\ncommand = {exe:?}\nargs = [\"demo-server\"]\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("run2.ts"),
        include_str!("transcripts/seed-query-run2.ts"),
    )
    .unwrap();
    let out = codemode(dir.path(), &["--json", "exec", "run2.ts"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_eq!(report["result_type"], "runtime_error", "{report:#}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("TypeError") && error.contains("did not await or catch"),
        "{error}"
    );
    let calls: Vec<&str> = report["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["path"].as_str())
        .collect();
    assert_eq!(calls.first(), Some(&"workspace.list_channels"), "{report:#}");
    assert!(calls.contains(&"workspace.send_message"), "{report:#}");
}

/// `exclude_tools` keeps tools out of the catalog, the declarations and the bridge.
#[test]
fn excluded_tools_are_not_listed_typed_or_callable() {
    let dir = workspace();
    let exe = env!("CARGO_BIN_EXE_codemode");
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[run]\ntype_checker = \"builtin\"\n\n[mcp_servers.workspace]\ncommand = {exe:?}\nargs = [\"demo-server\"]\nexclude_tools = [\"reset_*\", \"get_workspace_state\"]\n"
        ),
    )
    .unwrap();
    let listed = text(&codemode(dir.path(), &["tools", "list"]).stdout);
    assert!(listed.contains("workspace.list_channels"), "{listed}");
    assert!(
        !listed.contains("reset_workspace") && !listed.contains("get_workspace_state"),
        "{listed}"
    );
    std::fs::write(dir.path().join("p.ts"), "await tools.workspace.reset_workspace({});\n").unwrap();
    let check = codemode(dir.path(), &["check", "p.ts"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(text(&check.stdout).contains("TS2339"), "{}", text(&check.stdout));
}

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

/// A program only TypeScript 7 rejects: the built-in checker does not type string methods.
const TSC_ONLY_ERROR: &str = "const n = 1;\nconst s = n.toFixed(1);\nreturn s.nope();\n";

fn tsc_on_path() -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("tsc").is_file()))
}

/// On a machine without TypeScript 7, the first check installs the pinned release into
/// codemode's cache with npm (a one-line notice), and later runs use it without a notice.
#[test]
fn typescript_7_is_installed_on_first_use() {
    if tsc_on_path() {
        eprintln!("skipped: a tsc is on PATH, so nothing would be installed");
        return;
    }
    let dir = workspace();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.ts"), TSC_ONLY_ERROR).unwrap();
    let check = || {
        Command::new(env!("CARGO_BIN_EXE_codemode"))
            .args(["--catalog", "catalog.json", "check", "p.ts"])
            .current_dir(dir.path())
            .env_remove("CODEMODE_CONFIG")
            .env_remove("CODEMODE_TSC")
            .env_remove("CODEMODE_TSC_INSTALL")
            .env("CODEMODE_CACHE_DIR", cache.path())
            .output()
            .unwrap()
    };
    let first = check();
    let (stdout, stderr) = (text(&first.stdout), text(&first.stderr));
    assert!(stderr.contains("installing typescript@7.0.2"), "{stderr}");
    assert!(stderr.contains("CODEMODE_TSC_INSTALL=0"), "{stderr}");
    assert!(stderr.contains("(checker: tsc 7."), "{stderr}");
    assert!(stdout.contains("p.ts:3:") && stdout.contains("TS2339"), "{stdout}");
    assert_eq!(first.status.code(), Some(1));
    assert!(cache.path().join("typescript-7.0.2/node_modules/.bin/tsc").is_file());
    let second = check();
    let stderr = text(&second.stderr);
    assert!(!stderr.contains("installing"), "{stderr}");
    assert!(stderr.contains("(checker: tsc 7."), "{stderr}");
}

/// Without npm the install cannot work: the run says loudly that the built-in checker ran
/// and why, and `doctor` says so too; turned off, nothing is installed.
#[test]
fn without_npm_the_builtin_checker_runs_and_says_why() {
    if tsc_on_path() {
        eprintln!("skipped: a tsc is on PATH");
        return;
    }
    let dir = workspace();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.ts"), TSC_ONLY_ERROR).unwrap();
    let run = |args: &[&str], install: &str| {
        Command::new(env!("CARGO_BIN_EXE_codemode"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("CODEMODE_CONFIG")
            .env_remove("CODEMODE_TSC")
            .env("CODEMODE_TSC_INSTALL", install)
            .env("CODEMODE_CACHE_DIR", cache.path())
            .env("PATH", dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["--catalog", "catalog.json", "check", "p.ts"], "1");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("npm is not installed"), "{stderr}");
    assert!(
        stderr.contains("warning: the built-in checker runs, not TypeScript 7"),
        "{stderr}"
    );
    assert!(stderr.contains("(checker: builtin"), "{stderr}");
    // The JSON report says it too, for whoever reads only the report.
    let out = run(&["--json", "--catalog", "catalog.json", "exec", "p.ts"], "1");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let warning = report["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("the built-in checker runs") && warning.contains("npm is not installed"),
        "{report:#}"
    );
    assert_eq!(report["checker"], "builtin (oxc)", "{report:#}");
    let doctor = text(&run(&["doctor"], "1").stdout);
    let line = doctor.lines().find(|l| l.starts_with("checker ")).unwrap_or_default();
    assert!(
        line.contains("WARNING") && line.contains("npm is not installed"),
        "{doctor}"
    );
    let off = run(&["--catalog", "catalog.json", "check", "p.ts"], "0");
    let stderr = text(&off.stderr);
    assert!(
        !stderr.contains("installing") && stderr.contains("TypeScript 7 was not found"),
        "{stderr}"
    );
}
