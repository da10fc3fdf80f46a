//! The boundaries of codemode, and nothing of its engine.
//!
//! codemode's pipeline (in `codemode-core`) talks to the world through the traits here:
//! [`Llm`] (a model), [`ToolProvider`] (where tools come from), [`RunEnvironment`] (where a
//! program runs), [`ToolBridge`] (the program's only door to the tools), [`TypeChecker`]
//! and [`Approver`]. A plugin crate implements one of them and registers a factory by name
//! in the [`registry`]; this crate is all it needs to depend on, and it is light (serde,
//! async-trait, thiserror, inventory, tracing: no TypeScript toolchain, no wasm).
//!
//! ```
//! use async_trait::async_trait;
//! use codemode_traits::{ToolError, ToolProvider, ToolSpec};
//! use serde_json::{Value, json};
//!
//! /// A tool provider with one tool that adds two numbers.
//! struct Adder;
//!
//! #[async_trait]
//! impl ToolProvider for Adder {
//!     async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
//!         let input = json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]});
//!         Ok(vec![ToolSpec::new("add", "Adds two numbers", input)])
//!     }
//!
//!     async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
//!         match name {
//!             "add" => Ok(json!(arguments["a"].as_f64().unwrap_or(0.0) + arguments["b"].as_f64().unwrap_or(0.0))),
//!             other => Err(ToolError::UnknownTool(other.to_string())),
//!         }
//!     }
//! }
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # let sum = runtime.block_on(Adder.call_tool("add", json!({"a": 2, "b": 3})));
//! # assert_eq!(sum.unwrap(), json!(5.0));
//! ```

pub mod approval;
mod bridge;
mod checker;
mod diagnostic;
mod environment;
mod error;
mod llm;
pub mod redact;
pub mod registry;
mod tool;
mod tool_filter;

pub use approval::{ApprovalDecision, ApprovalRecord, ApprovalRequest, ApproveAll, Approver, DenyAll};
pub use bridge::{BridgeError, ToolBridge, ToolCallRecord, reads_like_an_error};
pub use checker::{CheckContext, CheckerError, ToolSignature, TypeChecker};
pub use diagnostic::{Diagnostic, Severity};
pub use environment::{ExecutionLimits, ExecutionRequest, FailureKind, RunEnvironment, RunFailure, RunOutcome};
pub use error::CodeModeError;
pub use llm::{
    Llm, LlmConfig, LlmError, LlmFunction, LlmFunctionCall, LlmRequest, LlmResponse, LlmRole, Message, MessageRole,
    Sampling, TokenUsage, VARIED_TEMPERATURE,
};
pub use tool::{StaticToolProvider, ToolAnnotations, ToolError, ToolProvider, ToolSpec};
pub use tool_filter::{FilteredToolProvider, ToolFilter};

/// Re-exported so plugin crates register with the same `inventory` version.
pub use inventory;
