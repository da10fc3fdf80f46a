//! Record and replay: a wrapper that writes every call of any `Llm` to a JSON-lines file,
//! and an `Llm` that serves a recording back by role, messages and order, so a pipeline can be re-run
//! deterministically.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use codemode_traits::{
    CodeModeError, Llm, LlmConfig, LlmError, LlmFunctionCall, LlmRequest, LlmResponse, LlmRole, Message, TokenUsage,
    redact::{redact, secret_values_from_env},
    registry::{FactoryContext, LlmFactory},
};

/// One recorded call: a line of the recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedCall {
    /// The role.
    pub role: LlmRole,
    /// The pipeline step.
    pub step: String,
    /// The messages sent (secrets redacted).
    pub messages: Vec<Message>,
    /// The answer, when the call succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Tokens used.
    #[serde(default)]
    pub usage: TokenUsage,
    /// The answer was cut off at the model's token limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The functions the model called natively.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<LlmFunctionCall>,
}

/// Wraps an `Llm` and appends every call to a JSON-lines file.
pub struct RecordingLlm {
    inner: Arc<dyn Llm>,
    file: Mutex<std::fs::File>,
    secrets: Vec<String>,
}

impl RecordingLlm {
    /// Records the calls of `inner` to `path` (appending).
    pub fn new(inner: Arc<dyn Llm>, path: &Path) -> Result<Self, CodeModeError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| CodeModeError::io(format!("cannot open recording {}", path.display()), e))?;
        Ok(Self {
            inner,
            file: Mutex::new(file),
            secrets: secret_values_from_env(),
        })
    }
}

#[async_trait]
impl Llm for RecordingLlm {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let result = self.inner.complete(request).await;
        let messages = request
            .messages
            .iter()
            .map(|m| Message {
                content: redact(&m.content, &self.secrets),
                // A native call's arguments are the model's words like any content.
                calls: m
                    .calls
                    .iter()
                    .map(|c| LlmFunctionCall {
                        arguments: redact(&c.arguments, &self.secrets),
                        ..c.clone()
                    })
                    .collect(),
                ..m.clone()
            })
            .collect();
        let call = RecordedCall {
            role: request.role,
            step: request.step.clone(),
            messages,
            response: result.as_ref().ok().map(|r| r.text.clone()),
            error: result.as_ref().err().map(|e| redact(&e.to_string(), &self.secrets)),
            usage: result.as_ref().map(|r| r.usage).unwrap_or_default(),
            truncated: result.as_ref().is_ok_and(|r| r.truncated),
            calls: result.as_ref().map(|r| r.calls.clone()).unwrap_or_default(),
        };
        match serde_json::to_string(&call) {
            Ok(line) => {
                if let Ok(mut f) = self.file.lock()
                    && let Err(e) = writeln!(f, "{line}")
                {
                    tracing::warn!(error = %e, "cannot write the LLM recording");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot serialize an LLM call"),
        }
        result
    }
}

/// Serves a recording back: each request gets the recorded answer to the same messages of
/// its role, or else the role's next answer in recorded order.
pub struct ReplayLlm {
    queues: Mutex<HashMap<LlmRole, VecDeque<RecordedCall>>>,
}

impl ReplayLlm {
    /// Reads a recording made by [`RecordingLlm`].
    pub fn from_file(path: &Path) -> Result<Self, CodeModeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CodeModeError::io(format!("cannot read recording {}", path.display()), e))?;
        Self::from_jsonl(&text)
    }

    /// Parses JSON lines.
    pub fn from_jsonl(text: &str) -> Result<Self, CodeModeError> {
        let mut queues: HashMap<LlmRole, VecDeque<RecordedCall>> = HashMap::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let call: RecordedCall = serde_json::from_str(line)
                .map_err(|e| CodeModeError::Config(format!("recording line {}: {e}", i + 1)))?;
            queues.entry(call.role).or_default().push_back(call);
        }
        Ok(Self {
            queues: Mutex::new(queues),
        })
    }

    /// Calls left to replay for a role.
    pub fn remaining(&self, role: LlmRole) -> usize {
        self.queues
            .lock()
            .map(|q| q.get(&role).map_or(0, VecDeque::len))
            .unwrap_or(0)
    }
}

#[async_trait]
impl Llm for ReplayLlm {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        // The recorded call with the same messages, else the next one of the role: calls
        // made concurrently (filter batches) were recorded in the order they finished.
        let next = self.queues.lock().ok().and_then(|mut q| {
            let queue = q.get_mut(&request.role)?;
            let same = queue.iter().position(|call| call.messages == request.messages);
            queue.remove(same.unwrap_or(0))
        });
        let call = next.ok_or_else(|| {
            LlmError::Other(format!(
                "the recording has no more calls for the {} role (step {})",
                request.role, request.step
            ))
        })?;
        if call.step != request.step {
            tracing::warn!(recorded = %call.step, requested = %request.step, "replaying a call recorded for another step");
        }
        match (call.response, call.error) {
            (Some(text), _) => Ok(LlmResponse {
                text,
                usage: call.usage,
                truncated: call.truncated,
                calls: call.calls,
            }),
            (None, Some(e)) => Err(LlmError::Other(e)),
            (None, None) => Err(LlmError::InvalidResponse(
                "the recorded call has neither response nor error".into(),
            )),
        }
    }
}

/// `recording` is relative to the configuration file, like every other path in it.
fn create_replay(context: &FactoryContext<LlmConfig>) -> Result<Arc<dyn Llm>, CodeModeError> {
    let path = context
        .settings
        .settings
        .get("recording")
        .and_then(|v| v.as_str())
        .ok_or_else(|| CodeModeError::Config("provider \"replay\" needs `recording = \"calls.jsonl\"`".into()))?;
    Ok(Arc::new(ReplayLlm::from_file(&context.resolve_path(path))?))
}

codemode_traits::inventory::submit! {
    LlmFactory {
        name: "replay",
        description: "serves a recording (JSON lines) back by role and order",
        create: create_replay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_then_replays_by_role_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = counter.clone();
        let model: Arc<dyn Llm> = Arc::new(move |prompt: String| {
            let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { Ok::<_, std::io::Error>(format!("answer {n} to {prompt}")) }
        });
        let recorder = RecordingLlm::new(model, &path).unwrap();
        let req = |role, step: &str, text: &str| LlmRequest {
            role,
            step: step.into(),
            messages: vec![Message::user(text)],
            max_output_tokens: None,
            sampling: Default::default(),
            functions: Vec::new(),
        };
        recorder.complete(&req(LlmRole::Strategy, "plan", "p")).await.unwrap();
        recorder.complete(&req(LlmRole::Main, "implement", "m1")).await.unwrap();
        recorder.complete(&req(LlmRole::Main, "repair", "m2")).await.unwrap();
        let replay = ReplayLlm::from_file(&path).unwrap();
        assert_eq!(replay.remaining(LlmRole::Main), 2);
        assert_eq!(
            replay
                .complete(&req(LlmRole::Main, "implement", "x"))
                .await
                .unwrap()
                .text,
            "answer 1 to m1"
        );
        assert_eq!(
            replay
                .complete(&req(LlmRole::Strategy, "plan", "x"))
                .await
                .unwrap()
                .text,
            "answer 0 to p"
        );
        assert_eq!(
            replay.complete(&req(LlmRole::Main, "repair", "x")).await.unwrap().text,
            "answer 2 to m2"
        );
        let err = replay.complete(&req(LlmRole::Main, "repair", "x")).await.unwrap_err();
        assert!(err.to_string().contains("no more calls for the main role"));
        // Concurrent calls finish out of order: the same messages get their own answer.
        let replay = ReplayLlm::from_file(&path).unwrap();
        assert_eq!(
            replay.complete(&req(LlmRole::Main, "repair", "m2")).await.unwrap().text,
            "answer 2 to m2"
        );
        assert_eq!(
            replay
                .complete(&req(LlmRole::Main, "implement", "other"))
                .await
                .unwrap()
                .text,
            "answer 1 to m1"
        );
        let err = replay.complete(&req(LlmRole::Main, "repair", "x")).await.unwrap_err();
        assert!(err.to_string().contains("no more calls for the main role"));
        assert!(ReplayLlm::from_jsonl("not json").is_err());
    }

    #[tokio::test]
    async fn native_calls_are_recorded_redacted_and_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let token = "sk-live0123456789abcdefghij";
        /// A test double: a model that answers every request with one native call.
        struct Calling;
        #[async_trait]
        impl Llm for Calling {
            async fn complete(&self, _: &LlmRequest) -> Result<LlmResponse, LlmError> {
                Ok(LlmResponse {
                    calls: vec![LlmFunctionCall {
                        id: "call_2".into(),
                        name: "post".into(),
                        arguments: "{}".into(),
                    }],
                    ..LlmResponse::text("")
                })
            }
        }
        let recorder = RecordingLlm::new(Arc::new(Calling), &path).unwrap();
        let call = LlmFunctionCall {
            id: "call_1".into(),
            name: "login".into(),
            arguments: format!("{{\"key\": \"{token}\"}}"),
        };
        let request = LlmRequest {
            role: LlmRole::Main,
            step: "agent".into(),
            messages: vec![Message::assistant_calls("", vec![call]), Message::tool("call_1", "ok")],
            max_output_tokens: None,
            sampling: Default::default(),
            functions: Vec::new(),
        };
        recorder.complete(&request).await.unwrap();
        let recorded = std::fs::read_to_string(&path).unwrap();
        assert!(!recorded.contains(token), "{recorded}");
        assert!(recorded.contains("\"call_id\":\"call_1\""), "{recorded}");
        let replayed = ReplayLlm::from_file(&path).unwrap().complete(&request).await.unwrap();
        assert_eq!(replayed.calls[0].id, "call_2");
    }

    #[test]
    fn the_recording_is_found_next_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("calls.jsonl"), "").unwrap();
        let config = LlmConfig {
            provider: "replay".into(),
            model: String::new(),
            base_url: None,
            api_key_env: None,
            settings: [("recording".to_string(), serde_json::json!("calls.jsonl"))].into(),
        };
        let beside = FactoryContext::new("main", config.clone()).config_dir(Some(dir.path().to_path_buf()));
        codemode_traits::registry::create_llm(&beside).unwrap();
        let here = FactoryContext::new("main", config);
        let e = codemode_traits::registry::create_llm(&here).err().unwrap().to_string();
        assert!(e.contains("calls.jsonl"), "{e}");
    }
}
