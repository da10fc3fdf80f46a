//! Prompt logs: with `log_dir` set, every prompt and answer is written there, redacted.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use codemode_traits::{
    CodeModeError, LlmRequest, MessageRole,
    redact::{redact, secret_values_from_env},
};

/// Writes one file per model call: `NNN-<step>-<role>.md` with the prompt and the answer.
#[derive(Debug)]
pub(crate) struct PromptLog {
    dir: PathBuf,
    seq: AtomicUsize,
    secrets: Vec<String>,
}

impl PromptLog {
    pub(crate) fn create(dir: &Path, extra_secrets: &[String]) -> Result<Self, CodeModeError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| CodeModeError::io(format!("cannot create the log directory {}", dir.display()), e))?;
        let mut secrets = secret_values_from_env();
        secrets.extend(extra_secrets.iter().filter(|s| s.len() >= 8).cloned());
        Ok(Self {
            dir: dir.to_path_buf(),
            seq: AtomicUsize::new(0),
            secrets,
        })
    }

    /// Writes the log of one call; failures are reported through `tracing`, not raised.
    pub(crate) fn write(&self, request: &LlmRequest, answer: Result<&str, &str>) {
        let n = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let name = format!("{n:03}-{}-{}.md", request.step, request.role);
        let mut text = format!("# {} ({} model), call {n}\n\n", request.step, request.role);
        for m in &request.messages {
            let who = match m.role {
                MessageRole::System => "system",
                MessageRole::User => "user",
                MessageRole::Assistant => "assistant",
                MessageRole::Tool => "tool",
            };
            text.push_str(&format!("## {who}\n\n{}\n\n", m.content));
            for call in &m.calls {
                text.push_str(&format!("call `{}` ({}): {}\n\n", call.name, call.id, call.arguments));
            }
        }
        match answer {
            Ok(a) => text.push_str(&format!("## response\n\n{a}\n")),
            Err(e) => text.push_str(&format!("## error\n\n{e}\n")),
        }
        let path = self.dir.join(name);
        if let Err(e) = std::fs::write(&path, redact(&text, &self.secrets)) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write prompt log");
        }
    }
}
