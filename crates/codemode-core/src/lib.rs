//! The codemode pipeline and its boundaries.
//!
//! codemode turns tools into a typed TypeScript API and lets a model write one program
//! against it instead of making one JSON tool call at a time. [`CodeMode::run`] runs the six
//! steps: **plan** (strategy model), **filter** (tiny model, batched and concurrent),
//! **types** (declarations for the chosen tools), **implement** (main model), **check**
//! (type check with bounded repairs) and **execute** (in a [`RunEnvironment`] whose only door
//! to the world is the [`ToolBridge`]).
//!
//! The boundaries are traits: [`Llm`], [`ToolProvider`], [`RunEnvironment`], [`ToolBridge`],
//! [`TypeChecker`]. Plugin crates implement them and register factories by name (see
//! [`registry`]).

pub mod approval;
mod bridge;
pub mod budget;
mod catalog;
mod checker;
pub mod config;
mod environment;
mod error;
mod extract;
mod filter;
pub mod learned;
pub mod limits;
mod llm;
mod options;
mod pipeline;
mod promptlog;
mod prompts;
pub mod record;
pub mod redact;
pub mod registry;
mod report;
pub mod search;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;
mod tool;
mod tool_filter;

pub use approval::{ApprovalDecision, ApprovalRecord, ApprovalRequest, ApproveAll, Approver, DenyAll};
pub use bridge::{BridgeError, CatalogBridge, ToolBridge, ToolCallRecord, reads_like_an_error};
pub use catalog::{CatalogEntry, NamespaceSummary, ProviderFailure, ToolCatalog};
pub use checker::{BuiltinTypeChecker, CheckContext, CheckerError, TscTypeChecker, TypeChecker};
pub use codemode_typescript::{Diagnostic, Severity};
pub use environment::{ExecutionLimits, ExecutionRequest, FailureKind, RunEnvironment, RunFailure, RunOutcome};
pub use error::CodeModeError;
pub use extract::{contains_program, extract_code};
pub use filter::{FilterAnswer, parse_filter_answer};
pub use limits::{ApprovalPolicy, FilterMode, LIMITS, LimitOverrides, LimitSpec, RerunPolicy};
pub use llm::{
    Llm, LlmError, LlmFunction, LlmFunctionCall, LlmRequest, LlmResponse, LlmRole, Message, MessageRole, Sampling,
    TokenUsage, VARIED_TEMPERATURE,
};
pub use options::RunOptions;
pub use pipeline::{CheckResult, CodeMode, CodeModeBuilder, RunObserver};
pub use report::{FilterBatchFailure, ResultType, RunAttempt, RunReport, Step, StepTiming};
pub use search::{SearchHit, ToolIndex};
pub use tool::{StaticToolProvider, ToolAnnotations, ToolError, ToolProvider, ToolSpec};
pub use tool_filter::{FilteredToolProvider, ToolFilter};

/// Re-exported so plugin crates register with the same `inventory` version.
pub use inventory;
