//! `ChatModel`: one model of a server as an `Llm`, over Chat Completions.

use std::time::Duration;

use async_trait::async_trait;
use codemode_traits::redact::redact;
use codemode_traits::{
    Llm, LlmError, LlmFunctionCall, LlmRequest, LlmResponse, Message, MessageRole, Sampling, TokenUsage,
};
use serde_json::{Map, Value, json};

use crate::OpenAiClient;

/// One model with its settings. Implements [`Llm`].
#[derive(Clone, Debug)]
pub struct ChatModel {
    client: OpenAiClient,
    model: String,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    reasoning_effort: Option<String>,
    stop: Vec<String>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    extra_body: Map<String, Value>,
}

impl ChatModel {
    /// `model` of `client`, with the server's defaults for every setting.
    pub(crate) fn new(client: OpenAiClient, model: String) -> Self {
        Self {
            client,
            model,
            temperature: None,
            max_tokens: None,
            reasoning_effort: None,
            stop: Vec::new(),
            headers: Vec::new(),
            timeout: None,
            extra_body: Map::new(),
        }
    }

    /// Sampling temperature.
    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }

    /// Most output tokens (`max_tokens`).
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// Reasoning effort for reasoning models (`low`, `medium`, `high`).
    pub fn reasoning_effort(mut self, effort: impl Into<String>) -> Self {
        self.reasoning_effort = Some(effort.into());
        self
    }

    /// Stop sequences.
    pub fn stop(mut self, sequences: Vec<String>) -> Self {
        self.stop = sequences;
        self
    }

    /// A header for this model's requests.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Request timeout (per attempt).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// An extra top-level field of the request body (provider-specific options).
    pub fn body_field(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra_body.insert(key.into(), value);
        self
    }

    /// The model name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The JSON body of a request.
    pub fn request_body(&self, request: &LlmRequest) -> Value {
        let messages: Vec<Value> = request.messages.iter().map(message_json).collect();
        let mut body = Map::new();
        body.insert("model".into(), self.model.clone().into());
        body.insert("messages".into(), messages.into());
        if !request.functions.is_empty() {
            let tools: Vec<Value> = request
                .functions
                .iter()
                .map(|f| {
                    let mut function = json!({"name": f.name, "parameters": f.parameters});
                    if !f.description.is_empty() {
                        function["description"] = f.description.clone().into();
                    }
                    json!({"type": "function", "function": function})
                })
                .collect();
            body.insert("tools".into(), tools.into());
        }
        if let Some(t) = request.sampling.temperature(self.temperature) {
            body.insert("temperature".into(), t.into());
        }
        let limit = match (self.max_tokens, request.max_output_tokens) {
            (Some(configured), Some(step)) => Some(configured.min(step)),
            (configured, step) => configured.or(step),
        };
        if let Some(n) = limit {
            body.insert("max_tokens".into(), n.into());
        }
        if let Some(e) = &self.reasoning_effort {
            body.insert("reasoning_effort".into(), e.clone().into());
        }
        if !self.stop.is_empty() {
            body.insert("stop".into(), self.stop.clone().into());
        }
        for (k, v) in &self.extra_body {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }

    fn redact(&self, text: &str) -> String {
        let secrets: Vec<String> = self.client.inner.api_key.iter().cloned().collect();
        redact(text, &secrets)
    }

    fn error_for(&self, status: u16, body: &str) -> LlmError {
        let inner = &self.client.inner;
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let message = parsed
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| body.chars().take(300).collect());
        let code = parsed.pointer("/error/code").and_then(Value::as_str).unwrap_or("");
        let message = self.redact(&message);
        let lower = message.to_lowercase();
        match status {
            401 | 403 => LlmError::Auth(match &inner.api_key {
                None => format!(
                    "{} needs an API key (HTTP {status}): set {}",
                    inner.service, inner.key_variable
                ),
                Some(_) => format!(
                    "{} rejected the API key (HTTP {status}: {message}); check {}",
                    inner.service, inner.key_variable
                ),
            }),
            404 => LlmError::UnknownModel(format!(
                "`{}` is not available at {}: {message}",
                self.model, inner.base_url
            )),
            _ if code == "context_length_exceeded"
                || lower.contains("context length")
                || lower.contains("context window")
                || lower.contains("maximum context") =>
            {
                LlmError::ContextLength(format!("model `{}`: {message}", self.model))
            }
            429 => LlmError::RateLimited(format!("{} (HTTP 429): {message}", inner.service)),
            s if s >= 500 => LlmError::Transport(format!("{} answered HTTP {s}: {message}", inner.service)),
            _ if lower.contains("model") && (lower.contains("not found") || lower.contains("does not exist")) => {
                LlmError::UnknownModel(format!("`{}`: {message}", self.model))
            }
            s => LlmError::Other(format!("{} answered HTTP {s}: {message}", inner.service)),
        }
    }

    async fn attempt(&self, body: &Value) -> Result<(u16, Option<Duration>, String), reqwest::Error> {
        let inner = &self.client.inner;
        let mut req = inner
            .http
            .post(format!("{}/chat/completions", inner.base_url))
            .json(body);
        if let Some(key) = &inner.api_key {
            req = req.bearer_auth(key);
        }
        for (k, v) in inner.headers.iter().chain(&self.headers) {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(t) = self.timeout {
            req = req.timeout(t);
        }
        let response = req.send().await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(codemode_rest::parse_retry_after);
        let text = response.text().await?;
        Ok((status, retry_after, text))
    }
}

fn retryable(status: u16) -> bool {
    status == 429 || status == 408 || status >= 500
}

#[async_trait]
impl Llm for ChatModel {
    fn model_name(&self) -> Option<&str> {
        Some(&self.model)
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let result = self.complete_once(request).await;
        match result {
            // A model that takes no temperature (OpenAI's reasoning models take only their
            // default) still answers a varied request, with its configured settings.
            Err(LlmError::Other(ref message))
                if !request.sampling.is_configured()
                    && message.contains("HTTP 400")
                    && message.contains("temperature") =>
            {
                tracing::info!(model = %self.model, "the model refused the varied temperature; asking with its configured settings");
                let configured = LlmRequest {
                    sampling: Sampling::Configured,
                    ..request.clone()
                };
                self.complete_once(&configured).await
            }
            other => other,
        }
    }
}

impl ChatModel {
    async fn complete_once(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let body = self.request_body(request);
        let policy = self.client.inner.retry;
        let mut retries = 0;
        loop {
            let outcome = self.attempt(&body).await;
            let (error, retry_after) = match outcome {
                Ok((status, _, text)) if (200..300).contains(&status) => return parse_completion(&text),
                Ok((status, retry_after, text)) => {
                    let error = self.error_for(status, &text);
                    if !retryable(status) {
                        return Err(error);
                    }
                    (error, retry_after)
                }
                Err(e) => {
                    let what = if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    };
                    let error = LlmError::Transport(format!(
                        "{} at {}: {what}: {}",
                        self.client.inner.service,
                        self.client.inner.base_url,
                        self.redact(&e.to_string())
                    ));
                    (error, None)
                }
            };
            if retries >= policy.max_retries {
                tracing::warn!(model = %self.model, retries, %error, "giving up");
                return Err(error);
            }
            let wait = policy.delay(retries, retry_after);
            tracing::info!(model = %self.model, retry = retries + 1, wait_ms = wait.as_millis() as u64, %error, "retrying");
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }
}

/// One message as the chat completions API takes it: native calls as `tool_calls`, their
/// results as `tool` messages naming the call.
fn message_json(m: &Message) -> Value {
    let role = match m.role {
        MessageRole::System => "system",
        MessageRole::User => "user",
        MessageRole::Assistant => "assistant",
        MessageRole::Tool => "tool",
    };
    let mut message = json!({"role": role, "content": m.content});
    if !m.calls.is_empty() {
        let calls: Vec<Value> = m
            .calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
        message["tool_calls"] = calls.into();
    }
    if let Some(id) = &m.call_id {
        message["tool_call_id"] = id.clone().into();
    }
    message
}

/// The native function calls of an answer (`message.tool_calls`); a call without an id gets
/// one from its position, since its result must name it.
fn function_calls(message: &Value) -> Vec<LlmFunctionCall> {
    let Some(calls) = message.get("tool_calls").and_then(Value::as_array) else {
        return Vec::new();
    };
    calls
        .iter()
        .enumerate()
        .filter_map(|(i, call)| {
            let function = call.get("function")?;
            let name = function.get("name").and_then(Value::as_str)?;
            let arguments = match function.get("arguments") {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Null) | None => "{}".to_string(),
                // Some servers send the object itself.
                Some(other) => other.to_string(),
            };
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("codemode-{i}"), str::to_string);
            Some(LlmFunctionCall {
                id,
                name: name.to_string(),
                arguments,
            })
        })
        .collect()
}

fn parse_completion(text: &str) -> Result<LlmResponse, LlmError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        LlmError::InvalidResponse(format!(
            "the answer is not JSON ({e}): {}",
            text.chars().take(200).collect::<String>()
        ))
    })?;
    let choice = value
        .pointer("/choices/0")
        .ok_or_else(|| LlmError::InvalidResponse("the answer has no choices".into()))?;
    let content = choice.pointer("/message/content").and_then(Value::as_str).unwrap_or("");
    let calls = choice.get("message").map(function_calls).unwrap_or_default();
    if content.trim().is_empty() && calls.is_empty() {
        let reason = choice.get("finish_reason").and_then(Value::as_str).unwrap_or("unknown");
        return Err(LlmError::InvalidResponse(format!(
            "the model returned no text (finish_reason: {reason})"
        )));
    }
    let usage = TokenUsage {
        prompt_tokens: value
            .pointer("/usage/prompt_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        completion_tokens: value
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        calls: 1,
        // Zero counts are filled in by the pipeline's own count.
        counted_calls: 0,
    };
    Ok(LlmResponse {
        text: content.to_string(),
        usage,
        truncated: choice.get("finish_reason").and_then(Value::as_str) == Some("length"),
        calls,
    })
}
