//! `ChatModel` over real HTTP on loopback against a fake OpenAI-compatible server
//! (wiremock): the exact request, realistic answers, and every error class.

use std::time::Duration;

use codemode_core::{Llm, LlmError, LlmFunction, LlmFunctionCall, LlmRequest, LlmRole, Message};
use codemode_openai::{ChatModel, OpenAiClient, RetryPolicy};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-test-0123456789abcdefghijklmnop";

fn request() -> LlmRequest {
    LlmRequest {
        role: LlmRole::Main,
        step: "implement".into(),
        messages: vec![Message::system("You write TypeScript."), Message::user("Return 42.")],
        max_output_tokens: None,
        sampling: Default::default(),
        functions: Vec::new(),
    }
}

fn completion(text: &str) -> serde_json::Value {
    json!({
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
    })
}

fn model(server: &MockServer, retries: u32) -> ChatModel {
    OpenAiClient::builder()
        .base_url(format!("{}/v1", server.uri()))
        .api_key(KEY)
        .api_key_env("MY_OPENAI_KEY")
        .service_name("OpenAI")
        .retry(RetryPolicy {
            max_retries: retries,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(300),
        })
        .build()
        .unwrap()
        .llm("gpt-test")
}

#[tokio::test]
async fn sends_the_exact_request_and_reads_text_and_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(header("x-extra", "yes"))
        .and(body_json(json!({
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "You write TypeScript."},
                {"role": "user", "content": "Return 42."}
            ],
            "temperature": 0.2,
            "max_tokens": 500,
            "reasoning_effort": "low",
            "stop": ["```\n\n"]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("```ts\nreturn 42;\n```")))
        .expect(1)
        .mount(&server)
        .await;
    let llm = model(&server, 0)
        .temperature(0.2)
        .max_tokens(500)
        .reasoning_effort("low")
        .stop(vec!["```\n\n".into()])
        .header("X-Extra", "yes");
    let response = llm.complete(&request()).await.unwrap();
    assert_eq!(response.text, "```ts\nreturn 42;\n```");
    assert_eq!(
        (
            response.usage.prompt_tokens,
            response.usage.completion_tokens,
            response.usage.calls
        ),
        (42, 7, 1)
    );
}

#[tokio::test]
async fn a_rejected_key_names_the_variable_and_never_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error", "code": "invalid_api_key"}})))
        .expect(1)
        .mount(&server)
        .await;
    let err = model(&server, 3).complete(&request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("MY_OPENAI_KEY"), "{text}");
    assert!(!text.contains("0123456789abcdefghij"), "the key leaked: {text}");
}

#[tokio::test]
async fn unknown_model_and_context_length_are_named() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error": {"message": "The model `gpt-test` does not exist", "code": "model_not_found"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = model(&server, 3).complete(&request()).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::UnknownModel(m) if m.contains("gpt-test")),
        "{err:?}"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "This model's maximum context length is 8192 tokens.", "code": "context_length_exceeded"}})))
        .expect(1)
        .mount(&server)
        .await;
    let err = model(&server, 3).complete(&request()).await.unwrap_err();
    assert!(matches!(err, LlmError::ContextLength(_)), "{err:?}");
    assert!(err.to_string().contains("context length"));
}

#[tokio::test]
async fn no_retry_on_400() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "bad temperature"}})))
        .expect(1)
        .mount(&server)
        .await;
    let err = model(&server, 3).complete(&request()).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 400: bad temperature"), "{err}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0.2")
                .set_body_json(json!({"error": {"message": "Rate limit reached"}})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok")))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let response = model(&server, 3).complete(&request()).await.unwrap();
    assert_eq!(response.text, "ok");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn gives_up_after_the_cap() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .expect(3)
        .mount(&server)
        .await;
    let err = model(&server, 2).complete(&request()).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Transport(m) if m.contains("HTTP 503")),
        "{err:?}"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {"message": "slow down"}})))
        .expect(2)
        .mount(&server)
        .await;
    let err = model(&server, 1).complete(&request()).await.unwrap_err();
    assert!(matches!(err, LlmError::RateLimited(_)), "{err:?}");
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let llm = OpenAiClient::builder()
        .base_url(format!("http://{addr}/v1"))
        .retry(RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
        })
        .build()
        .unwrap()
        .llm("local-model");
    let err = llm.complete(&request()).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Transport(m) if m.contains("connection failed")),
        "{err:?}"
    );
}

#[tokio::test]
async fn empty_or_garbled_answers_are_invalid_responses() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy error</html>"))
        .expect(1)
        .mount(&server)
        .await;
    assert!(matches!(
        model(&server, 0).complete(&request()).await,
        Err(LlmError::InvalidResponse(_))
    ));
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"choices": [{"message": {"content": null}, "finish_reason": "length"}]})),
        )
        .mount(&server)
        .await;
    let err = model(&server, 0).complete(&request()).await.unwrap_err();
    assert!(err.to_string().contains("finish_reason: length"), "{err}");
}

#[tokio::test]
async fn a_steps_output_budget_is_the_limit_unless_a_lower_one_is_configured() {
    for (configured, budget, sent) in [
        (None, Some(200), Some(200)),
        (Some(100), Some(200), Some(100)),
        (Some(500), None, Some(500)),
        (None, None, None),
    ] {
        let server = MockServer::start().await;
        let mut expected = json!({
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "You write TypeScript."},
                {"role": "user", "content": "Return 42."}
            ]
        });
        if let Some(n) = sent {
            expected["max_tokens"] = json!(n);
        }
        Mock::given(method("POST"))
            .and(body_json(expected))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion("return 42;")))
            .expect(1)
            .mount(&server)
            .await;
        let mut llm = model(&server, 0);
        if let Some(n) = configured {
            llm = llm.max_tokens(n);
        }
        let request = LlmRequest {
            max_output_tokens: budget,
            sampling: Default::default(),
            ..request()
        };
        llm.complete(&request).await.unwrap();
    }
}

#[tokio::test]
async fn an_answer_cut_off_at_the_token_limit_says_so() {
    // Seen with a local server whose default limit is 512 tokens.
    let server = MockServer::start().await;
    let mut cut = completion("```typescript\nconst r = await tools.chat.send_message({ channel:");
    cut["choices"][0]["finish_reason"] = json!("length");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(cut))
        .mount(&server)
        .await;
    let response = model(&server, 0).complete(&request()).await.unwrap();
    assert!(response.truncated);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("return 42;")))
        .mount(&server)
        .await;
    assert!(!model(&server, 0).complete(&request()).await.unwrap().truncated);
}

#[tokio::test]
async fn a_local_server_needs_no_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("hi")))
        .mount(&server)
        .await;
    let llm = OpenAiClient::builder()
        .base_url(format!("{}/v1", server.uri()))
        .build()
        .unwrap()
        .llm("llama3.2");
    assert_eq!(llm.complete(&request()).await.unwrap().text, "hi");
    let received = server.received_requests().await.unwrap();
    assert!(
        received[0].headers.get("authorization").is_none(),
        "no key is sent to a server without one"
    );
    assert!(
        OpenAiClient::builder()
            .api_key_env("CODEMODE_TEST_UNSET_VARIABLE")
            .require_key()
            .build()
            .unwrap_err()
            .to_string()
            .contains("CODEMODE_TEST_UNSET_VARIABLE is not set")
    );
}

#[tokio::test]
async fn a_varied_request_is_sampled_and_falls_back_when_the_model_takes_no_temperature() {
    use codemode_core::Sampling;
    use wiremock::matchers::body_partial_json;
    let varied = LlmRequest {
        sampling: Sampling::Varied,
        ..request()
    };
    // Unconfigured or configured lower: at least 0.7; configured higher: the configured one.
    for (configured, sent) in [(None, 0.7), (Some(0.2), 0.7), (Some(0.9), 0.9)] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_partial_json(json!({"temperature": sent})))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok")))
            .expect(1)
            .mount(&server)
            .await;
        let mut llm = model(&server, 0);
        if let Some(t) = configured {
            llm = llm.temperature(t);
        }
        assert_eq!(llm.complete(&varied).await.unwrap().text, "ok");
    }

    // A reasoning model that takes only its default temperature: asked again without one.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"temperature": 0.7})))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Unsupported value: 'temperature' does not support 0.7 with this model. Only the default (1) value is supported."
        }})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_json(json!({
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "You write TypeScript."},
                {"role": "user", "content": "Return 42."}
            ]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("default")))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(model(&server, 0).complete(&varied).await.unwrap().text, "default");
}

#[tokio::test]
async fn native_function_calls_go_as_tools_and_come_back_as_calls() {
    let server = MockServer::start().await;
    let schema = json!({"type": "object", "properties": {"channel": {"type": "string"}}, "required": ["channel"]});
    // The second turn of a conversation: the first turn's call and its result go back as
    // the API has them (`tool_calls` on the assistant message, a `tool` message naming it).
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_json(json!({
            "model": "gpt-test",
            "messages": [
                {"role": "user", "content": "Read #general, then post a summary."},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "read_channel", "arguments": "{\"channel\":\"general\"}"}}
                ]},
                {"role": "tool", "content": "[\"Deploy done\"]", "tool_call_id": "call_1"}
            ],
            "tools": [
                {"type": "function", "function": {"name": "read_channel", "description": "Messages of a channel.", "parameters": schema}},
                {"type": "function", "function": {"name": "post", "parameters": {"type": "object"}}}
            ]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant",
                "content": null,
                "tool_calls": [
                    {"id": "call_2", "type": "function", "function": {"name": "post", "arguments": "{\"text\":\"Deploy done\"}"}},
                    // Some OpenAI-compatible servers send the arguments as an object, or none.
                    {"id": "call_3", "type": "function", "function": {"name": "post", "arguments": {"text": "again"}}},
                    {"type": "function", "function": {"name": "post"}}
                ]
            }}],
            "usage": {"prompt_tokens": 90, "completion_tokens": 12}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let request = LlmRequest {
        messages: vec![
            Message::user("Read #general, then post a summary."),
            Message::assistant_calls(
                "",
                vec![LlmFunctionCall {
                    id: "call_1".into(),
                    name: "read_channel".into(),
                    arguments: "{\"channel\":\"general\"}".into(),
                }],
            ),
            Message::tool("call_1", "[\"Deploy done\"]"),
        ],
        functions: vec![
            LlmFunction {
                name: "read_channel".into(),
                description: "Messages of a channel.".into(),
                parameters: schema.clone(),
            },
            LlmFunction {
                name: "post".into(),
                description: String::new(),
                parameters: json!({"type": "object"}),
            },
        ],
        ..request()
    };
    let response = model(&server, 0).complete(&request).await.unwrap();
    assert_eq!(response.text, "", "a turn of calls alone has no text");
    let calls: Vec<(&str, &str, &str)> = response
        .calls
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("call_2", "post", "{\"text\":\"Deploy done\"}"),
            ("call_3", "post", "{\"text\":\"again\"}"),
            ("codemode-2", "post", "{}")
        ]
    );
    assert_eq!(response.usage.prompt_tokens, 90);
}
