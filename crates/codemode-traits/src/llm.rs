//! The `Llm` boundary: one completion for a list of messages.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which of the three models a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmRole {
    /// Writes the plan (pseudocode).
    Strategy,
    /// Filters the tool catalog.
    Tiny,
    /// Writes and repairs the TypeScript.
    Main,
}

impl LlmRole {
    /// All roles, in pipeline order.
    pub const ALL: [LlmRole; 3] = [LlmRole::Strategy, LlmRole::Tiny, LlmRole::Main];

    /// The role's name as used in configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            LlmRole::Strategy => "strategy",
            LlmRole::Tiny => "tiny",
            LlmRole::Main => "main",
        }
    }
}

impl fmt::Display for LlmRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    /// Instructions.
    System,
    /// The request.
    User,
    /// A previous answer of the model.
    Assistant,
    /// The result of a function the model called natively ([`Message::call_id`] says which).
    Tool,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: MessageRole,
    /// The text.
    pub content: String,
    /// The functions an assistant message called natively (empty for text answers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<LlmFunctionCall>,
    /// The call a [`MessageRole::Tool`] message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

impl Message {
    fn new(role: MessageRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            calls: Vec::new(),
            call_id: None,
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(MessageRole::System, content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(MessageRole::User, content)
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(MessageRole::Assistant, content)
    }
    /// An assistant message that called functions natively (the answer's
    /// [`LlmResponse::calls`]), to send back with their results.
    pub fn assistant_calls(content: impl Into<String>, calls: Vec<LlmFunctionCall>) -> Self {
        Self {
            calls,
            ..Self::new(MessageRole::Assistant, content)
        }
    }
    /// The result of the native call `call_id`.
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            call_id: Some(call_id.into()),
            ..Self::new(MessageRole::Tool, content)
        }
    }
}

/// A function offered to a model with native function calling (an OpenAI `tools` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmFunction {
    /// The name the model calls it by.
    pub name: String,
    /// What it does (empty: not said).
    pub description: String,
    /// Its parameters, as a JSON Schema object.
    pub parameters: serde_json::Value,
}

/// A function call a model made natively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmFunctionCall {
    /// The call's id, which its result names ([`Message::tool`]).
    pub id: String,
    /// The function called.
    pub name: String,
    /// The arguments as the model wrote them: a JSON object, unless the model erred.
    pub arguments: String,
}

/// How a client should sample a request's answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// The client's configured settings (`temperature`, ...).
    #[default]
    Configured,
    /// An answer other than the likeliest one: the pipeline asks this when the model sent
    /// the same failing program back even in a fresh conversation (at temperature 0 a small
    /// model answers a near-identical prompt identically). Clients sample at a temperature
    /// of at least [`VARIED_TEMPERATURE`].
    Varied,
}

impl Sampling {
    /// Whether this is [`Sampling::Configured`] (not written to recordings and plugin messages).
    pub fn is_configured(&self) -> bool {
        *self == Sampling::Configured
    }

    /// The temperature to send for a client configured with `configured`.
    pub fn temperature(self, configured: Option<f64>) -> Option<f64> {
        match self {
            Sampling::Configured => configured,
            Sampling::Varied => Some(configured.unwrap_or(0.0).max(VARIED_TEMPERATURE)),
        }
    }
}

/// The lowest temperature of a [`Sampling::Varied`] request.
pub const VARIED_TEMPERATURE: f64 = 0.7;

/// A completion request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmRequest {
    /// The role the request is made for.
    pub role: LlmRole,
    /// The pipeline step making it (`plan`, `filter`, `implement`, `repair`).
    pub step: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// How many output tokens the step needs at most, when it knows (the filter's short
    /// list): clients send it as the token limit unless one configured is lower.
    pub max_output_tokens: Option<u32>,
    /// How to sample the answer.
    #[serde(default, skip_serializing_if = "Sampling::is_configured")]
    pub sampling: Sampling,
    /// Functions the model may call natively (empty: a text answer is asked). Clients
    /// without native function calling answer with text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<LlmFunction>,
}

impl LlmRequest {
    /// All message contents joined, for models that take a single prompt string.
    pub fn prompt_text(&self) -> String {
        self.messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// Tokens used by one or more completions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Tokens in the prompts.
    pub prompt_tokens: u64,
    /// Tokens in the answers.
    pub completion_tokens: u64,
    /// Number of completions.
    pub calls: u64,
    /// Completions whose tokens were counted here (the `o200k_base` encoding) because the
    /// model reported none; the other counts are the model's own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub counted_calls: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl TokenUsage {
    /// Adds another usage to this one.
    pub fn add(&mut self, other: TokenUsage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.calls += other.calls;
        self.counted_calls += other.counted_calls;
    }
}

/// A completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmResponse {
    /// The answer text.
    pub text: String,
    /// Tokens used, when the model reports them (`calls` is 1 for one completion).
    pub usage: TokenUsage,
    /// True when the model stopped at its token limit, so the text is cut off
    /// (`finish_reason: "length"`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The functions the model called natively, in order (only when the request offered
    /// [`LlmRequest::functions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<LlmFunctionCall>,
}

impl LlmResponse {
    /// A whole response with unknown token counts.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            usage: TokenUsage {
                calls: 1,
                ..TokenUsage::default()
            },
            truncated: false,
            calls: Vec::new(),
        }
    }
}

/// Why a completion failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// The API key is missing or was rejected; the message names the variable to set.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The model does not exist or is not available.
    #[error("unknown model: {0}")]
    UnknownModel(String),
    /// The prompt is longer than the model accepts.
    #[error("the prompt exceeds the model's context length: {0}")]
    ContextLength(String),
    /// Rate limited, even after retries.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The server or the connection failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// The answer could not be used.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A language model: messages in, text and token usage out.
///
/// A closure `Fn(String) -> impl Future<Output = Result<String, E>>` is an `Llm` too; it
/// receives the messages joined into one prompt.
///
/// ```
/// use codemode_traits::{Llm, LlmRequest, LlmRole, Message};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let echo = |prompt: String| async move { Ok::<_, std::io::Error>(format!("you said: {prompt}")) };
/// let request = LlmRequest { role: LlmRole::Main, step: "implement".into(), messages: vec![Message::user("hi")], max_output_tokens: None, sampling: Default::default(), functions: Vec::new() };
/// assert_eq!(echo.complete(&request).await.unwrap().text, "you said: hi");
/// # });
/// ```
#[async_trait]
pub trait Llm: Send + Sync {
    /// One completion.
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError>;

    /// The model's name, for traces (`None` when the client does not know one).
    fn model_name(&self) -> Option<&str> {
        None
    }
}

#[async_trait]
impl<F, Fut, E> Llm for F
where
    F: Fn(String) -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, E>> + Send,
    E: fmt::Display,
{
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        match (self)(request.prompt_text()).await {
            Ok(text) => Ok(LlmResponse::text(text)),
            Err(e) => Err(LlmError::Other(e.to_string())),
        }
    }
}

#[async_trait]
impl Llm for Arc<dyn Llm> {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        (**self).complete(request).await
    }
}

/// One model: which provider serves it and how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmConfig {
    /// Registered provider name (`openai`, `openrouter`, `scripted`, ...).
    pub provider: String,
    /// Model name as the provider knows it.
    #[serde(default)]
    pub model: String,
    /// Base URL of an OpenAI-compatible server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Name of the environment variable holding the API key (never the key itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Provider-specific settings (temperature, max_tokens, script, ...).
    #[serde(flatten)]
    pub settings: BTreeMap<String, Value>,
}
