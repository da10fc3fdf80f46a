//! Tool search: ranks a catalog's tools for a text (a request, a plan), so the filter step
//! asks the tiny model about the best candidates instead of the whole catalog.
//!
//! [`ToolIndex`] is the boundary; [`Bm25Index`] (lexical BM25F over name, namespace,
//! description and parameters) is the signal built in. A [`ToolCatalog`](crate::ToolCatalog)
//! owns one and rebuilds it when its tools change.

mod bm25;
mod text;

pub use bm25::Bm25Index;

/// One ranked tool.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchHit {
    /// The tool's path in the catalog.
    pub path: String,
    /// How well it matches; higher is better, comparable only within one search.
    pub score: f64,
}

/// Ranks tools for a text.
pub trait ToolIndex: Send + Sync {
    /// The best `limit` tools for `text`, best first. Tools that share no term with the
    /// text are not returned, so there may be fewer.
    fn search(&self, text: &str, limit: usize) -> Vec<SearchHit>;
}
