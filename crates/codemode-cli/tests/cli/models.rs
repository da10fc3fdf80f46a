//! Runs with models: a fake OpenAI-compatible server, the offline demo, scripted models, Composio.

use super::*;

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
        include_str!("../transcripts/seed-query-run2.ts"),
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
