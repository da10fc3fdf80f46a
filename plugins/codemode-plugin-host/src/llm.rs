//! An `llm` plugin as an [`Llm`].

use std::sync::Arc;

use async_trait::async_trait;
use codemode_traits::{Llm, LlmError, LlmRequest, LlmResponse, TokenUsage};
use serde_json::{Value, json};

use crate::library::{Instance, PluginKind};
use crate::{PluginError, PluginSource};

/// A plugin's language model.
pub struct PluginLlm {
    model: Option<String>,
    instance: Arc<Instance>,
}

impl std::fmt::Debug for PluginLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginLlm")
            .field("name", &self.instance.library.name)
            .field("model", &self.model)
            .field("path", &self.instance.library.path)
            .finish_non_exhaustive()
    }
}

impl PluginLlm {
    /// Loads the plugin and makes its instance for `config` (its `model`, when set, names
    /// the model in traces).
    pub fn load(source: impl Into<PluginSource>, config: Value) -> Result<Self, PluginError> {
        let model = config.get("model").and_then(Value::as_str).map(str::to_string);
        let instance = source.into().instantiate(PluginKind::Llm, &config)?;
        Ok(Self {
            model,
            instance: Arc::new(instance),
        })
    }

    /// The plugin's own name (from its description).
    pub fn plugin_name(&self) -> &str {
        &self.instance.library.name
    }
}

/// The plugin's answer as a response: `text` required, `usage`, `truncated` and `calls`
/// (native function calls: `id`, `name`, `arguments`) optional.
fn response(answer: Value) -> Result<LlmResponse, LlmError> {
    let text = answer
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| LlmError::InvalidResponse(format!("the plugin's answer has no `text`: {answer}")))?;
    let count = |key: &str| answer["usage"].get(key).and_then(Value::as_u64).unwrap_or(0);
    Ok(LlmResponse {
        text: text.to_string(),
        usage: TokenUsage {
            prompt_tokens: count("prompt_tokens"),
            completion_tokens: count("completion_tokens"),
            calls: 1,
            ..TokenUsage::default()
        },
        truncated: answer.get("truncated").and_then(Value::as_bool).unwrap_or(false),
        calls: match answer.get("calls") {
            None | Some(Value::Null) => Vec::new(),
            Some(calls) => serde_json::from_value(calls.clone())
                .map_err(|e| LlmError::InvalidResponse(format!("the plugin's `calls` cannot be read: {e}")))?,
        },
    })
}

#[async_trait]
impl Llm for PluginLlm {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let request = json!({"method": "complete", "request": request});
        let instance = self.instance.clone();
        let answer = tokio::task::spawn_blocking(move || instance.request(&request, None))
            .await
            .map_err(|e| LlmError::Other(format!("the plugin's thread failed: {e}")))?
            .map_err(|message| LlmError::Other(format!("plugin {}: {message}", self.plugin_name())))?;
        response(answer)
    }

    fn model_name(&self) -> Option<&str> {
        self.model.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_need_text_and_may_count_tokens() {
        let r = response(json!({"text": "hi", "usage": {"prompt_tokens": 3, "completion_tokens": 1}})).unwrap();
        assert_eq!(
            (r.text.as_str(), r.usage.prompt_tokens, r.usage.completion_tokens),
            ("hi", 3, 1)
        );
        assert!(!r.truncated);
        let e = response(json!({"content": "hi"})).unwrap_err();
        assert!(matches!(e, LlmError::InvalidResponse(m) if m.contains("no `text`")));
    }
}
