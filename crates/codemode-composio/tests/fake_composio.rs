//! The Composio provider over real HTTP on loopback, against a fake of Composio's v3 REST
//! API (a test double built with wiremock: the real service needs an account and a key).
//! Its answers follow the shapes of Composio's API: paged `items` with `next_cursor`, tool
//! schemas with titles, examples and `nullable`, `{data, error, successful, log_id}` results
//! and `{"error": {message, code, suggested_fix}}` failures.

use std::sync::Arc;

use codemode_composio::{ComposioConfig, ComposioToolProvider};
use codemode_core::testing::ScriptedLlm;
use codemode_core::{CodeMode, LlmRole, ResultType, RunOptions, ToolError, ToolProvider};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Shaped like a Composio key; the fake echoes it back in one error to prove redaction.
const KEY: &str = "ak_test_4f1c9e7b2d8a6053";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn github(server: &MockServer) -> ComposioToolProvider {
    let config = ComposioConfig {
        toolkits: vec!["github".into()],
        user_id: Some("user-1".into()),
        base_url: Some(server.uri()),
        ..ComposioConfig::default()
    };
    ComposioToolProvider::with_api_key("github", config, KEY).unwrap()
}

/// The two pages of the GitHub toolkit, only for requests that carry the key.
async fn serve_github_toolkit(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/v3/tools"))
        .and(header("x-api-key", KEY))
        .and(query_param("toolkit_slug", "github"))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("github_page1.json")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/tools"))
        .and(header("x-api-key", KEY))
        .and(query_param("toolkit_slug", "github"))
        .and(query_param("cursor", "eyJwYWdlIjoyfQ=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("github_page2.json")))
        .mount(server)
        .await;
}

#[tokio::test]
async fn lists_every_page_with_schemas_and_output_data_types() {
    let server = MockServer::start().await;
    serve_github_toolkit(&server).await;
    let tools = github(&server).list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["GITHUB_CREATE_AN_ISSUE", "GITHUB_LIST_REPOSITORY_ISSUES"]);
    let create = &tools[0];
    assert_eq!(create.input_schema["required"], json!(["owner", "repo", "title"]));
    // The output schema is the envelope's `data`, with the definitions it refers to.
    let output = create.output_schema.as_ref().unwrap();
    assert_eq!(output["$ref"], "#/$defs/Issue");
    assert_eq!(
        output["$defs"]["Issue"]["required"],
        json!(["number", "html_url", "state"])
    );
    // An empty output schema means none.
    assert_eq!(tools[1].output_schema, None);
}

#[tokio::test]
async fn a_call_executes_the_listed_version_for_the_user_and_returns_data() {
    let server = MockServer::start().await;
    serve_github_toolkit(&server).await;
    Mock::given(method("POST"))
        .and(path("/api/v3/tools/execute/GITHUB_CREATE_AN_ISSUE"))
        .and(header("x-api-key", KEY))
        .and(body_partial_json(json!({
            "user_id": "user-1",
            "version": "20250905_00",
            "arguments": {"owner": "octocat", "repo": "Hello-World", "title": "Bug"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"number": 7, "html_url": "https://github.com/octocat/Hello-World/issues/7", "state": "open"},
            "error": null,
            "successful": true,
            "log_id": "log_abc"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let provider = github(&server);
    provider.list_tools().await.unwrap();
    let data = provider
        .call_tool(
            "GITHUB_CREATE_AN_ISSUE",
            json!({"owner": "octocat", "repo": "Hello-World", "title": "Bug"}),
        )
        .await
        .unwrap();
    assert_eq!(data["number"], 7);
}

#[tokio::test]
async fn an_unsuccessful_execution_fails_with_composio_error_and_log_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/tools/execute/GITHUB_CREATE_AN_ISSUE"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {},
            "error": "Repository octocat/nope not found or issues are disabled",
            "successful": false,
            "log_id": "log_7Qx"
        })))
        .mount(&server)
        .await;
    let err = github(&server)
        .call_tool(
            "GITHUB_CREATE_AN_ISSUE",
            json!({"owner": "octocat", "repo": "nope", "title": "x"}),
        )
        .await
        .unwrap_err();
    let ToolError::Failed(message) = err else {
        panic!("expected Failed, got {err:?}")
    };
    assert_eq!(
        message,
        "Repository octocat/nope not found or issues are disabled (Composio log log_7Qx)"
    );
}

#[tokio::test]
async fn a_rejected_key_is_reported_without_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/tools"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {
                "message": format!("Invalid API key: {KEY}"),
                "code": 10401,
                "status": 401,
                "suggested_fix": "Check the x-api-key header"
            }
        })))
        .mount(&server)
        .await;
    let err = github(&server).list_tools().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ToolError::Unavailable { .. }), "{err:?}");
    assert!(
        text.contains("Composio rejected the API key from COMPOSIO_API_KEY (HTTP 401)"),
        "{text}"
    );
    assert!(text.contains("Check the x-api-key header"), "{text}");
    assert!(!text.contains(KEY), "{text}");
}

#[tokio::test]
async fn an_unknown_tool_is_named() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/tools/execute/GITHUB_NOPE"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error": {"message": "Tool GITHUB_NOPE not found", "code": 4040, "status": 404}
        })))
        .mount(&server)
        .await;
    let err = github(&server).call_tool("GITHUB_NOPE", json!({})).await.unwrap_err();
    assert!(
        matches!(&err, ToolError::UnknownTool(t) if t.starts_with("GITHUB_NOPE")),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limits_are_retried_but_a_failed_execution_is_not_repeated() {
    let server = MockServer::start().await;
    // Listing: one 429 with Retry-After, then the pages.
    Mock::given(method("GET"))
        .and(path("/api/v3/tools"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    serve_github_toolkit(&server).await;
    // Executing: a 500 may have acted already, so it is reported, not retried.
    Mock::given(method("POST"))
        .and(path("/api/v3/tools/execute/GITHUB_CREATE_AN_ISSUE"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "upstream timeout"}})))
        .expect(1)
        .mount(&server)
        .await;
    let provider = github(&server);
    assert_eq!(provider.list_tools().await.unwrap().len(), 2);
    let err = provider
        .call_tool(
            "GITHUB_CREATE_AN_ISSUE",
            json!({"owner": "o", "repo": "r", "title": "t"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "Composio answered HTTP 500: upstream timeout");
}

#[tokio::test]
async fn individual_tool_slugs_are_listed_together() {
    let server = MockServer::start().await;
    let mut page = fixture("github_page2.json");
    page["items"][0]["slug"] = json!("SLACK_SEND_MESSAGE");
    Mock::given(method("GET"))
        .and(path("/api/v3/tools"))
        .and(query_param("tool_slugs", "SLACK_SEND_MESSAGE,SLACK_NOPE"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .expect(1)
        .mount(&server)
        .await;
    let config = ComposioConfig {
        tools: vec!["SLACK_SEND_MESSAGE".into(), "SLACK_NOPE".into()],
        base_url: Some(server.uri()),
        ..ComposioConfig::default()
    };
    let provider = ComposioToolProvider::with_api_key("slack", config, KEY).unwrap();
    let tools = provider.list_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].name, "SLACK_SEND_MESSAGE");
}

#[tokio::test]
async fn a_looping_cursor_is_an_error_not_a_hang() {
    let server = MockServer::start().await;
    let mut page = fixture("github_page1.json");
    page["next_cursor"] = json!("same");
    Mock::given(method("GET"))
        .and(path("/api/v3/tools"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(&server)
        .await;
    let err = github(&server).list_tools().await.unwrap_err();
    assert!(err.to_string().contains("same page cursor twice"), "{err}");
}

/// The whole pipeline: the scripted LLM (a test double) writes a program against the
/// generated types; the wasm sandbox runs it; the call crosses real HTTP to the fake.
#[tokio::test]
async fn a_program_in_the_sandbox_creates_an_issue_through_composio() {
    let server = MockServer::start().await;
    serve_github_toolkit(&server).await;
    Mock::given(method("POST"))
        .and(path("/api/v3/tools/execute/GITHUB_CREATE_AN_ISSUE"))
        .and(body_partial_json(
            json!({"arguments": {"owner": "octocat", "repo": "Hello-World", "title": "Crash on start"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"number": 42, "html_url": "https://github.com/octocat/Hello-World/issues/42", "state": "open"},
            "error": null,
            "successful": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    let program = r#"const issue = await tools.github.GITHUB_CREATE_AN_ISSUE({ owner: "octocat", repo: "Hello-World", title: "Crash on start" });
console.log(issue.html_url);
return issue.number;"#;
    let llm = ScriptedLlm::new()
        .reply(LlmRole::Strategy, "1. create the issue\n2. return its number")
        .reply(LlmRole::Tiny, r#"["github.GITHUB_CREATE_AN_ISSUE"]"#)
        .reply(LlmRole::Main, format!("```typescript\n{program}\n```"));
    let environment = codemode_env_local::WasmEnvironment::new().unwrap();
    let codemode = CodeMode::builder()
        .llm(Arc::new(llm))
        .tool_provider("github", Arc::new(github(&server)))
        .environment(Arc::new(environment))
        .build()
        .await
        .unwrap();
    let declarations = codemode.declarations();
    assert!(
        declarations.contains("GITHUB_CREATE_AN_ISSUE(input: GithubGithubCreateAnIssueInput)"),
        "{declarations}"
    );
    let report = codemode
        .run(RunOptions::new("file a bug: crash on start"))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!(42));
    assert_eq!(report.console, ["https://github.com/octocat/Hello-World/issues/42"]);
    assert_eq!(report.tool_calls.len(), 1);
    assert_eq!(report.tool_calls[0].path, "github.GITHUB_CREATE_AN_ISSUE");
}
