//! Why the TypeScript 7 compiler could not be found, installed or run.

use std::path::PathBuf;

/// Why `tsc` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TscError {
    /// No compiler was found.
    #[error(
        "TypeScript 7 was not found (looked at {looked}); install it with `npm install typescript@7` or set CODEMODE_TSC"
    )]
    NotFound {
        /// Where it looked.
        looked: String,
    },
    /// A compiler was found but it is not TypeScript 7.
    #[error("{path} is TypeScript {version}, not 7.x: install it with `npm install typescript@7`")]
    WrongVersion {
        /// The binary.
        path: PathBuf,
        /// What it reported.
        version: String,
    },
    /// Installing the pinned release into codemode's cache failed.
    #[error("cannot install TypeScript {version} into {dir}: {message}")]
    Install {
        /// The release it was installing.
        version: &'static str,
        /// Where it was to go.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Running it failed.
    #[error("running {path} failed: {message}")]
    Run {
        /// The binary.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}
