//! Approvals, doctor, codemode.toml and the MCP configuration files.

use super::*;

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
