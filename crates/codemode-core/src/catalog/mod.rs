//! The `ToolCatalog`: every tool of every provider under one hierarchical namespace.

pub mod learned;
pub mod search;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use codemode_typescript::ToolSignature;
use codemode_typescript::ident::sanitize_identifier;
use serde::Deserialize;
use serde_json::Value;

use crate::catalog::learned::{LearnedOutput, ShapeKey};
use crate::catalog::search::{Bm25Index, SearchHit, ToolIndex};
use codemode_traits::{CodeModeError, StaticToolProvider, ToolAnnotations, ToolError, ToolProvider, ToolSpec};

/// One tool in the catalog.
#[derive(Clone)]
pub struct CatalogEntry {
    /// The path under `tools`, e.g. `slack.send_message`: a valid TypeScript member chain.
    pub path: String,
    /// The namespace (provider name as configured).
    pub namespace: String,
    /// The tool as its provider describes it; `spec.name` is the real name for calls.
    pub spec: ToolSpec,
    provider: Arc<dyn ToolProvider>,
    /// The input schema compiled for validation, on first use (`None`: not usable).
    validator: Arc<OnceLock<Option<jsonschema::Validator>>>,
    /// The output type learned from the tool's results, when it declares none.
    learned_output: Option<Arc<LearnedOutput>>,
}

impl std::fmt::Debug for CatalogEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogEntry")
            .field("path", &self.path)
            .field("namespace", &self.namespace)
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}

impl CatalogEntry {
    /// The provider that serves this tool.
    pub fn provider(&self) -> &Arc<dyn ToolProvider> {
        &self.provider
    }

    /// Checks arguments against the input schema (formats and remote `$ref`s are not
    /// checked; a schema that cannot be compiled validates nothing). `null` counts as `{}`.
    /// The error lists up to three problems with their JSON paths.
    pub fn validate_arguments(&self, arguments: &Value) -> Result<(), String> {
        let validator = self.validator.get_or_init(|| {
            match jsonschema::options().should_validate_formats(false).build(&self.spec.input_schema) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::debug!(path = %self.path, error = %e, "the input schema cannot be compiled; arguments are not validated");
                    None
                }
            }
        });
        let Some(validator) = validator else { return Ok(()) };
        let empty = Value::Object(serde_json::Map::new());
        let instance = if arguments.is_null() { &empty } else { arguments };
        let problems: Vec<String> = validator
            .iter_errors(instance)
            .take(3)
            .map(|e| {
                let path = e.instance_path().to_string();
                if path.is_empty() {
                    e.to_string()
                } else {
                    format!("at {path}: {e}")
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// One line for a model choosing tools: `path(arg, ...)`, then `: description` (white
    /// space folded, cut at `description_chars` characters; none when 0 or undescribed).
    pub fn brief(&self, description_chars: usize) -> String {
        let args: Vec<&str> = self
            .spec
            .input_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut line = format!("{}({})", self.path, args.join(", "));
        let description: String = self
            .spec
            .description
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(description_chars)
            .collect();
        if !description.is_empty() {
            line.push_str(": ");
            line.push_str(&description);
        }
        line
    }

    /// Whether the tool says it changes nothing (annotation `readOnlyHint: true`; no
    /// annotation counts as not read-only).
    pub fn is_read_only(&self) -> bool {
        self.spec.annotations.as_ref().is_some_and(ToolAnnotations::read_only)
    }

    /// The tool as the TypeScript generator and checker see it: its declared output
    /// schema, else the one learned from its results.
    pub fn signature(&self) -> ToolSignature<'_> {
        let learned = self.learned_output();
        ToolSignature {
            path: &self.path,
            description: self.spec.description.as_deref(),
            input_schema: &self.spec.input_schema,
            output_schema: self.spec.output_schema.as_ref().or(learned.map(|l| &l.schema)),
            output_learned_from: learned.map(|l| l.calls),
        }
    }

    /// The output type learned from the tool's results; `None` when the tool declares one
    /// or nothing was learned.
    pub fn learned_output(&self) -> Option<&LearnedOutput> {
        match &self.spec.output_schema {
            Some(_) => None,
            None => self.learned_output.as_deref(),
        }
    }

    /// What the tool's learned shape is kept under: its server's identity (the namespace
    /// when the provider gives none), its name and its input schema.
    pub fn shape_key(&self) -> ShapeKey {
        let server = self.provider.identity().unwrap_or_else(|| self.namespace.clone());
        ShapeKey::new(&server, &self.spec.name, &self.spec.input_schema)
    }
}

/// A provider that failed while the catalog was being built.
#[derive(Debug, Clone)]
pub struct ProviderFailure {
    /// The namespace it was registered under.
    pub namespace: String,
    /// What went wrong.
    pub error: ToolError,
}

/// Summary of one namespace, as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceSummary {
    /// Namespace name (the first path segment).
    pub name: String,
    /// Number of tools in it.
    pub tool_count: usize,
    /// Up to a few tool names, in path order.
    pub sample_tools: Vec<String>,
}

/// Every tool of every provider, by path. Paths are `namespace.tool`, both segments
/// sanitized into identifiers; the real tool name is kept in the entry.
#[derive(Clone, Default, Debug)]
pub struct ToolCatalog {
    entries: BTreeMap<String, CatalogEntry>,
    index: IndexCell,
}

/// The catalog's search index, built on first use; a catalog whose tools change gets a new,
/// empty cell. Clones of an unchanged catalog share it.
#[derive(Clone, Default)]
struct IndexCell(Arc<OnceLock<Bm25Index>>);

impl std::fmt::Debug for IndexCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.get() {
            Some(index) => write!(f, "Bm25Index({} tools, {} terms)", index.len(), index.term_count()),
            None => f.write_str("not built"),
        }
    }
}

impl ToolCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the tools of `provider` under `namespace`. Names that sanitize to the same
    /// identifier get `_2`, `_3`, ... in the order the provider listed them.
    pub fn add_tools(&mut self, namespace: &str, provider: Arc<dyn ToolProvider>, tools: Vec<ToolSpec>) {
        self.index = IndexCell::default();
        let ns = sanitize_identifier(namespace);
        // Only this namespace's paths: a range of the sorted map, so adding many namespaces
        // stays linear (a scan of every path per namespace took minutes at 100,000 tools).
        let prefix = format!("{ns}.");
        let mut taken: BTreeSet<String> = self
            .entries
            .range(prefix.clone()..)
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(&prefix))
            .map(|p| p[prefix.len()..].to_string())
            .collect();
        for spec in tools {
            let base = sanitize_identifier(&spec.name);
            let mut segment = base.clone();
            let mut n = 2;
            while !taken.insert(segment.clone()) {
                segment = format!("{base}_{n}");
                n += 1;
            }
            let path = format!("{ns}.{segment}");
            self.entries.insert(
                path.clone(),
                CatalogEntry {
                    path,
                    namespace: namespace.to_string(),
                    spec,
                    provider: provider.clone(),
                    validator: Arc::new(OnceLock::new()),
                    learned_output: None,
                },
            );
        }
    }

    /// Lists every provider (concurrently) and builds a catalog. A provider that fails is
    /// reported and left out; the others are kept.
    pub async fn from_providers(providers: Vec<(String, Arc<dyn ToolProvider>)>) -> (Self, Vec<ProviderFailure>) {
        let listed = futures::future::join_all(providers.into_iter().map(|(ns, p)| async move {
            let result = p.list_tools().await;
            (ns, p, result)
        }))
        .await;
        let mut catalog = Self::new();
        let mut failures = Vec::new();
        for (namespace, provider, result) in listed {
            match result {
                Ok(tools) => catalog.add_tools(&namespace, provider, tools),
                Err(error) => {
                    tracing::warn!(%namespace, %error, "tool provider failed to list its tools");
                    failures.push(ProviderFailure { namespace, error });
                }
            }
        }
        (catalog, failures)
    }

    /// Reads a static catalog: a JSON object mapping namespace to an MCP `tools/list`
    /// result (`{"tools": [...]}`). Its tools can be typed and checked, not called.
    pub fn from_static_json(text: &str) -> Result<Self, CodeModeError> {
        #[derive(Deserialize)]
        struct ToolsList {
            tools: Vec<ToolSpec>,
        }
        let parsed: BTreeMap<String, ToolsList> = serde_json::from_str(text).map_err(|e| {
            CodeModeError::Config(format!(
                "a static catalog must be a JSON object mapping namespace to {{\"tools\": [...]}}: {e}"
            ))
        })?;
        let mut catalog = Self::new();
        for (ns, list) in parsed {
            let provider: Arc<dyn ToolProvider> = Arc::new(StaticToolProvider::new(list.tools.clone()));
            catalog.add_tools(&ns, provider, list.tools);
        }
        Ok(catalog)
    }

    /// Merges another catalog into this one (entries of `other` win on equal paths).
    pub fn merge(&mut self, other: ToolCatalog) {
        self.index = IndexCell::default();
        self.entries.extend(other.entries);
    }

    /// The search index over these tools: built on first use (about 15 ms for 1,000 tools
    /// in a release build; `cargo xtask bench` measures it), then kept until the tools
    /// change. Call it once after building a catalog to build the index ahead of the first
    /// search.
    pub fn search_index(&self) -> &Bm25Index {
        self.index.0.get_or_init(|| Bm25Index::build(self.entries.values()))
    }

    /// The `limit` tools that best match `text` (a request, a plan, keywords), best first;
    /// tools that share no word with it are left out.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use codemode_core::{StaticToolProvider, ToolCatalog, ToolSpec};
    /// # use serde_json::json;
    /// let mut catalog = ToolCatalog::new();
    /// let provider = Arc::new(StaticToolProvider::default());
    /// catalog.add_tools("mail", provider.clone(), vec![
    ///     ToolSpec::new("send_email", "Sends an email to one recipient", json!({})),
    ///     ToolSpec::new("list_inbox", "Lists the messages in the inbox", json!({})),
    /// ]);
    /// catalog.add_tools("weather", provider, vec![
    ///     ToolSpec::new("get_forecast", "Weather forecast for a city", json!({})),
    /// ]);
    /// let hits = catalog.search("email the forecast to Ana", 2);
    /// assert_eq!(hits.len(), 2);
    /// assert!(hits.iter().any(|h| h.path == "mail.send_email"));
    /// assert!(hits.iter().any(|h| h.path == "weather.get_forecast"));
    /// ```
    pub fn search(&self, text: &str, limit: usize) -> Vec<SearchHit> {
        self.search_index().search(text, limit)
    }

    /// All paths, sorted.
    pub fn tool_paths(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// One tool by path.
    pub fn tool(&self, path: &str) -> Option<&CatalogEntry> {
        self.entries.get(path)
    }

    /// All entries in path order.
    pub fn entries(&self) -> impl Iterator<Item = &CatalogEntry> {
        self.entries.values()
    }

    /// Number of tools.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the catalog has no tools.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Finds a tool by path, by its provider name, or by its last path segment.
    pub fn resolve(&self, name: &str) -> Option<&CatalogEntry> {
        let name = name.trim().trim_start_matches("tools.");
        self.entries.get(name).or_else(|| {
            let mut matches = self
                .entries
                .values()
                .filter(|e| e.spec.name == name || e.path.rsplit('.').next() == Some(name));
            let first = matches.next()?;
            matches.next().is_none().then_some(first)
        })
    }

    /// A catalog with only the given paths (unknown paths are ignored).
    pub fn subset<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> ToolCatalog {
        let entries = paths
            .into_iter()
            .filter_map(|p| self.entries.get(p).map(|e| (p.to_string(), e.clone())))
            .collect();
        ToolCatalog {
            entries,
            index: IndexCell::default(),
        }
    }

    /// The same tools, each with the output type `learned` gives it (tools that declare an
    /// output schema keep it). The search index is shared: learned types do not change it.
    pub fn with_learned_outputs(&self, learned: impl Fn(&CatalogEntry) -> Option<LearnedOutput>) -> ToolCatalog {
        let entries = self
            .entries
            .iter()
            .map(|(path, entry)| {
                let mut entry = entry.clone();
                if entry.spec.output_schema.is_none() {
                    entry.learned_output = learned(&entry).map(Arc::new);
                }
                (path.clone(), entry)
            })
            .collect();
        ToolCatalog {
            entries,
            index: self.index.clone(),
        }
    }

    /// True when a tool has a learned output type.
    pub fn has_learned_outputs(&self) -> bool {
        self.entries.values().any(|e| e.learned_output().is_some())
    }

    /// The same tools as they declare themselves, without learned output types.
    pub fn without_learned_outputs(&self) -> ToolCatalog {
        self.with_learned_outputs(|_| None)
    }

    /// Signatures for TypeScript generation and checking.
    pub fn signatures(&self) -> Vec<ToolSignature<'_>> {
        self.entries.values().map(CatalogEntry::signature).collect()
    }

    /// Per-namespace counts and sample names, for the planner.
    pub fn namespace_summaries(&self, samples: usize) -> Vec<NamespaceSummary> {
        let mut out: BTreeMap<&str, NamespaceSummary> = BTreeMap::new();
        for path in self.entries.keys() {
            let (ns, tool) = path.split_once('.').unwrap_or((path.as_str(), ""));
            let entry = out.entry(ns).or_insert_with(|| NamespaceSummary {
                name: ns.to_string(),
                tool_count: 0,
                sample_tools: Vec::new(),
            });
            entry.tool_count += 1;
            if entry.sample_tools.len() < samples {
                entry.sample_tools.push(tool.to_string());
            }
        }
        out.into_values().collect()
    }

    /// The TypeScript declarations of every tool in this catalog.
    pub fn declarations(&self) -> String {
        codemode_typescript::generate_declarations(&self.signatures()).text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_sanitized_and_unique() {
        let mut c = ToolCatalog::new();
        let p: Arc<dyn ToolProvider> = Arc::new(StaticToolProvider::default());
        c.add_tools(
            "bing-cn-mcp",
            p.clone(),
            vec![
                ToolSpec::new("search-web", "a", json!({})),
                ToolSpec::new("search_web", "b", json!({})),
                ToolSpec::new("delete", "c", json!({})),
            ],
        );
        assert_eq!(
            c.tool_paths(),
            vec![
                "bing_cn_mcp.delete_",
                "bing_cn_mcp.search_web",
                "bing_cn_mcp.search_web_2"
            ]
        );
        assert_eq!(
            c.tool("bing_cn_mcp.search_web_2").map(|e| e.spec.name.as_str()),
            Some("search_web")
        );
        assert_eq!(
            c.resolve("search-web").map(|e| e.path.as_str()),
            Some("bing_cn_mcp.search_web")
        );
    }

    #[test]
    fn static_catalog() {
        let c = ToolCatalog::from_static_json(
            r#"{"fs": {"tools": [{"name": "read_file", "inputSchema": {"type": "object"}}]}}"#,
        )
        .unwrap();
        assert_eq!(c.tool_paths(), vec!["fs.read_file"]);
        assert!(ToolCatalog::from_static_json("[]").is_err());
        let s = c.namespace_summaries(3);
        assert_eq!(s[0].tool_count, 1);
    }
}
