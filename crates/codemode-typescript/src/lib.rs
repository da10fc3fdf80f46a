//! TypeScript for codemode: declarations from tool JSON Schemas, TypeScript to JavaScript,
//! and type checking.
//!
//! ```
//! use codemode_typescript::{generate_declarations, BuiltinChecker, ToolSignature};
//! use serde_json::json;
//!
//! let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]});
//! let tool = ToolSignature { path: "chat.send", description: Some("Send a message"), input_schema: &schema, output_schema: None, output_learned_from: None };
//! let decls = generate_declarations(&[tool]);
//! assert!(decls.text.contains("send(input: ChatSendInput): Promise<ChatSendOutput>;"));
//!
//! let diagnostics = BuiltinChecker::new(&[tool]).check("await tools.chat.send({ txt: 'hi' });");
//! // `txt` is not a property of the input, and the required `text` is missing.
//! let codes: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
//! assert_eq!(codes, ["TS2741", "TS2353"]);
//! ```

mod calls;
mod check;
mod checkers;
mod diagnostic;
mod error;
pub mod ident;
pub mod install;
mod lsp;
mod program;
mod schema;
mod transpile;
mod tsc;

pub use calls::{ToolCallSite, tool_calls};
pub use check::{BUILTIN_CHECKER_NAME, BuiltinChecker};
pub use checkers::{BuiltinTypeChecker, TscTypeChecker};
pub use diagnostic::{Diagnostic, LineIndex, Severity};
pub use error::TscError;
pub use program::{PreparedProgram, prepare_program, shape_diagnostics};
pub use schema::{Declarations, ToolSignature, ToolTypeNames, generate_declarations};
pub use transpile::{TranspileError, Transpiled, transpile};
pub use tsc::{GLOBALS_DECLARATION, TscChecker};
