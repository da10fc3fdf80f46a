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
//! [`TypeChecker`], [`Approver`]. They live in `codemode-traits` (re-exported here at the
//! same paths), so a plugin crate that implements one depends on that light crate and not
//! on this engine; plugins register factories by name (see [`registry`]).

pub mod approval;
mod bridge;
pub mod budget;
mod catalog;
pub mod config;
mod extract;
mod filter;
pub mod learned;
pub mod limits;
mod options;
mod pipeline;
mod promptlog;
mod prompts;
pub mod record;
mod report;
pub mod search;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;

pub use bridge::CatalogBridge;
pub use catalog::{CatalogEntry, NamespaceSummary, ProviderFailure, ToolCatalog};
pub use extract::{contains_program, extract_code};
pub use filter::{FilterAnswer, parse_filter_answer};
pub use limits::{ApprovalPolicy, FilterMode, LIMITS, LimitOverrides, LimitSpec, RerunPolicy};
pub use options::RunOptions;
pub use pipeline::{CheckResult, CodeMode, CodeModeBuilder, RunObserver};
pub use report::{FilterBatchFailure, ResultType, RunAttempt, RunReport, Step, StepTiming};
pub use search::{SearchHit, ToolIndex};

// The boundaries, from `codemode-traits`, at the paths they always had here.
pub use codemode_traits::{
    ApprovalDecision, ApprovalRecord, ApprovalRequest, ApproveAll, Approver, BridgeError, CheckContext, CheckerError,
    CodeModeError, DenyAll, Diagnostic, ExecutionLimits, ExecutionRequest, FailureKind, FilteredToolProvider, Llm,
    LlmError, LlmFunction, LlmFunctionCall, LlmRequest, LlmResponse, LlmRole, Message, MessageRole, RunEnvironment,
    RunFailure, RunOutcome, Sampling, Severity, StaticToolProvider, TokenUsage, ToolAnnotations, ToolBridge,
    ToolCallRecord, ToolError, ToolFilter, ToolProvider, ToolSpec, TypeChecker, VARIED_TEMPERATURE,
    reads_like_an_error,
};
pub use codemode_traits::{redact, registry};
pub use codemode_typescript::{BuiltinTypeChecker, TscTypeChecker};

/// Re-exported so plugin crates register with the same `inventory` version.
pub use codemode_traits::inventory;
