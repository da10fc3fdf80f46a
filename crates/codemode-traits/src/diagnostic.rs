//! Diagnostics with positions in the program as the model wrote it: what a
//! [`TypeChecker`](crate::TypeChecker) returns.

use serde::{Deserialize, Serialize};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The program must not run.
    Error,
    /// Worth showing, does not block the run.
    Warning,
}

/// One problem found in a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// 1-based line in the program as written.
    pub line: u32,
    /// 1-based column (in characters) in the program as written.
    pub column: u32,
    /// A compiler-style code, e.g. `TS2339`, or `SYNTAX` for parse errors.
    pub code: String,
    /// What is wrong, in one line.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl Diagnostic {
    /// An error at a 1-based line and column.
    pub fn error(line: u32, column: u32, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line,
            column,
            code: code.into(),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// Renders as `FILE:LINE:COL: CODE message`, the way compilers print diagnostics.
    pub fn render(&self, file: &str) -> String {
        format!("{file}:{}:{}: {} {}", self.line, self.column, self.code, self.message)
    }
}
