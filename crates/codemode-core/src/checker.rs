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

/// The TypeScript 7 compiler behind the trait (each check runs `tsc` once, off the async
/// runtime's threads).
#[derive(Debug, Clone)]
pub struct TscTypeChecker {
    tsc: codemode_typescript::TscChecker,
    name: String,
}

impl TscTypeChecker {
    /// Wraps a discovered compiler.
    pub fn new(tsc: codemode_typescript::TscChecker) -> Self {
        let name = tsc.name();
        Self { tsc, name }
    }
}

#[async_trait]
impl TypeChecker for TscTypeChecker {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self, program: &str, context: CheckContext<'_>) -> Result<Vec<Diagnostic>, CheckerError> {
        let tsc = self.tsc.clone();
        let program = program.to_string();
        let declarations = context.declarations.to_string();
        let checked = tokio::task::spawn_blocking(move || tsc.check(&program, &declarations)).await;
        match checked {
            Ok(Ok(d)) => Ok(d),
            Ok(Err(e)) => Err(CheckerError {
                checker: self.name.clone(),
                message: e.to_string(),
            }),
            Err(e) => Err(CheckerError {
                checker: self.name.clone(),
                message: e.to_string(),
            }),
        }
    }
}

/// The checker a configuration asks for: `builtin`, `tsc` (TypeScript 7, an error when it
/// is missing) or `auto` (TypeScript 7 when found, the built-in checker otherwise).
pub fn select_checker(
    kind: &str,
    tsc_path: Option<&std::path::Path>,
) -> Result<std::sync::Arc<dyn TypeChecker>, crate::CodeModeError> {
    use std::sync::Arc;
    match kind {
        "builtin" => Ok(Arc::new(BuiltinTypeChecker)),
        "tsc" => codemode_typescript::TscChecker::discover(tsc_path)
            .map(|t| Arc::new(TscTypeChecker::new(t)) as Arc<dyn TypeChecker>)
            .map_err(|e| crate::CodeModeError::Config(e.to_string())),
        "auto" => Ok(match codemode_typescript::TscChecker::discover(tsc_path) {
            Ok(t) => Arc::new(TscTypeChecker::new(t)),
            Err(e) => {
                tracing::info!(reason = %e, "TypeScript 7 not used; the built-in checker runs");
                Arc::new(BuiltinTypeChecker)
            }
        }),
        other => Err(crate::CodeModeError::Config(format!(
            "[run] type_checker = \"{other}\": use \"auto\", \"tsc\" or \"builtin\""
        ))),
    }
}
