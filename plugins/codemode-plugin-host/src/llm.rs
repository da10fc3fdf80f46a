//! An `llm` plugin as an [`Llm`].

use std::sync::Arc;

use async_trait::async_trait;
use codemode_plugin_abi::messages::{
    self as abi, CompleteRequest, Completion, Function, FunctionCall, Message, Request,
};
use codemode_traits::{Llm, LlmError, LlmFunctionCall, LlmRequest, LlmResponse, MessageRole, Sampling, TokenUsage};
use serde_json::Value;

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

/// The host's request as the plugin's message.
fn complete_request(request: &LlmRequest) -> CompleteRequest {
    let call = |c: &LlmFunctionCall| FunctionCall {
        id: c.id.clone(),
        name: c.name.clone(),
        arguments: c.arguments.clone(),
    };
    CompleteRequest {
        role: request.role.as_str().to_string(),
        step: request.step.clone(),
        messages: request
            .messages
            .iter()
            .map(|m| Message {
                role: match m.role {
                    MessageRole::System => abi::MessageRole::System,
                    MessageRole::User => abi::MessageRole::User,
                    MessageRole::Assistant => abi::MessageRole::Assistant,
                    MessageRole::Tool => abi::MessageRole::Tool,
                },
                content: m.content.clone(),
                calls: m.calls.iter().map(call).collect(),
                call_id: m.call_id.clone(),
            })
            .collect(),
        max_output_tokens: request.max_output_tokens,
        sampling: match request.sampling {
            Sampling::Configured => None,
            Sampling::Varied => Some("varied".into()),
        },
        functions: request
            .functions
            .iter()
            .map(|f| Function {
                name: f.name.clone(),
                description: f.description.clone(),
                parameters: f.parameters.clone(),
            })
            .collect(),
    }
}

/// The plugin's answer as a response: `text` required, `usage`, `truncated` and `calls`
/// (native function calls) optional.
fn response(answer: Value) -> Result<LlmResponse, LlmError> {
    let completion: Completion = serde_json::from_value(answer.clone())
        .map_err(|e| LlmError::InvalidResponse(format!("the plugin's answer is not a completion ({e}): {answer}")))?;
    let usage = completion.usage.unwrap_or_default();
    Ok(LlmResponse {
        text: completion.text,
        usage: TokenUsage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            calls: 1,
            ..TokenUsage::default()
        },
        truncated: completion.truncated,
        calls: completion
            .calls
            .into_iter()
            .map(|c| LlmFunctionCall {
                id: c.id,
                name: c.name,
                arguments: c.arguments,
            })
            .collect(),
    })
}

#[async_trait]
impl Llm for PluginLlm {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let request = Request::Complete {
            request: complete_request(request),
        };
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
    use codemode_traits::Message as HostMessage;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_request_reaches_the_plugin_as_the_host_writes_it() {
        let request = LlmRequest {
            role: codemode_traits::LlmRole::Main,
            step: "implement".into(),
            messages: vec![HostMessage::system("write code"), HostMessage::tool("c1", "42")],
            max_output_tokens: Some(256),
            sampling: Sampling::Varied,
            functions: Vec::new(),
        };
        // The plugin's message is the host's request, field for field (ABI version 2).
        let sent = serde_json::to_value(complete_request(&request)).unwrap();
        let mut host = serde_json::to_value(&request).unwrap();
        host["sampling"] = json!("varied");
        assert_eq!(sent, host);
    }

    #[test]
    fn answers_need_text_and_may_count_tokens() {
        let r = response(json!({"text": "hi", "usage": {"prompt_tokens": 3, "completion_tokens": 1}})).unwrap();
        assert_eq!(
            (r.text.as_str(), r.usage.prompt_tokens, r.usage.completion_tokens),
            ("hi", 3, 1)
        );
        assert!(!r.truncated);
        let e = response(json!({"content": "hi"})).unwrap_err();
        assert!(matches!(e, LlmError::InvalidResponse(m) if m.contains("`text`")));
    }
}
