//! The `TypeChecker` boundary.

use async_trait::async_trait;
use codemode_typescript::{BUILTIN_CHECKER_NAME, BuiltinChecker, Diagnostic, ToolSignature};

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

/// The built-in oxc checker behind the trait.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinTypeChecker;

#[async_trait]
impl TypeChecker for BuiltinTypeChecker {
    fn name(&self) -> &str {
        BUILTIN_CHECKER_NAME
    }

    async fn check(&self, program: &str, context: CheckContext<'_>) -> Result<Vec<Diagnostic>, CheckerError> {
        Ok(BuiltinChecker::new(context.tools).check(program))
    }
}
