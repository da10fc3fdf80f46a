//! Output types learned from what tools return.
//!
//! Most MCP tools declare no output schema, so a program's reading of their results is a
//! guess the type checker cannot judge. This crate learns the guess away: every successful
//! result is reduced to its [`Shape`] (types only, never values), shapes of one tool merge
//! across calls (a field missing from some results becomes optional, different kinds a
//! union, arrays merge their elements, objects keyed by data become dictionaries), and a
//! [`ShapeStore`] keeps them in a small JSON file keyed by server, tool name and input
//! schema ([`ShapeKey`]). [`Shape::to_schema`] gives the JSON Schema the TypeScript
//! declarations are generated from.
//!
//! ```
//! use codemode_shapes::Shape;
//! use serde_json::json;
//!
//! let shape = Shape::of(&json!([{"name": "a.txt", "size": 12}]))
//!     .merge(Shape::of(&json!([{"name": "b", "kind": "dir"}])));
//! assert_eq!(shape.summary(), "{kind?, name, size?}[]");
//! ```

#![warn(missing_docs)]

use std::path::{Path, PathBuf};

mod shape;
mod store;

pub use shape::{MAX_DEPTH, MAX_PROPERTIES, Property, Shape};
pub use store::{LearnedShape, Observed, ShapeKey, ShapeStore};

/// The store's file name in the cache directory.
pub const STORE_FILE: &str = "learned-types.json";

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    /// Reading or writing the file failed.
    #[error("learned types at {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a store (it is left as it is; `codemode tools shapes --clear` removes it).
    #[error("learned types at {} cannot be read: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
}

impl ShapeError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where the store lives by default: [`STORE_FILE`] in `$CODEMODE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/codemode`, else `~/.cache/codemode`. `None` without a home.
pub fn default_store_path() -> Option<PathBuf> {
    let dir = std::env::var_os("CODEMODE_CACHE_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|d| !d.is_empty())
                .map(|d| PathBuf::from(d).join("codemode"))
        })
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/codemode")))?;
    Some(dir.join(STORE_FILE))
}
