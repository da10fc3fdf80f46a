//! `codemode tools list|search|show` and `codemode types`: the configured tools, without
//! models, run environment or checker.

use anyhow::Result;
use codemode::typescript::generate_declarations;
use codemode::{CatalogEntry, ToolCatalog};
use serde_json::json;

use crate::output::{out, outln, print_json, truncate};
use crate::setup::{self, Needs, Setup};
use crate::{Outcome, UsageError};

/// The configured tools' catalog.
async fn catalog(setup: &Setup) -> Result<std::sync::Arc<ToolCatalog>> {
    Ok(tools_only(setup).await?.catalog())
}

/// The configured tools, without models, run environment or checker.
pub(crate) async fn tools_only(setup: &Setup) -> Result<codemode::CodeMode> {
    setup::build(
        setup,
        Needs {
            llms: false,
            environment: false,
            checker: false,
            ask: false,
        },
    )
    .await
}

/// Whether `entry` is in namespace `ns` (its configured name or its path's first segment);
/// every entry when `ns` is `None`.
pub(crate) fn in_namespace(entry: &CatalogEntry, ns: Option<&str>) -> bool {
    ns.is_none_or(|ns| entry.namespace == ns || entry.path.split('.').next() == Some(ns))
}

pub(crate) async fn tools_list(setup: &Setup, namespace: Option<&str>, json: bool) -> Result<Outcome> {
    let catalog = catalog(setup).await?;
    let entries: Vec<_> = catalog.entries().filter(|e| in_namespace(e, namespace)).collect();
    if json {
        let list: Vec<_> = entries
            .iter()
            .map(|e| json!({"path": e.path, "name": e.spec.name, "namespace": e.namespace, "description": e.spec.description}))
            .collect();
        print_json(&list)?;
        return Ok(Outcome::Success);
    }
    if entries.is_empty() {
        eprintln!(
            "no tools: configure [mcp_servers.NAME] or [tool_providers.NAME] in codemode.toml, or pass --mcp-config FILE or --catalog FILE"
        );
    }
    let width = entries.iter().map(|e| e.path.len()).max().unwrap_or(0);
    for e in entries {
        outln!("{:<width$}  {}", e.path, truncate(first_line(e), 100));
    }
    Ok(Outcome::Success)
}

/// The first line of a tool's description, for one-line listings.
fn first_line(entry: &CatalogEntry) -> &str {
    entry
        .spec
        .description
        .as_deref()
        .and_then(|d| d.lines().next())
        .unwrap_or("")
}

pub(crate) async fn tools_search(setup: &Setup, text: &str, limit: usize, json: bool) -> Result<Outcome> {
    let catalog = catalog(setup).await?;
    let hits = catalog.search(text, limit);
    if json {
        let list: Vec<_> = hits
            .iter()
            .filter_map(|h| catalog.tool(&h.path).map(|e| (h, e)))
            .map(|(h, e)| json!({"path": h.path, "score": h.score, "name": e.spec.name, "description": e.spec.description}))
            .collect();
        print_json(&list)?;
        return Ok(Outcome::Success);
    }
    if hits.is_empty() {
        eprintln!(
            "none of the {} tools shares a word with `{text}` (stop words such as `the` and `get` do not count)",
            catalog.len()
        );
    }
    let width = hits.iter().map(|h| h.path.len()).max().unwrap_or(0);
    for h in &hits {
        let desc = catalog.tool(&h.path).map_or("", first_line);
        outln!("{:>6.2}  {:<width$}  {}", h.score, h.path, truncate(desc, 90));
    }
    Ok(Outcome::Success)
}

pub(crate) async fn tools_show(setup: &Setup, path: &str, json: bool) -> Result<Outcome> {
    let catalog = catalog(setup).await?;
    let entry = catalog
        .resolve(path)
        .ok_or_else(|| UsageError(format!("no tool `{path}`: `codemode tools list` shows the paths")))?;
    let declaration = generate_declarations(&[entry.signature()]).text;
    if json {
        print_json(&json!({
            "path": entry.path,
            "name": entry.spec.name,
            "namespace": entry.namespace,
            "description": entry.spec.description,
            "input_schema": entry.spec.input_schema,
            "output_schema": entry.spec.output_schema,
            "learned_output": entry.learned_output().map(|l| json!({"schema": l.schema, "calls": l.calls, "type": l.summary})),
            "annotations": entry.spec.annotations,
            "typescript": declaration,
        }))?;
        return Ok(Outcome::Success);
    }
    outln!("path:        tools.{}", entry.path);
    outln!("name:        {} (in `{}`)", entry.spec.name, entry.namespace);
    if let Some(d) = &entry.spec.description {
        outln!("description: {}", d.trim());
    }
    outln!(
        "\ninput schema:\n{}",
        serde_json::to_string_pretty(&entry.spec.input_schema)?
    );
    if let Some(o) = &entry.spec.output_schema {
        outln!("\noutput schema:\n{}", serde_json::to_string_pretty(o)?);
    }
    if let Some(learned) = entry.learned_output() {
        outln!(
            "\noutput type learned from {} results (the tool declares none): {}\n{}",
            learned.calls,
            learned.summary,
            serde_json::to_string_pretty(&learned.schema)?
        );
    }
    outln!("\nTypeScript:\n{declaration}");
    Ok(Outcome::Success)
}

pub(crate) async fn types(setup: &Setup, only: &[String]) -> Result<Outcome> {
    let catalog = catalog(setup).await?;
    let text = if only.is_empty() {
        catalog.declarations()
    } else {
        let mut paths = Vec::new();
        for p in only {
            let entry = catalog
                .resolve(p)
                .ok_or_else(|| UsageError(format!("no tool `{p}`: `codemode tools list` shows the paths")))?;
            paths.push(entry.path.clone());
        }
        catalog.subset(paths.iter().map(String::as_str)).declarations()
    };
    out!("{text}");
    Ok(Outcome::Success)
}
