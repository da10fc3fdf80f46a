//! `[llm.*] provider = "openai"`: the client a configuration asks for, and the settings
//! every OpenAI-compatible model takes.

use std::sync::Arc;
use std::time::Duration;

use codemode_traits::LlmConfig;
use codemode_traits::registry::{FactoryContext, LlmFactory};
use codemode_traits::{CodeModeError, Llm};
use serde_json::Value;

use crate::{ChatModel, OPENAI_API_KEY_ENV, OpenAiClient, RetryPolicy};

/// Applies the common `[llm.*]` settings to a model: `temperature`, `max_tokens`,
/// `reasoning_effort`, `stop`, `timeout` (seconds), `headers` (table).
pub fn apply_settings(mut model: ChatModel, config: &LlmConfig) -> Result<ChatModel, CodeModeError> {
    let bad = |key: &str, want: &str| CodeModeError::Config(format!("[llm] `{key}` must be {want}"));
    for (key, value) in &config.settings {
        model = match key.as_str() {
            "temperature" => model.temperature(value.as_f64().ok_or_else(|| bad(key, "a number"))?),
            "max_tokens" => model.max_tokens(
                value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad(key, "a positive integer"))?,
            ),
            "reasoning_effort" => model.reasoning_effort(value.as_str().ok_or_else(|| bad(key, "a string"))?),
            "stop" => model.stop(
                value
                    .as_array()
                    .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                    .ok_or_else(|| bad(key, "a list of strings"))?,
            ),
            "timeout" => model.timeout(Duration::from_secs_f64(
                value.as_f64().filter(|t| *t > 0.0).ok_or_else(|| bad(key, "seconds"))?,
            )),
            "headers" => {
                let table = value.as_object().ok_or_else(|| bad(key, "a table"))?;
                table
                    .iter()
                    .fold(model, |m, (k, v)| m.header(k, v.as_str().unwrap_or_default()))
            }
            _ => model,
        };
    }
    Ok(model)
}

fn create(context: &FactoryContext<LlmConfig>) -> Result<Arc<dyn Llm>, CodeModeError> {
    let config = &context.settings;
    if config.model.is_empty() {
        return Err(CodeModeError::Config("provider \"openai\" needs `model`".into()));
    }
    let mut builder = OpenAiClient::builder().service_name(if config.base_url.is_some() {
        "the server"
    } else {
        "OpenAI"
    });
    builder = match (&config.base_url, &config.api_key_env) {
        // A custom server gets a key only when one is named: never send OpenAI's key elsewhere.
        (Some(url), Some(var)) => builder.base_url(url).api_key_env(var).require_key(),
        (Some(url), None) => builder.base_url(url),
        (None, var) => builder
            .api_key_env(var.clone().unwrap_or_else(|| OPENAI_API_KEY_ENV.into()))
            .require_key(),
    };
    if let Some(n) = config.settings.get("max_retries").and_then(Value::as_u64) {
        builder = builder.retry(RetryPolicy {
            max_retries: n as u32,
            ..RetryPolicy::default()
        });
    }
    let client = builder
        .build()
        .map_err(|e| CodeModeError::factory("LLM provider", "openai", e))?;
    Ok(Arc::new(apply_settings(client.llm(&config.model), config)?))
}

inventory::submit! {
    LlmFactory {
        name: "openai",
        description: "OpenAI Chat Completions, or any OpenAI-compatible server with base_url",
        create,
    }
}
