//! The walkthrough of docs/plugins.md, "A shared library loaded at run time": a model, tools
//! and a run environment, each a plugin found by name in a plugin folder, running a request
//! end to end through the `codemode` binary. The model plugin talks to a fake
//! OpenAI-compatible server (a test double: wiremock on loopback).

mod common;

use common::{codemode, command, copy_example_plugins, text};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn a_model_tools_and_an_environment_loaded_at_run_time_by_name() {
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let completion = |text: &str| {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 10}
        }))
    };
    let server = MockServer::start().await;
    for (prompt, answer) in [
        (
            "You are the planner",
            "1. reverse the word with text.reverse\n2. return it",
        ),
        ("You select tools", "[\"text.reverse\"]"),
        (
            "You write TypeScript programs",
            "```typescript\nconst { text } = await tools.text.reverse({ text: \"stressed\" });\nconsole.log(text);\nreturn text;\n```",
        ),
    ] {
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(body_string_contains(prompt))
            .respond_with(completion(answer))
            .mount(&server)
            .await;
    }

    let dir = tempfile::tempdir().unwrap();
    copy_example_plugins(&dir.path().join("plugins"));
    let toml = format!(
        r#"[plugins]
dirs = ["plugins"]

[llm.main]
provider = "plugin"
name = "openai-http"
model = "fake-main"
base_url = "{}/v1"

[tool_providers.text]
provider = "plugin"
name = "text"

[run]
environment = "plugin"
type_checker = "builtin"

[environments.plugin]
name = "node-subprocess"
"#,
        server.uri()
    );
    std::fs::write(dir.path().join("codemode.toml"), toml).unwrap();

    let cwd = dir.path().to_path_buf();
    let doctor = tokio::task::spawn_blocking(move || codemode(&cwd, &["doctor"]))
        .await
        .unwrap();
    let stdout = text(&doctor.stdout);
    assert!(stdout.contains("plugin (ready)"), "{stdout}");
    let environment = stdout
        .lines()
        .find_map(|l| l.strip_prefix("environment "))
        .map(str::trim);
    assert_eq!(environment, Some("node-subprocess (ready)"), "{stdout}");

    let cwd = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || codemode(&cwd, &["--json", "run", "Reverse the word stressed"]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "success", "{report:#}");
    assert_eq!(report["output"], "desserts");
    assert_eq!(report["console"], serde_json::json!(["desserts"]));
    assert_eq!(report["tool_calls"][0]["path"], "text.reverse");
    assert_eq!(report["token_usage"]["main"]["prompt_tokens"], 50, "{report:#}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[test]
fn codemode_plugin_path_is_searched_and_a_wrong_name_says_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    copy_example_plugins(plugins.path());
    let tools_list = || {
        command(dir.path())
            .env("CODEMODE_PLUGIN_PATH", plugins.path())
            .args(["tools", "list"])
            .output()
            .unwrap()
    };
    std::fs::write(
        dir.path().join("codemode.toml"),
        "[tool_providers.text]\nprovider = \"plugin\"\nname = \"text\"\nconfig = { shout = true }\n",
    )
    .unwrap();
    let out = tools_list();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("text.reverse") && stdout.contains("text.word_count"),
        "{stdout}"
    );

    std::fs::write(
        dir.path().join("codemode.toml"),
        "[tool_providers.text]\nprovider = \"plugin\"\nname = \"txt\"\n",
    )
    .unwrap();
    let out = tools_list();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains("no tool_provider plugin named `txt`"), "{all}");
    assert!(all.contains("tool_provider `text`"), "{all}");
}
