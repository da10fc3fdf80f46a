//! `codemode tools shapes` and `codemode tools learn`: the output types learned from tool
//! results.

use std::time::{Duration, Instant};

use anyhow::Result;
use codemode::learned::ShapeStore;
use codemode::{ApprovalPolicy, CatalogEntry, ToolCallRecord, reads_like_an_error};
use serde_json::{Value, json};

use crate::output::outln;
use crate::setup::{self, Setup};
use crate::{Outcome, UsageError};

/// Shows the learned output types, or forgets them with `clear`.
pub async fn shapes(setup: &Setup, clear: bool, json: bool) -> Result<Outcome> {
    let Some(path) = setup::learned_types_file(setup) else {
        eprintln!(
            "learned output types are off: [run] learned_types = true (or CODEMODE_LEARNED_TYPES=on) turns them on"
        );
        return Ok(Outcome::Success);
    };
    let mut store = match ShapeStore::open(&path) {
        Ok(store) => store,
        Err(e) if clear => {
            std::fs::remove_file(&path).map_err(|r| UsageError(format!("{e}; removing it failed: {r}")))?;
            outln!("removed {}, which could not be read ({e})", path.display());
            return Ok(Outcome::Success);
        }
        Err(e) => return Err(UsageError(format!("{e} (`codemode tools shapes --clear` removes it)")).into()),
    };
    if clear {
        let forgotten = store.len();
        store.clear();
        store.save()?;
        outln!("forgot {forgotten} learned output types ({})", path.display());
        return Ok(Outcome::Success);
    }
    let entries = store.entries();
    if json {
        let list: Vec<Value> = entries
            .iter()
            .map(|e| {
                json!({
                    "namespace": e.namespace,
                    "tool": e.tool,
                    "calls": e.calls,
                    "type": e.shape.summary(),
                    "schema": e.shape.to_schema(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"file": path, "tools": list}))?
        );
        return Ok(Outcome::Success);
    }
    if entries.is_empty() {
        eprintln!(
            "no learned output types yet in {}: runs learn them from tool results, or `codemode tools learn`",
            path.display()
        );
        return Ok(Outcome::Success);
    }
    let names: Vec<String> = entries.iter().map(|e| format!("{}.{}", e.namespace, e.tool)).collect();
    let width = names.iter().map(String::len).max().unwrap_or(4).max(4);
    outln!("{:<width$}  {:>5}  type (learned; {})", "tool", "calls", path.display());
    for (name, e) in names.iter().zip(&entries) {
        outln!(
            "{name:<width$}  {:>5}  {}",
            e.calls,
            crate::output::truncate(&e.shape.summary(), 120)
        );
    }
    Ok(Outcome::Success)
}

/// Calls every read-only tool that needs no arguments once and learns its result's shape.
pub async fn learn(setup: &Setup, namespace: Option<&str>, json: bool) -> Result<Outcome> {
    if setup::learned_types_file(setup).is_none() {
        return Err(UsageError(
            "learned output types are off: [run] learned_types = true (or CODEMODE_LEARNED_TYPES=on) turns them on"
                .into(),
        )
        .into());
    }
    if setup.options.approval == ApprovalPolicy::All && !setup.yes {
        return Err(UsageError(
            "approval = all: every call needs approval; pass --yes to let `tools learn` call the read-only tools"
                .into(),
        )
        .into());
    }
    let codemode = crate::tools::tools_only(setup).await?;
    let learned = codemode
        .learned_types()
        .cloned()
        .ok_or_else(|| UsageError("the learned output types cannot be read (see the warning above)".into()))?;
    let catalog = codemode.catalog();
    let in_namespace = |e: &&CatalogEntry| crate::tools::in_namespace(e, namespace);
    let (callable, needing_arguments): (Vec<&CatalogEntry>, Vec<&CatalogEntry>) = catalog
        .entries()
        .filter(in_namespace)
        .filter(|e| e.spec.output_schema.is_none() && e.is_read_only())
        .partition(|e| !has_required(&e.spec.input_schema));
    let timeout = Duration::from_secs_f64(setup.options.tool_call_timeout);
    let epoch = Instant::now();
    let mut records = Vec::new();
    for entry in &callable {
        let started = Instant::now();
        let outcome = tokio::time::timeout(timeout, entry.provider().call_tool(&entry.spec.name, json!({}))).await;
        let (result, error) = match outcome {
            Ok(Ok(value)) => (Some(value), None),
            Ok(Err(e)) => (None, Some(e.to_string())),
            Err(_) => (
                None,
                Some(format!(
                    "timed out after {:.1} s (tool_call_timeout)",
                    timeout.as_secs_f64()
                )),
            ),
        };
        records.push(ToolCallRecord {
            path: entry.path.clone(),
            arguments: json!({}),
            looks_like_error: result.as_ref().is_some_and(reads_like_an_error),
            result,
            error,
            started_ms: (started - epoch).as_secs_f64() * 1000.0,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            replayed: false,
        });
    }
    learned.observe(&catalog, &records);
    let typed = codemode.catalog();
    let lines: Vec<Value> = records
        .iter()
        .map(|r| {
            let learned = typed
                .tool(&r.path)
                .and_then(|e| e.learned_output())
                .map(|l| l.summary.clone());
            let status = match (&r.error, r.looks_like_error) {
                (Some(_), _) => "failed",
                (None, true) => "reads like an error: not learned",
                (None, false) => "learned",
            };
            json!({"path": r.path, "status": status, "type": learned, "error": r.error})
        })
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "called": lines,
                "needing_arguments": needing_arguments.iter().map(|e| &e.path).collect::<Vec<_>>(),
            }))?
        );
        return Ok(Outcome::Success);
    }
    for line in &lines {
        let path = line["path"].as_str().unwrap_or_default();
        match (line["status"].as_str(), line["type"].as_str(), line["error"].as_str()) {
            (Some("learned"), Some(t), _) => outln!("learned  {path} -> {}", crate::output::truncate(t, 100)),
            (_, _, Some(e)) => outln!("failed   {path}: {}", crate::output::truncate(e, 100)),
            (Some(status), _, _) => outln!("skipped  {path}: {status}"),
            _ => {}
        }
    }
    let learned_count = lines.iter().filter(|l| l["status"] == "learned").count();
    eprintln!(
        "{} read-only tools called, {learned_count} types learned; {} read-only tools need arguments and were not called",
        records.len(),
        needing_arguments.len()
    );
    if records.is_empty() {
        eprintln!(
            "(only tools annotated readOnlyHint: true are called; a server that annotates none gives nothing to learn here)"
        );
    }
    Ok(Outcome::Success)
}

/// Whether an input schema requires any property.
fn has_required(schema: &Value) -> bool {
    schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
}
