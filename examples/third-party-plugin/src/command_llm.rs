//! The `command` LLM provider: a program that reads the request on stdin and answers on
//! stdout.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use codemode_traits::registry::{LlmContext, LlmFactory};
use codemode_traits::{CodeModeError, Llm, LlmError, LlmRequest, LlmResponse};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

/// The `[llm.ROLE]` settings of the `command` provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    /// The program and its arguments; a relative program path is relative to the
    /// configuration file.
    pub command: Vec<String>,
    /// How long one answer may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    300
}

/// Why the command did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum CommandLlmError {
    /// The program could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// Writing the request or reading the answer failed.
    #[error("talking to `{program}` failed: {source}")]
    Io {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The program exited with a failure status.
    #[error("`{program}` exited with {status}; its last stderr: {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
    /// The program did not answer in time (it is killed).
    #[error("`{program}` did not answer within {seconds} s")]
    Timeout {
        /// The program.
        program: String,
        /// The limit.
        seconds: u64,
    },
    /// The answer was not UTF-8.
    #[error("`{program}` answered with bytes that are not UTF-8")]
    NotText {
        /// The program.
        program: String,
    },
}

impl From<CommandLlmError> for LlmError {
    fn from(e: CommandLlmError) -> Self {
        match e {
            CommandLlmError::Spawn { .. } | CommandLlmError::Io { .. } | CommandLlmError::Timeout { .. } => {
                LlmError::Transport(e.to_string())
            }
            CommandLlmError::NotText { .. } => LlmError::InvalidResponse(e.to_string()),
            CommandLlmError::Failed { .. } => LlmError::Other(e.to_string()),
        }
    }
}

/// A model behind a command.
#[derive(Debug, Clone)]
pub struct CommandLlm {
    program: PathBuf,
    args: Vec<String>,
    timeout: Duration,
}

impl CommandLlm {
    /// A model that runs `program args...` once per request.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>, timeout: Duration) -> Self {
        Self {
            program: program.into(),
            args,
            timeout,
        }
    }

    async fn answer(&self, request: &LlmRequest) -> Result<String, CommandLlmError> {
        let program = self.program.display().to_string();
        let input = serde_json::to_vec(request).map_err(|e| CommandLlmError::Io {
            program: program.clone(),
            source: e.into(),
        })?;
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| CommandLlmError::Spawn {
                program: program.clone(),
                source,
            })?;
        let io = |source| CommandLlmError::Io {
            program: program.clone(),
            source,
        };
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&input).await.map_err(io)?;
            // Dropping stdin closes it: the program sees the end of the request.
        }
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(output) => output.map_err(io)?,
            Err(_) => {
                return Err(CommandLlmError::Timeout {
                    program,
                    seconds: self.timeout.as_secs(),
                });
            }
        };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            return Err(CommandLlmError::Failed {
                program,
                status: output.status,
                stderr: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
            });
        }
        String::from_utf8(output.stdout).map_err(|_| CommandLlmError::NotText { program })
    }
}

#[async_trait]
impl Llm for CommandLlm {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        Ok(LlmResponse::text(self.answer(request).await?))
    }

    fn model_name(&self) -> Option<&str> {
        self.program.to_str()
    }
}

fn create(context: &LlmContext) -> Result<Arc<dyn Llm>, CodeModeError> {
    let bad =
        |message: String| CodeModeError::Config(format!("[llm.{}] provider \"command\": {message}", context.name));
    let settings: CommandSettings = serde_json::from_value(serde_json::Value::Object(
        context.settings.settings.clone().into_iter().collect(),
    ))
    .map_err(|e| {
        bad(format!(
            "{e} (expected command = [\"program\", \"arg\", ...], timeout_secs = N)"
        ))
    })?;
    let (program, args) = settings
        .command
        .split_first()
        .ok_or_else(|| bad("`command` is empty; give the program and its arguments".into()))?;
    // A program written as a path (`./model.sh`, `bin/model`) is relative to the
    // configuration file; a bare name is looked up on PATH.
    let program = if program.contains('/') {
        context.resolve_path(program)
    } else {
        PathBuf::from(program)
    };
    Ok(Arc::new(CommandLlm::new(
        program,
        args.to_vec(),
        Duration::from_secs(settings.timeout_secs),
    )))
}

codemode_traits::inventory::submit! {
    LlmFactory {
        name: "command",
        description: "any program as the model: the request as JSON on stdin, the answer on stdout (acme-codemode-plugins)",
        create,
    }
}
