//! `cargo xtask layout`: the shape of the code a newcomer reads. Fails when a Rust file
//! tracked by git has more than [`MAX_LINES`] lines, or when two modules of one crate use
//! each other (an import cycle: `crate::a` uses `crate::b` and `crate::b` uses `crate::a`,
//! directly or through others). A module using its parent or its child does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The most lines a source file may have.
pub const MAX_LINES: usize = 500;

/// A module: its path inside its crate (`["pipeline", "repair", "compile"]`; empty for the
/// crate root).
type Module = Vec<String>;

pub fn main(root: &Path) -> Result<()> {
    let files = tracked_rust_files(root)?;
    let mut problems = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(root.join(file)).with_context(|| format!("cannot read {}", file.display()))?;
        let lines = text.lines().count();
        if lines > MAX_LINES {
            problems.push(format!("{} has {lines} lines (at most {MAX_LINES})", file.display()));
        }
    }
    for src in crate_sources(&files) {
        for cycle in module_cycles(root, &src, &files)? {
            problems.push(format!(
                "import cycle in {}: these modules use each other: {}",
                src.display(),
                cycle.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        println!(
            "layout: {} Rust files, none over {MAX_LINES} lines; no import cycle between the modules of a crate",
            files.len()
        );
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    bail!("{} layout problems", problems.len())
}

fn tracked_rust_files(root: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard", "*.rs"])
        .current_dir(root)
        .output()
        .context("cannot run git ls-files")?;
    if !out.status.success() {
        bail!("git ls-files failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .filter(|p| root.join(p).is_file())
        .collect())
}

/// The `src` folders of the crates (those with a `lib.rs` or `main.rs`).
fn crate_sources(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    files
        .iter()
        .filter(|f| matches!(f.file_name().and_then(|n| n.to_str()), Some("lib.rs" | "main.rs")))
        .filter_map(|f| f.parent())
        .filter(|d| d.file_name().and_then(|n| n.to_str()) == Some("src"))
        .map(Path::to_path_buf)
        .collect()
}

/// The module a file of `src` is.
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    Some(parts)
}

/// The text a file's module is made of, without its `#[cfg(test)] mod tests { .. }` block
/// and its line comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The longest prefix of `path` that is a module of the crate.
fn resolve<'m>(modules: &'m BTreeSet<Module>, path: &[String]) -> Option<&'m Module> {
    (1..=path.len()).rev().find_map(|n| modules.get(&path[..n]))
}

/// Every `crate::`, `super::` and `self::` path in `code`, with the items of a `{..}` group.
fn paths(code: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start).map(|i| i + from) {
            from = i + start.len();
            if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':') {
                continue;
            }
            let kind = start.trim_end_matches("::").to_string();
            let rest = &code[from..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let segments: Vec<String> = rest[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if rest[end..].starts_with('{') && rest[..end].ends_with("::") || (end == 0 && rest.starts_with('{')) {
                let group = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |j| end + j)];
                for item in group.split(',') {
                    let mut full = segments.clone();
                    full.extend(
                        item.trim()
                            .split("::")
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')),
                    );
                    found.push((kind.clone(), full));
                }
            } else {
                found.push((kind, segments));
            }
        }
    }
    found
}

/// The import cycles between the modules of the crate in `src`, each as a list of module
/// paths.
fn module_cycles(root: &Path, src: &Path, files: &[PathBuf]) -> Result<Vec<Vec<String>>> {
    let mut sources: BTreeMap<Module, PathBuf> = BTreeMap::new();
    for file in files.iter().filter(|f| f.starts_with(src)) {
        if let Some(module) = module_of(src, file) {
            sources.insert(module, file.clone());
        }
    }
    let modules: BTreeSet<Module> = sources.keys().cloned().collect();
    let mut edges_between: Vec<(Module, Module)> = Vec::new();
    for (module, file) in &sources {
        let text = std::fs::read_to_string(root.join(file))?;
        for (kind, segments) in paths(&code(&text)) {
            let base: Module = match kind.as_str() {
                "crate" => Vec::new(),
                "self" => module.clone(),
                _ => module[..module.len().saturating_sub(1)].to_vec(),
            };
            let path: Vec<String> = base.into_iter().chain(segments).collect();
            let Some(target) = resolve(&modules, &path) else {
                continue;
            };
            // A module and its ancestors or descendants belong together; otherwise the edge
            // joins the two subtrees under their common ancestor (`a::x` using `b::y` is `a`
            // using `b`).
            if target.starts_with(module) || module.starts_with(target) {
                continue;
            }
            let common = module.iter().zip(target.iter()).take_while(|(a, b)| a == b).count();
            edges_between.push((module[..=common].to_vec(), target[..=common].to_vec()));
        }
    }
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, to) in edges_between {
        edges.entry(to.clone()).or_default();
        edges.entry(from).or_default().insert(to);
    }
    Ok(strongly_connected(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            c.iter()
                .map(|m| {
                    if m.is_empty() {
                        "crate".to_string()
                    } else {
                        m.join("::")
                    }
                })
                .collect()
        })
        .collect())
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'e> {
        edges: &'e BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'e Module, usize>,
        low: BTreeMap<&'e Module, usize>,
        stack: Vec<&'e Module>,
        on_stack: BTreeSet<&'e Module>,
        components: Vec<Vec<Module>>,
    }
    fn visit<'e>(s: &mut State<'e>, v: &'e Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.components.push(component);
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(path: &str) -> Module {
        path.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect()
    }

    #[test]
    fn paths_are_read_with_their_groups() {
        let found = paths("use crate::a::b::C;\nuse super::{x, y::Z};\nlet v = self::w::f();\nfoo::crate::no;");
        assert!(found.contains(&("crate".into(), m("a::b::C"))), "{found:?}");
        assert!(found.contains(&("super".into(), m("x"))), "{found:?}");
        assert!(found.contains(&("super".into(), m("y::Z"))), "{found:?}");
        assert!(found.contains(&("self".into(), m("w::f"))), "{found:?}");
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn a_cycle_is_found_and_parents_and_children_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("a")).unwrap();
        let write = |p: &str, t: &str| std::fs::write(src.join(p), t).unwrap();
        write("lib.rs", "mod a; mod b; mod c;\nuse crate::a::A;");
        write("a/mod.rs", "mod inner;\nuse crate::b::B;\nuse self::inner::I;");
        write("a/inner.rs", "use super::A;\nuse crate::c::C;");
        write("b.rs", "use crate::a::inner::I;");
        write("c.rs", "pub struct C;");
        let files: Vec<PathBuf> = ["lib.rs", "a/mod.rs", "a/inner.rs", "b.rs", "c.rs"]
            .iter()
            .map(|f| PathBuf::from("src").join(f))
            .collect();
        let cycles = module_cycles(dir.path(), Path::new("src"), &files).unwrap();
        // a uses b, b uses a's child: a cycle between the subtrees a and b; c is only used.
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert!(cycles[0].contains(&"b".to_string()), "{cycles:?}");
        assert!(!cycles[0].contains(&"c".to_string()), "{cycles:?}");
        write("b.rs", "pub struct B;");
        assert!(module_cycles(dir.path(), Path::new("src"), &files).unwrap().is_empty());
    }
}
