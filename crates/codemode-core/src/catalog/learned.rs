//! Output types learned from what tools return ([`LearnedTypes`]), for tools that declare
//! none. The shapes themselves are `codemode-shapes`; this is where runs feed them and
//! catalogs read them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use codemode_shapes::Observed;
use serde_json::Value;

use crate::catalog::ToolCatalog;
use codemode_traits::ToolCallRecord;

pub use codemode_shapes::{LearnedShape, Shape, ShapeError, ShapeKey, ShapeStore, default_store_path};

/// The output type a tool was given from its results: the JSON Schema the declarations are
/// generated from, how many results it was learned from, and a one-line summary.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedOutput {
    /// JSON Schema of the results seen.
    pub schema: Value,
    /// How many results it was learned from.
    pub calls: u64,
    /// A short TypeScript-like summary (`{name, size?}[]`).
    pub summary: String,
}

impl LearnedOutput {
    fn from_shape(learned: &LearnedShape) -> Self {
        Self {
            schema: learned.shape.to_schema(),
            calls: learned.calls,
            summary: learned.shape.summary(),
        }
    }
}

/// Learned output types shared by the runs of a [`crate::CodeMode`]: every successful
/// call's result is merged into its tool's shape (when learning), and catalogs get the
/// shapes as output types of the tools that declare none (when applying).
///
/// ```
/// use codemode_core::learned::LearnedTypes;
/// use codemode_shapes::ShapeStore;
///
/// // Learn from every run, and type the tools with what was learned, in memory only.
/// let learned = LearnedTypes::new(ShapeStore::in_memory());
/// assert!(learned.applies() && learned.learns());
/// ```
#[derive(Debug)]
pub struct LearnedTypes {
    store: Mutex<ShapeStore>,
    apply: bool,
    learn: bool,
    /// Bumped whenever a type changes, so catalogs typed with an older one are redone.
    generation: AtomicU64,
}

impl LearnedTypes {
    /// Learns from runs and applies what it learned.
    pub fn new(store: ShapeStore) -> Self {
        Self {
            store: Mutex::new(store),
            apply: true,
            learn: true,
            generation: AtomicU64::new(0),
        }
    }

    /// The same, applying learned types to catalogs or not (`false`: learn only, e.g. to
    /// measure a cold run while recording its shapes).
    pub fn applying(mut self, apply: bool) -> Self {
        self.apply = apply;
        self
    }

    /// The same, learning from runs or not (`false`: use a fixed set of shapes).
    pub fn learning(mut self, learn: bool) -> Self {
        self.learn = learn;
        self
    }

    /// Whether catalogs get the learned types.
    pub fn applies(&self) -> bool {
        self.apply
    }

    /// Whether runs add to them.
    pub fn learns(&self) -> bool {
        self.learn
    }

    /// Changes whenever a learned type changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Every learned shape, by namespace and tool.
    pub fn entries(&self) -> Vec<LearnedShape> {
        self.store
            .lock()
            .map(|s| s.entries().into_iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Merges the successful results of `calls` into their tools' shapes and saves the
    /// store. Left out: tools that declare an output schema, results that read like an
    /// error (servers that report failures as text), calls answered from a record.
    /// Returns how many tools' types changed.
    pub fn observe(&self, catalog: &ToolCatalog, calls: &[ToolCallRecord]) -> usize {
        if !self.learn {
            return 0;
        }
        let Ok(mut store) = self.store.lock() else {
            return 0;
        };
        let mut changed = 0;
        for call in calls {
            let (Some(result), false, false) = (&call.result, call.looks_like_error, call.replayed) else {
                continue;
            };
            let Some(entry) = catalog.tool(&call.path) else {
                continue;
            };
            if entry.spec.output_schema.is_some() {
                continue;
            }
            match store.observe(&entry.shape_key(), &entry.namespace, &entry.spec.name, result) {
                Observed::Fitted => {}
                Observed::New => changed += 1,
                Observed::Widened => {
                    tracing::info!(path = %call.path, "a result did not fit the learned type; it was widened");
                    changed += 1;
                }
            }
        }
        if changed > 0 {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        if let Err(e) = store.save() {
            tracing::warn!(error = %e, "learned types are not saved");
        }
        changed
    }

    /// `catalog` with the learned output types of the tools that declare none (unchanged
    /// when not applying).
    pub fn apply_to(&self, catalog: &ToolCatalog) -> ToolCatalog {
        if !self.apply {
            return catalog.clone();
        }
        let Ok(store) = self.store.lock() else {
            return catalog.clone();
        };
        catalog.with_learned_outputs(|entry| store.get(&entry.shape_key()).map(LearnedOutput::from_shape))
    }

    /// Forgets every learned type and removes the store's file.
    pub fn clear(&self) -> Result<(), ShapeError> {
        let Ok(mut store) = self.store.lock() else {
            return Ok(());
        };
        store.clear();
        self.generation.fetch_add(1, Ordering::SeqCst);
        store.save()
    }
}
