//! Local run environments for codemode.
//!
//! [`WasmEnvironment`] (feature `wasm`, the default environment) runs each program in a
//! fresh QuickJS-in-wasmtime instance. [`ProcessEnvironment`] runs each program in a fresh
//! Node.js (or Deno, [`ProcessEnvironment::deno`]) subprocess that speaks the
//! JSON-lines bridge protocol on stdin/stdout (see `js/runner.mjs`). The host enforces the
//! limits: the wall-clock deadline kills the process, the tool bridge counts calls, memory
//! is capped with V8's heap limit, console output and values crossing the bridge are
//! capped. The child gets an empty environment, a throwaway working directory and, where
//! Node supports it, the permission model (no file writes, no child processes). A
//! subprocess is **not** a strong sandbox: see `docs/security.md`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode_core::{CodeMode, RunOptions};
//! use codemode_env_local::ProcessEnvironment;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let codemode = CodeMode::builder()
//!     .environment(Arc::new(ProcessEnvironment::node()?))
//!     .build()
//!     .await?;
//! let report = codemode.run(codemode_core::RunRequest::program("return 6 * 7;", RunOptions::default())).await?;
//! assert_eq!(report.output, serde_json::json!(42));
//! # Ok(()) }
//! ```

mod console;
mod process;
mod protocol;
pub mod runner;
#[cfg(feature = "wasm")]
mod wasm;

pub use console::ConsoleCapture;
pub use process::{EnvError, ProcessEnvironment, ProcessRuntime};
#[cfg(feature = "wasm")]
pub use wasm::{DEFAULT_POOL_SIZE, WasmEnvironment, WasmError};
