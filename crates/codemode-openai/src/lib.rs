//! OpenAI Chat Completions as a codemode [`Llm`](codemode_traits::Llm), for OpenAI and every OpenAI-compatible
//! server (Ollama, vLLM, llama.cpp's server, LM Studio).
//!
//! ```no_run
//! use codemode_openai::OpenAiClient;
//!
//! # fn demo() -> Result<(), codemode_openai::OpenAiError> {
//! let openai = OpenAiClient::new()?;                      // reads OPENAI_API_KEY
//! let main = openai.llm("gpt-5").reasoning_effort("low");
//! let local = OpenAiClient::builder().base_url("http://localhost:11434/v1").build()?; // no key needed
//! let tiny = local.llm("llama3.2").temperature(0.0);
//! # Ok(()) }
//! ```
//!
//! Requests are retried on 429, 5xx and connection errors with exponential backoff and
//! jitter, honouring `Retry-After`, up to a cap; 400, 401, 403 and 404 are not retried.
//! Errors say what to fix and never contain the API key.
//!
//! A request that offers [`LlmRequest::functions`](codemode_traits::LlmRequest::functions) sends
//! them as `tools`; the answer's `tool_calls` come back as
//! [`LlmResponse::calls`](codemode_traits::LlmResponse::calls), and their results go back as
//! `tool` messages.

mod chat;
mod client;
mod factory;

pub use chat::ChatModel;
pub use client::{OpenAiClient, OpenAiClientBuilder, OpenAiError};
pub use codemode_rest::RetryPolicy;
pub use factory::apply_settings;

/// OpenAI's API.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The variable holding the OpenAI key.
pub const OPENAI_API_KEY_ENV: &str = "OPENAI_API_KEY";
