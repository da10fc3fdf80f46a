//! The filter's recall on LiveMCPBench: for each dev task, plan and filter over the whole
//! catalog of real MCP tools (`tools.json`), and the share of the task's gold tools
//! (`Annotator Metadata.Tools`) among the tools kept.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use codemode::{RunOptions, ToolCatalog};
use serde::Serialize;
use serde_json::{Map, Value};

use super::Harness;
use crate::UsageError;
use crate::commands::truncate;

/// One dev task: the question and the names of the tools it needs.
pub struct RecallTask {
    pub id: String,
    pub question: String,
    pub gold: Vec<String>,
}

/// The catalog and the first tasks.
pub struct Data {
    pub catalog_json: String,
    pub tools: usize,
    pub tasks: Vec<RecallTask>,
}

/// The filter's outcome on one task.
#[derive(Debug, Serialize)]
pub struct RecallResult {
    pub id: String,
    pub question: String,
    pub gold: Vec<String>,
    /// Gold tools the filter kept.
    pub found: Vec<String>,
    /// `found / gold`.
    pub recall: f64,
    /// How many tools it kept, of the catalog's.
    pub selected: usize,
    pub catalog: usize,
    pub result_type: String,
    pub model_calls: u64,
    pub total_ms: f64,
}

fn data_dir(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir.to_path_buf());
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("CODEMODE_SHARED_DIR")
        .map(|d| PathBuf::from(d).join("data/livemcpbench"))
        .into_iter()
        .collect();
    candidates.push(PathBuf::from("../shared/data/livemcpbench"));
    candidates
        .into_iter()
        .find(|d| d.join("tools.json").is_file())
        .ok_or_else(|| {
            UsageError(
                "--recall needs the LiveMCPBench data: pass --livemcpbench DIR (with tools.json and tasks_dev.json)"
                    .into(),
            )
            .into()
        })
}

/// `"1. search-museum-objects\n2. get-museum-object"` → the tool names.
fn gold_tools(listing: &str) -> Vec<String> {
    listing
        .lines()
        .map(|line| {
            let line = line.trim();
            match line.split_once(". ") {
                Some((n, name)) if n.chars().all(|c| c.is_ascii_digit()) => name.trim(),
                _ => line,
            }
        })
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

impl Data {
    /// Reads `tools.json` (a list of servers, each `tools: {name: {tools: [...]}}`) as a
    /// static catalog, and the first `limit` tasks of `tasks_dev.json`.
    pub fn load(dir: Option<&Path>, limit: usize) -> Result<Self> {
        let dir = data_dir(dir)?;
        let read = |name: &str| -> Result<Value> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
        };
        let mut namespaces = Map::new();
        let mut tools = 0;
        for server in read("tools.json")?.as_array().context("tools.json is not a list")? {
            for (name, listing) in server["tools"].as_object().into_iter().flatten() {
                tools += listing["tools"].as_array().map_or(0, Vec::len);
                namespaces.insert(name.clone(), serde_json::json!({ "tools": listing["tools"] }));
            }
        }
        let tasks = read("tasks_dev.json")?
            .as_array()
            .context("tasks_dev.json is not a list")?
            .iter()
            .take(limit)
            .map(|t| RecallTask {
                id: t["task_id"].as_str().unwrap_or_default().to_string(),
                question: t["Question"].as_str().unwrap_or_default().trim().to_string(),
                gold: gold_tools(t["Annotator Metadata"]["Tools"].as_str().unwrap_or_default()),
            })
            .collect();
        Ok(Self {
            catalog_json: Value::Object(namespaces).to_string(),
            tools,
            tasks,
        })
    }
}

/// Plans and filters each task over the whole catalog.
pub async fn measure(harness: &Harness, data: &Data) -> Result<Vec<RecallResult>> {
    let catalog = ToolCatalog::from_static_json(&data.catalog_json)?;
    let size = catalog.len();
    let codemode = harness.over_catalog(catalog).await?;
    let catalog = codemode.catalog();
    let mut results = Vec::new();
    for (i, task) in data.tasks.iter().enumerate() {
        eprint!(
            "[recall {}/{}] {:<40} ",
            i + 1,
            data.tasks.len(),
            truncate(&task.question, 39)
        );
        let started = Instant::now();
        let report = codemode
            .select_tools(RunOptions {
                query: task.question.clone(),
                ..harness.options.clone()
            })
            .await?;
        let kept: BTreeSet<&str> = report
            .selected_tools
            .iter()
            .filter_map(|path| catalog.tool(path))
            .map(|entry| entry.spec.name.as_str())
            .collect();
        let found: Vec<String> = task
            .gold
            .iter()
            .filter(|g| kept.contains(g.as_str()))
            .cloned()
            .collect();
        let recall = if task.gold.is_empty() {
            1.0
        } else {
            found.len() as f64 / task.gold.len() as f64
        };
        eprintln!(
            "{}/{} gold tools kept, {} selected",
            found.len(),
            task.gold.len(),
            kept.len()
        );
        results.push(RecallResult {
            id: task.id.clone(),
            question: task.question.clone(),
            gold: task.gold.clone(),
            found,
            recall,
            selected: report.selected_tools.len(),
            catalog: size,
            result_type: report.result_type.to_string(),
            model_calls: report.token_usage.values().map(|u| u.calls).sum(),
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
        });
    }
    Ok(results)
}

/// The recall table.
pub fn table(results: &[RecallResult]) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\nLiveMCPBench filter recall ({} tools)\n{:<44} {:>6} {:>8} {:>6} {:>7}",
        results.first().map_or(0, |r| r.catalog),
        "question",
        "recall",
        "selected",
        "calls",
        "s"
    );
    let _ = writeln!(t, "{}", "-".repeat(76));
    for r in results {
        let _ = writeln!(
            t,
            "{:<44} {:>6.2} {:>8} {:>6} {:>7.1}",
            truncate(&r.question, 43),
            r.recall,
            r.selected,
            r.model_calls,
            r.total_ms / 1000.0
        );
    }
    let mean = results.iter().map(|r| r.recall).sum::<f64>() / results.len().max(1) as f64;
    let _ = writeln!(t, "mean recall {mean:.2} over {} tasks", results.len());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gold_tools_are_read_from_the_numbered_list() {
        assert_eq!(
            gold_tools("1. search-museum-objects\n2. get-museum-object\n"),
            ["search-museum-objects", "get-museum-object"]
        );
        assert_eq!(gold_tools("read_file"), ["read_file"]);
    }
}
