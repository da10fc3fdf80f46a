//! The `TypeChecker` boundary.

use async_trait::async_trait;
use serde_json::Value;

use crate::diagnostic::Diagnostic;

/// One tool to declare and check against: where it lives in the `tools` tree and its
/// schemas.
#[derive(Debug, Clone, Copy)]
pub struct ToolSignature<'a> {
    /// Dotted path under `tools`, e.g. `slack.send_message`. Segments should be identifiers;
    /// others are quoted.
    pub path: &'a str,
    /// The tool's description, rendered as JSDoc.
    pub description: Option<&'a str>,
    /// JSON Schema of the tool's arguments.
    pub input_schema: &'a Value,
    /// JSON Schema of the tool's result, when the tool declares one or one was learned.
    pub output_schema: Option<&'a Value>,
    /// `Some(n)` when `output_schema` was learned from `n` results rather than declared:
    /// parts it leaves open are `any` (not `unknown`) and its JSDoc says so.
    pub output_learned_from: Option<u64>,
}

/// What a checker needs to know besides the program.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    /// The tools the program may call.
    pub tools: &'a [ToolSignature<'a>],
    /// Their TypeScript declarations.
    pub declarations: &'a str,
}

/// A checker could not run at all (not: the program has errors).
#[derive(Debug, Clone, thiserror::Error)]
#[error("type checker `{checker}` failed: {message}")]
pub struct CheckerError {
    /// The checker's name.
    pub checker: String,
    /// What went wrong.
    pub message: String,
}

/// Diagnostics for a TypeScript program, at the lines and columns of the program as written.
#[async_trait]
pub trait TypeChecker: Send + Sync {
    /// The checker's name, as shown in reports.
    fn name(&self) -> &str;

    /// Checks a program (already in program shape: see `prepare_program`).
    async fn check(&self, program: &str, context: CheckContext<'_>) -> Result<Vec<Diagnostic>, CheckerError>;
}
