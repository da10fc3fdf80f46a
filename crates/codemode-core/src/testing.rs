//! Test doubles (feature `testing`): a scripted `Llm` that answers by role.
//!
//! `ScriptedLlm` is **not** a model: it returns answers written in advance (or computed by
//! a closure from the request), so the pipeline can be tested end to end, and the demo can
//! run offline.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use codemode_traits::{
    CodeModeError, Llm, LlmConfig, LlmError, LlmRequest, LlmResponse, LlmRole,
    registry::{FactoryContext, LlmFactory},
};

type Responder = Arc<dyn Fn(&LlmRequest) -> Result<String, LlmError> + Send + Sync>;

/// A scripted model: answers come from per-role queues or per-role closures.
#[derive(Default)]
pub struct ScriptedLlm {
    queues: Mutex<HashMap<LlmRole, VecDeque<String>>>,
    responders: HashMap<LlmRole, Responder>,
    repeat_last: bool,
    last: Mutex<HashMap<LlmRole, String>>,
    delay: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    requests: Mutex<Vec<LlmRequest>>,
}

impl std::fmt::Debug for ScriptedLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedLlm").finish_non_exhaustive()
    }
}

impl ScriptedLlm {
    /// A scripted model with no answers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues an answer for a role; answers are given in order.
    pub fn reply(self, role: LlmRole, text: impl Into<String>) -> Self {
        if let Ok(mut q) = self.queues.lock() {
            q.entry(role).or_default().push_back(text.into());
        }
        self
    }

    /// Answers every request of a role with a closure (used when the queue is empty).
    pub fn respond_with(
        mut self,
        role: LlmRole,
        f: impl Fn(&LlmRequest) -> Result<String, LlmError> + Send + Sync + 'static,
    ) -> Self {
        self.responders.insert(role, Arc::new(f));
        self
    }

    /// When a role's queue runs out, repeat its last answer instead of failing.
    pub fn repeat_last(mut self) -> Self {
        self.repeat_last = true;
        self
    }

    /// Waits this long before each answer (to make concurrency observable).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<LlmRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The most requests that were in flight at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Reads a script: `{"strategy": [...], "tiny": [...], "main": [...]}`, each a list of
    /// answers given in order; the last answer of a role repeats.
    pub fn from_script_json(text: &str) -> Result<Self, CodeModeError> {
        let script: BTreeMap<LlmRole, Vec<String>> = serde_json::from_str(text).map_err(|e| {
            CodeModeError::Config(format!(
                "a scripted LLM script must be {{\"strategy\": [...], \"tiny\": [...], \"main\": [...]}}: {e}"
            ))
        })?;
        let mut llm = Self::new().repeat_last();
        for (role, answers) in script {
            for a in answers {
                llm = llm.reply(role, a);
            }
        }
        Ok(llm)
    }

    fn next_answer(&self, request: &LlmRequest) -> Result<String, LlmError> {
        let queued = self
            .queues
            .lock()
            .ok()
            .and_then(|mut q| q.get_mut(&request.role).and_then(VecDeque::pop_front));
        let answer = match queued {
            Some(a) => Ok(a),
            None => match self.responders.get(&request.role) {
                Some(f) => f(request),
                None => match self.last.lock().ok().and_then(|l| l.get(&request.role).cloned()) {
                    Some(a) if self.repeat_last => Ok(a),
                    _ => Err(LlmError::Other(format!(
                        "the scripted LLM has no answer left for the {} role (step {})",
                        request.role, request.step
                    ))),
                },
            },
        }?;
        if let Ok(mut l) = self.last.lock() {
            l.insert(request.role, answer.clone());
        }
        Ok(answer)
    }
}

#[async_trait]
impl Llm for ScriptedLlm {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Ok(mut r) = self.requests.lock() {
            r.push(request.clone());
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let answer = self.next_answer(request);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let text = answer?;
        // No token counts, as from a server that reports none: the pipeline counts them
        // with the o200k_base encoding.
        Ok(LlmResponse::text(text))
    }
}

/// `script` is relative to the configuration file, like every other path in it.
fn create_scripted(context: &FactoryContext<LlmConfig>) -> Result<Arc<dyn Llm>, CodeModeError> {
    let path = context
        .settings
        .settings
        .get("script")
        .and_then(|v| v.as_str())
        .ok_or_else(|| CodeModeError::Config("provider \"scripted\" needs `script = \"answers.json\"`".into()))?;
    let path = context.resolve_path(path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CodeModeError::io(format!("cannot read script {}", path.display()), e))?;
    Ok(Arc::new(ScriptedLlm::from_script_json(&text)?))
}

codemode_traits::inventory::submit! {
    LlmFactory {
        name: "scripted",
        description: "test double: answers from a JSON script by role (not a model)",
        create: create_scripted,
    }
}
