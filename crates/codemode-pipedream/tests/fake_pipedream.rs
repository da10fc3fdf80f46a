//! The Pipedream provider over real HTTP on loopback, against a fake of Pipedream Connect's
//! REST API (a test double built with wiremock: the real service needs a project and OAuth
//! client). Its answers follow the API's shapes: `POST /v1/oauth/token`, paged `data` with
//! `page_info.end_cursor`, actions with `configurable_props`, connected accounts, and
//! `{exports, os, ret}` run results.

use std::sync::Arc;

use codemode_core::testing::ScriptedLlm;
use codemode_core::{CodeMode, LlmRole, ResultType, RunOptions, ToolError, ToolProvider};
use codemode_pipedream::{PipedreamConfig, PipedreamCredentials, PipedreamToolProvider};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "pd_secret_9f8e7d6c5b4a3210";
const TOKEN: &str = "pd_token_0123456789abcdef";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn slack(server: &MockServer) -> PipedreamToolProvider {
    let config = PipedreamConfig {
        project_id: "proj_abc123".into(),
        external_user_id: "user-1".into(),
        apps: vec!["slack".into()],
        base_url: Some(server.uri()),
        ..PipedreamConfig::default()
    };
    let credentials = PipedreamCredentials {
        client_id: "client-1".into(),
        client_secret: SECRET.into(),
    };
    PipedreamToolProvider::with_credentials("slack", config, credentials).unwrap()
}

/// The token endpoint; `times` is how often it must be asked.
async fn serve_token(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/v1/oauth/token"))
        .and(body_partial_json(json!({
            "grant_type": "client_credentials", "client_id": "client-1", "client_secret": SECRET
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600, "created_at": 1764000000
        })))
        .expect(times)
        .mount(server)
        .await;
}

/// The two pages of Slack actions, only with the token and the environment header.
async fn serve_slack_actions(server: &MockServer) {
    for (after, page) in [(None, "slack_page1.json"), (Some("c1"), "slack_page2.json")] {
        let mock = Mock::given(method("GET"))
            .and(path("/v1/connect/proj_abc123/actions"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(header("x-pd-environment", "production"))
            .and(query_param("app", "slack"));
        let mock = match after {
            None => mock.and(query_param_is_missing("after")),
            Some(cursor) => mock.and(query_param("after", cursor)),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(fixture(page)))
            .mount(server)
            .await;
    }
}

/// The user's Slack accounts: a dead one and a healthy one; asked once.
async fn serve_accounts(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v1/connect/proj_abc123/accounts"))
        .and(query_param("external_user_id", "user-1"))
        .and(query_param("app", "slack"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "apn_dead", "name": "old workspace", "healthy": false, "dead": true, "app": {"name_slug": "slack"}},
                {"id": "apn_good", "name": "acme", "healthy": true, "dead": false, "app": {"name_slug": "slack"}}
            ],
            "page_info": {"count": 2, "total_count": 2}
        })))
        .expect(1)
        .mount(server)
        .await;
}

/// A fake with the token endpoint (asked once), the Slack actions and the user's accounts.
async fn connected_slack() -> MockServer {
    let server = MockServer::start().await;
    serve_token(&server, 1).await;
    serve_slack_actions(&server).await;
    serve_accounts(&server).await;
    server
}

#[tokio::test]
async fn lists_pages_of_actions_as_typed_tools() {
    let server = MockServer::start().await;
    serve_token(&server, 1).await;
    serve_slack_actions(&server).await;
    let tools = slack(&server).list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["slack-list-channels", "slack-send-message"]);
    let send = &tools[1];
    assert_eq!(send.input_schema["required"], json!(["conversation", "text"]));
    // The app prop is the provider's business, the alert is not an input.
    assert!(send.input_schema["properties"].get("slack").is_none());
    assert!(send.input_schema["properties"].get("info").is_none());
    assert_eq!(send.annotations.as_ref().unwrap().read_only_hint, Some(false));
    let list = &tools[0];
    assert_eq!(list.input_schema["properties"]["pageSize"]["maximum"], 1000);
    assert_eq!(
        list.input_schema["properties"]["types"]["items"]["enum"],
        json!(["public_channel", "private_channel", "mpim", "im"])
    );
}

#[tokio::test]
async fn a_call_runs_the_listed_version_with_the_users_healthy_account() {
    let server = connected_slack().await;
    Mock::given(method("POST"))
        .and(path("/v1/connect/proj_abc123/actions/run"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_partial_json(json!({
            "id": "slack-send-message",
            "external_user_id": "user-1",
            "version": "0.1.4",
            "configured_props": {"slack": {"authProvisionId": "apn_good"}, "conversation": "C1", "text": "hi"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "exports": {"$summary": "Sent message to C1"},
            "os": [],
            "ret": {"ok": true, "channel": "C1", "ts": "1764000000.000100"}
        })))
        .expect(2)
        .mount(&server)
        .await;
    let provider = slack(&server);
    provider.list_tools().await.unwrap();
    for _ in 0..2 {
        let ret = provider
            .call_tool("slack-send-message", json!({"conversation": "C1", "text": "hi"}))
            .await
            .unwrap();
        assert_eq!(ret["ts"], "1764000000.000100");
    }
}

#[tokio::test]
async fn a_rejected_token_is_renewed_once() {
    let server = MockServer::start().await;
    serve_token(&server, 2).await;
    Mock::given(method("GET"))
        .and(path("/v1/connect/proj_abc123/actions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "token expired"})))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    serve_slack_actions(&server).await;
    assert_eq!(slack(&server).list_tools().await.unwrap().len(), 2);
}

#[tokio::test]
async fn refused_credentials_are_reported_without_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/oauth/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": format!("invalid_client: secret {SECRET} does not match")
        })))
        .mount(&server)
        .await;
    let err = slack(&server).list_tools().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ToolError::Unavailable { .. }), "{err:?}");
    assert!(
        text.contains("Pipedream refused the OAuth client credentials (HTTP 401)"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test]
async fn a_user_without_a_connected_account_gets_a_clear_error() {
    let server = MockServer::start().await;
    serve_token(&server, 1).await;
    serve_slack_actions(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/connect/proj_abc123/accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [], "page_info": {"count": 0}})))
        .mount(&server)
        .await;
    let provider = slack(&server);
    provider.list_tools().await.unwrap();
    let err = provider
        .call_tool("slack-send-message", json!({"conversation": "C1", "text": "hi"}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "user `user-1` has no connected slack account in Pipedream project proj_abc123: connect one with Pipedream Connect first"
    );
}

#[tokio::test]
async fn an_action_that_fails_throws_its_error_and_is_not_run_twice() {
    let server = connected_slack().await;
    Mock::given(method("POST"))
        .and(path("/v1/connect/proj_abc123/actions/run"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "exports": {},
            "os": [{"k": "error", "err": {"name": "Error", "message": "channel_not_found"}}],
            "error": {"name": "Error", "message": "channel_not_found"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/connect/proj_abc123/actions/run"))
        .and(body_partial_json(json!({"id": "slack-list-channels"})))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    let provider = slack(&server);
    provider.list_tools().await.unwrap();
    let err = provider
        .call_tool("slack-send-message", json!({"conversation": "nope", "text": "hi"}))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "channel_not_found");
    let err = provider.call_tool("slack-list-channels", json!({})).await.unwrap_err();
    assert_eq!(err.to_string(), "Pipedream answered HTTP 502: bad gateway");
    let err = provider.call_tool("slack-unknown", json!({})).await.unwrap_err();
    assert!(matches!(err, ToolError::UnknownTool(_)), "{err:?}");
}

/// The whole pipeline: the scripted LLM (a test double) writes a program against the
/// generated types; the wasm sandbox runs it; the calls cross real HTTP to the fake.
#[tokio::test]
async fn a_program_in_the_sandbox_posts_to_slack_through_pipedream() {
    let server = connected_slack().await;
    Mock::given(method("POST"))
        .and(path("/v1/connect/proj_abc123/actions/run"))
        .and(body_partial_json(json!({"id": "slack-list-channels"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "exports": {}, "os": [],
            "ret": {"channels": [{"id": "C1", "name": "general"}, {"id": "C2", "name": "test-bots"}]}
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/connect/proj_abc123/actions/run"))
        .and(body_partial_json(
            json!({"id": "slack-send-message", "configured_props": {"conversation": "C2"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "exports": {}, "os": [], "ret": {"ok": true, "ts": "1.2"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let program = r#"const { channels } = (await tools.slack.slack_list_channels({ pageSize: 100 })) as { channels: { id: string; name: string }[] };
const target = channels.find((c) => c.name.startsWith("test"));
if (!target) throw new Error("no test channel");
const sent = (await tools.slack.slack_send_message({ conversation: target.id, text: "hello" })) as { ok: boolean };
return { channel: target.name, ok: sent.ok };"#;
    let llm = ScriptedLlm::new()
        .reply(LlmRole::Strategy, "1. list channels\n2. post to the test channel")
        .reply(
            LlmRole::Tiny,
            r#"["slack.slack_list_channels", "slack.slack_send_message"]"#,
        )
        .reply(LlmRole::Main, format!("```typescript\n{program}\n```"));
    let codemode = CodeMode::builder()
        .llm(Arc::new(llm))
        .tool_provider("slack", Arc::new(slack(&server)))
        .environment(Arc::new(codemode_env_local::WasmEnvironment::new().unwrap()))
        .build()
        .await
        .unwrap();
    let report = codemode
        .run(RunOptions::new("say hello in the test channel"))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!({"channel": "test-bots", "ok": true}));
    assert_eq!(report.tool_calls.len(), 2);
    assert_eq!(report.tool_calls[1].path, "slack.slack_send_message");
}
