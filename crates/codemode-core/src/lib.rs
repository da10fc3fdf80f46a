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

mod answer;
pub mod approval;
mod bridge;
mod catalog;
pub mod config;
pub mod limits;
mod pipeline;
mod promptlog;
mod prompts;
pub mod record;
mod report;
#[cfg(feature = "testing")]
pub mod testing;

pub use answer::{FilterAnswer, contains_program, extract_code, parse_filter_answer};
pub use bridge::CatalogBridge;
pub use catalog::{CatalogEntry, NamespaceSummary, ProviderFailure, ToolCatalog, learned, search};
pub use limits::{ApprovalPolicy, FilterMode, LIMITS, LimitOverrides, LimitSpec, RerunPolicy, RunOptions};
pub use pipeline::{CheckResult, CodeMode, CodeModeBuilder, RunObserver, RunRequest, RunTask};
pub use report::{FilterBatchFailure, ResultType, RunAttempt, RunReport, Step, StepTiming, budget, tokens};
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
