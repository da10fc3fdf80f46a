//! The error type of codemode-core.

use crate::llm::LlmError;
use crate::tool::ToolError;

/// Everything that can stop codemode before or outside a run. Failures *inside* a run
/// (a compile error, a runtime error, a limit) are not errors: they are reported in the
/// `RunReport`'s `result_type`.
#[derive(Debug, thiserror::Error)]
pub enum CodeModeError {
    /// The configuration is incomplete or invalid; the message says what to fix.
    #[error("configuration error: {0}")]
    Config(String),
    /// A required part was not given to the builder.
    #[error("missing {0}: set it on the CodeMode builder")]
    Missing(&'static str),
    /// No factory is registered under a name.
    #[error("no {kind} named `{name}` is compiled in (available: {available})")]
    UnknownFactory {
        /// `LLM provider`, `tool provider` or `run environment`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names that are available.
        available: String,
    },
    /// A model call failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// The type checker could not run.
    #[error(transparent)]
    Checker(#[from] crate::checker::CheckerError),
    /// A tool provider failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl CodeModeError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
