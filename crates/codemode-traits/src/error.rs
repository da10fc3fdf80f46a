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
        /// `LLM provider`, `tool provider`, `run environment` or `type checker`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names that are available.
        available: String,
    },
    /// A registered factory could not build what the configuration asks for (a checker
    /// that is not installed, an environment missing its key, ...); `source` says why.
    #[error("cannot set up the {kind} `{name}`")]
    Factory {
        /// `LLM provider`, `run environment`, `type checker`, ...
        kind: &'static str,
        /// The factory's name.
        name: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// A factory's failure, keeping the error that caused it.
    pub fn factory(
        kind: &'static str,
        name: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Factory {
            kind,
            name: name.into(),
            source: source.into(),
        }
    }

    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
