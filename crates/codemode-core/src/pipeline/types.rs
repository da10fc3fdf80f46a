//! Step 3, **types**: the chosen tools' JSON Schemas become TypeScript declarations; and
//! the check's second chance, which declares the tools a program called that the filter
//! left out.

use std::collections::BTreeSet;

use codemode_typescript::tool_calls;

use crate::catalog::ToolCatalog;
use crate::prompts;

/// At most this many catalog tools are offered for one called path the catalog lacks.
const MATCHES_PER_UNKNOWN_PATH: usize = 3;
/// At most this many tools are declared by one second chance.
const MAX_DECLARED_AT_ONCE: usize = 8;

/// The tools a program may call and their declarations.
pub(super) struct Typed {
    /// The chosen tools (a subset of the run's catalog).
    pub tools: ToolCatalog,
    /// Their TypeScript declarations.
    pub declarations: String,
}

impl Typed {
    /// The step's detail for the report: `42 lines`.
    pub(crate) fn detail(&self) -> String {
        format!("{} lines", self.declarations.lines().count())
    }

    /// The second chance: the tools `code` calls that are not declared, looked up in the
    /// run's `catalog` and declared. A path the catalog has is declared as it is; for a path
    /// it lacks, the tool the name surely means (the same name but for `-` and `_` or case,
    /// or the one tool with that last segment), else the catalog's best search matches for
    /// the name's words. A path is looked up once per run (`looked_up`), so a program that
    /// keeps calling a name the catalog lacks does not keep growing the declarations.
    /// `None` when nothing was declared.
    pub(crate) fn declare_called(
        &mut self,
        catalog: &ToolCatalog,
        code: &str,
        looked_up: &mut BTreeSet<String>,
    ) -> Option<DeclaredCalls> {
        let mut called = Vec::new();
        for call in tool_calls(code) {
            if self.tools.tool(&call.path).is_none()
                && !called.contains(&call.path)
                && looked_up.insert(call.path.clone())
            {
                called.push(call.path);
            }
        }
        let mut declared: Vec<String> = Vec::new();
        let mut unknown = Vec::new();
        for path in &called {
            let room = MAX_DECLARED_AT_ONCE.saturating_sub(declared.len());
            if room == 0 {
                break;
            }
            if catalog.tool(path).is_some() {
                declared.push(path.clone());
                continue;
            }
            let matches: Vec<String> = match meant_tool(catalog, path) {
                Some(meant) => vec![meant],
                None => catalog
                    .search(&name_words(path), room + MATCHES_PER_UNKNOWN_PATH)
                    .into_iter()
                    .map(|hit| hit.path)
                    .collect(),
            };
            let before = declared.len();
            for found in matches {
                if declared.len() - before == MATCHES_PER_UNKNOWN_PATH.min(room) {
                    break;
                }
                if self.tools.tool(&found).is_none() && !declared.contains(&found) {
                    declared.push(found);
                }
            }
            if declared.len() > before {
                unknown.push(path.clone());
            }
        }
        if declared.is_empty() {
            return None;
        }
        tracing::info!(?called, ?declared, "the program calls undeclared tools; declaring them");
        let all: Vec<String> = self
            .tools
            .tool_paths()
            .into_iter()
            .chain(declared.iter().cloned())
            .collect();
        *self = types(catalog, all.iter().map(String::as_str));
        Some(DeclaredCalls {
            called,
            declared,
            unknown,
        })
    }
}

/// What one second chance declared.
pub(super) struct DeclaredCalls {
    /// The called paths that were not declared.
    pub called: Vec<String>,
    /// The catalog tools declared for them.
    pub declared: Vec<String>,
    /// Called paths the catalog does not have (their matches were declared instead): the
    /// program must change to call one of them.
    pub unknown: Vec<String>,
}

impl DeclaredCalls {
    /// Both second chances, as one (for a repair that shows what both declared).
    pub(crate) fn and(mut self, later: DeclaredCalls) -> DeclaredCalls {
        self.called.extend(later.called);
        self.declared.extend(later.declared);
        self.unknown.extend(later.unknown);
        self
    }

    /// What the repair prompt says about them: the called paths, the declarations of the
    /// tools declared for them (from `catalog`), and a line per path the catalog lacks.
    pub(crate) fn note(&self, catalog: &ToolCatalog) -> String {
        let called: Vec<String> = self.called.iter().map(|p| format!("`tools.{p}`")).collect();
        let declared = catalog.subset(self.declared.iter().map(String::as_str));
        let declarations = declared.declarations();
        let mut note = prompts::render(
            prompts::REPAIR_DECLARED_TOOLS,
            &[
                ("called", &called.join(", ")),
                ("declarations", declarations.trim_end()),
            ],
        );
        for path in &self.unknown {
            note.push_str(&prompts::render(prompts::REPAIR_UNKNOWN_TOOL, &[("path", path)]));
        }
        note.trim_end().to_string()
    }
}

/// The one catalog tool a path the catalog lacks surely means: the same path but for case
/// and `-` against `_`, or the only tool whose name is the path's last segment.
fn meant_tool(catalog: &ToolCatalog, path: &str) -> Option<String> {
    let folded = |p: &str| p.to_lowercase().replace('-', "_");
    let wanted = folded(path);
    catalog
        .entries()
        .find(|e| folded(&e.path) == wanted)
        .or_else(|| catalog.resolve(path.rsplit('.').next().unwrap_or(path)))
        .map(|e| e.path.clone())
}

/// The words of a tool path, for the search: `gitHub.search_repos` -> `git Hub search repos`.
fn name_words(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    let mut previous_lower = false;
    for c in path.chars() {
        if matches!(c, '.' | '_' | '-') {
            out.push(' ');
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            out.push(' ');
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        out.push(c);
    }
    out
}

/// Declarations for the tools of `catalog` at `paths`.
pub(super) fn types<'a>(catalog: &ToolCatalog, paths: impl IntoIterator<Item = &'a str>) -> Typed {
    let tools = catalog.subset(paths);
    let declarations = tools.declarations();
    Typed { tools, declarations }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::{StaticToolProvider, ToolSpec};

    fn catalog() -> ToolCatalog {
        let mut catalog = ToolCatalog::new();
        let provider = Arc::new(StaticToolProvider::default());
        catalog.add_tools(
            "files",
            provider.clone(),
            vec![
                ToolSpec::new("read_file", "Reads a text file", json!({})),
                ToolSpec::new("list-directory", "Lists the entries of a directory", json!({})),
            ],
        );
        catalog.add_tools(
            "web",
            provider,
            vec![
                ToolSpec::new(
                    "fetch_page",
                    "Fetches a web page by URL and returns its text",
                    json!({}),
                ),
                ToolSpec::new("search_web", "Searches the web for pages", json!({})),
            ],
        );
        catalog
    }

    #[test]
    fn a_catalog_tool_the_filter_left_out_is_declared_as_called() {
        let catalog = catalog();
        let mut typed = types(&catalog, ["files.read_file"]);
        let mut looked_up = BTreeSet::new();
        let code = "const t = await tools.files.read_file({});\nawait tools.web.fetch_page({ url: t });";
        let declared = typed.declare_called(&catalog, code, &mut looked_up).expect("declared");
        assert_eq!(declared.called, ["web.fetch_page"]);
        assert_eq!(declared.declared, ["web.fetch_page"]);
        assert!(declared.unknown.is_empty());
        assert_eq!(typed.tools.tool_paths(), ["files.read_file", "web.fetch_page"]);
        assert!(typed.declarations.contains("fetch_page("), "{}", typed.declarations);
        let note = declared.note(&catalog);
        assert!(note.contains("(`tools.web.fetch_page`)"), "{note}");
        assert!(note.contains("fetch_page(") && !note.contains("read_file("), "{note}");
        assert!(!note.contains("There is no tool"), "{note}");
        // Once declared, nothing is left to look up.
        assert!(typed.declare_called(&catalog, code, &mut looked_up).is_none());
    }

    #[test]
    fn a_tool_is_called_by_its_sanitized_path() {
        // `list-directory` is the tool's own name; its path in the catalog is `list_directory`.
        let catalog = catalog();
        let mut typed = types(&catalog, ["files.read_file"]);
        let declared = typed
            .declare_called(&catalog, "await tools.files.list_directory({});", &mut BTreeSet::new())
            .expect("declared");
        assert_eq!(declared.declared, ["files.list_directory"]);
        assert!(declared.unknown.is_empty());
    }

    #[test]
    fn a_path_the_catalog_lacks_gets_the_tool_it_means_or_the_best_matches() {
        let catalog = catalog();
        let mut typed = types(&catalog, ["files.read_file"]);
        let mut looked_up = BTreeSet::new();
        // The same path but for case: the tool it means, alone.
        let declared = typed
            .declare_called(&catalog, "await tools.web.Fetch_Page({});", &mut looked_up)
            .expect("declared");
        assert_eq!(declared.declared, ["web.fetch_page"]);
        assert_eq!(declared.unknown, ["web.Fetch_Page"]);
        // A name of its own: the search's matches for its words.
        let declared = typed
            .declare_called(&catalog, "await tools.internet.searchPages({});", &mut looked_up)
            .expect("declared");
        assert_eq!(declared.declared.first().map(String::as_str), Some("web.search_web"));
        assert_eq!(declared.unknown, ["internet.searchPages"]);
        let note = declared.note(&catalog);
        assert!(
            note.ends_with(
                "There is no tool `tools.internet.searchPages`: call one of the tools declared above instead."
            ),
            "{note}"
        );
        // Asked again for the same name, it is not looked up again.
        assert!(
            typed
                .declare_called(&catalog, "await tools.internet.searchPages({});", &mut looked_up)
                .is_none()
        );
        // A name sharing no word with any tool declares nothing.
        assert!(
            typed
                .declare_called(&catalog, "await tools.zz.qq({});", &mut looked_up)
                .is_none()
        );
    }

    #[test]
    fn path_words_split_at_separators_and_case() {
        assert_eq!(name_words("gitHub.search_repos-v2"), "git Hub search repos v2");
        assert_eq!(name_words("web.fetchURL"), "web fetch URL");
    }
}
