//! The OpenRouter client against a fake OpenRouter (wiremock on loopback): attribution
//! headers, routing preferences and model fallbacks in the request.

use codemode_core::{Llm, LlmRequest, LlmRole, Message};
use codemode_openrouter::{OpenRouterClient, ProviderPreferences};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn sends_attribution_routing_and_fallbacks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-or-v1-testkey0123456789"))
        .and(header("http-referer", "https://example.com/agent"))
        .and(header("x-openrouter-title", "My agent"))
        .and(header("x-title", "My agent"))
        .and(body_json(json!({
            "model": "anthropic/claude-sonnet-4",
            "messages": [{"role": "user", "content": "plan it"}],
            "temperature": 0.1,
            "provider": {"order": ["anthropic", "google-vertex"], "allow_fallbacks": false, "data_collection": "deny", "sort": "latency"},
            "models": ["anthropic/claude-sonnet-4", "openai/gpt-5"]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "gen-1",
            "model": "anthropic/claude-sonnet-4",
            "provider": "Anthropic",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "1. do it"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = OpenRouterClient::builder()
        .base_url(format!("{}/api/v1", server.uri()))
        .api_key("sk-or-v1-testkey0123456789")
        .app("https://example.com/agent", "My agent")
        .build()
        .unwrap();
    let llm = client
        .llm("anthropic/claude-sonnet-4")
        .provider(ProviderPreferences {
            order: Some(vec!["anthropic".into(), "google-vertex".into()]),
            allow_fallbacks: Some(false),
            data_collection: Some("deny".into()),
            sort: Some("latency".into()),
        })
        .fallback_models(["openai/gpt-5"])
        .configure(|m| m.temperature(0.1))
        .build();
    let request = LlmRequest {
        role: LlmRole::Strategy,
        step: "plan".into(),
        messages: vec![Message::user("plan it")],
        max_output_tokens: None,
        sampling: Default::default(),
        functions: Vec::new(),
    };
    let response = llm.complete(&request).await.unwrap();
    assert_eq!(response.text, "1. do it");
    assert_eq!(response.usage.prompt_tokens, 10);
}

#[tokio::test]
async fn a_rejected_key_names_openrouter_api_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": {"message": "No auth credentials found", "code": 401}})),
        )
        .mount(&server)
        .await;
    let client = OpenRouterClient::builder()
        .base_url(server.uri())
        .api_key("sk-or-v1-wrongkey0123456789")
        .build()
        .unwrap();
    let llm = client.llm("openai/gpt-5").build();
    let request = LlmRequest {
        role: LlmRole::Main,
        step: "implement".into(),
        messages: vec![Message::user("x")],
        max_output_tokens: None,
        sampling: Default::default(),
        functions: Vec::new(),
    };
    let err = llm.complete(&request).await.unwrap_err().to_string();
    assert!(
        err.contains("OpenRouter rejected the API key") && err.contains("OPENROUTER_API_KEY"),
        "{err}"
    );
    assert!(!err.contains("wrongkey"), "{err}");
}
