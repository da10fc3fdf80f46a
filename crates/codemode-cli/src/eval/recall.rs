//! The filter's recall on LiveMCPBench: for each dev task, plan and filter over the whole
//! catalog of real MCP tools (`tools.json`), and the share of the task's gold tools
//! (`Annotator Metadata.Tools`) among the tools kept. With `--modes direct`, the same for
//! the tools a direct tool-calling agent is offered (the search's best that fit its
//! definition budget; no model involved).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use codemode::{RunOptions, ToolCatalog};
use serde::Serialize;
use serde_json::{Map, Value};

use super::Harness;
use crate::UsageError;
use crate::output::truncate;

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
    /// `pipeline` (plan and filter) or `direct` (the functions offered).
    pub mode: String,
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
    /// The strategy model's search keywords (pipeline, large catalogs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keywords: Option<String>,
    pub model_calls: u64,
    /// The tiny model's calls and prompt tokens (the filter's batches).
    pub tiny_calls: u64,
    pub tiny_prompt_tokens: u64,
    /// Prompt tokens: the plan's and the filter's (pipeline); the first turn's definitions
    /// and request, sent again with every later turn (direct).
    pub prompt_tokens: u64,
    pub total_ms: f64,
    /// With `--recall-programs`: what the program written for the task shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<ProgramOutcome>,
}

/// A task's program (`--recall-programs`): its tools are declared and checked, never called.
#[derive(Debug, Serialize)]
pub struct ProgramOutcome {
    /// Tools the check's second chance declared (names), besides those the filter kept.
    pub declared_by_check: Vec<String>,
    /// Gold tools declared after the check: those the filter kept and those it declared.
    pub found_after_check: Vec<String>,
    /// `found_after_check / gold`.
    pub recall_after_check: f64,
    /// Gold tools the last program calls (by parsing it).
    pub called_gold: Vec<String>,
    /// Whether the last program type-checked.
    pub checked: bool,
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

/// Plans and filters each task over the whole catalog; with `programs`, runs the whole
/// pipeline instead (its tool calls fail: the catalog is static) and reads what the last
/// program declares and calls.
pub async fn measure(harness: &Harness, data: &Data, programs: bool) -> Result<Vec<RecallResult>> {
    let catalog = ToolCatalog::from_static_json(&data.catalog_json)?;
    let size = catalog.len();
    let codemode = harness.over_catalog(catalog).await?;
    let catalog = codemode.catalog();
    let names = |paths: &mut dyn Iterator<Item = &str>| -> BTreeSet<String> {
        paths
            .filter_map(|path| catalog.tool(path))
            .map(|entry| entry.spec.name.clone())
            .collect()
    };
    let gold_among = |task: &RecallTask, kept: &BTreeSet<String>| -> Vec<String> {
        task.gold
            .iter()
            .filter(|g| kept.contains(g.as_str()))
            .cloned()
            .collect()
    };
    let mut results = Vec::new();
    for (i, task) in data.tasks.iter().enumerate() {
        eprint!(
            "[recall {}/{}] {:<40} ",
            i + 1,
            data.tasks.len(),
            truncate(&task.question, 39)
        );
        let started = Instant::now();
        let options = RunOptions {
            query: task.question.clone(),
            ..harness.options.clone()
        };
        let report = if programs {
            codemode.run(options.max_runtime_repairs(0)).await?
        } else {
            codemode.run(codemode::RunRequest::select_tools(options)).await?
        };
        let kept = names(&mut report.selected_tools.iter().map(String::as_str));
        let found = gold_among(task, &kept);
        let recall = share(found.len(), task.gold.len());
        let tiny = report.token_usage.get("tiny");
        eprint!(
            "{}/{} gold tools kept, {} selected",
            found.len(),
            task.gold.len(),
            kept.len()
        );
        let program = programs.then(|| {
            let declared = names(&mut report.tools_declared_by_check.iter().map(String::as_str));
            let after: BTreeSet<String> = kept.union(&declared).cloned().collect();
            let found_after_check = gold_among(task, &after);
            let code = report.code.as_deref().unwrap_or_default();
            let called = names(&mut codemode::typescript::tool_calls(code).iter().map(|c| c.path.as_str()));
            eprint!(
                "; after the check {}/{} ({} declared by it), the program calls {} ({})",
                found_after_check.len(),
                task.gold.len(),
                declared.len(),
                gold_among(task, &called).len(),
                report.result_type
            );
            ProgramOutcome {
                declared_by_check: declared.into_iter().collect(),
                recall_after_check: share(found_after_check.len(), task.gold.len()),
                found_after_check,
                called_gold: gold_among(task, &called),
                checked: report.timing(codemode::Step::Execute).is_some(),
            }
        });
        eprintln!();
        results.push(RecallResult {
            mode: "pipeline".into(),
            id: task.id.clone(),
            question: task.question.clone(),
            gold: task.gold.clone(),
            found,
            recall,
            selected: report.selected_tools.len(),
            catalog: size,
            result_type: report.result_type.to_string(),
            keywords: report.search_keywords.clone(),
            model_calls: report.token_usage.values().map(|u| u.calls).sum(),
            tiny_calls: tiny.map_or(0, |u| u.calls),
            tiny_prompt_tokens: tiny.map_or(0, |u| u.prompt_tokens),
            prompt_tokens: report.token_usage.values().map(|u| u.prompt_tokens).sum(),
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
            program,
        });
    }
    Ok(results)
}

/// The tools a direct tool-calling agent is offered for each task, and their recall.
pub fn measure_direct(data: &Data) -> Result<Vec<RecallResult>> {
    let catalog = ToolCatalog::from_static_json(&data.catalog_json)?;
    let mut results = Vec::new();
    for task in &data.tasks {
        let started = Instant::now();
        let (offered, definition_tokens) =
            super::direct::offered_functions(&catalog, &task.question, super::direct::DEFINITION_TOKENS);
        let kept: BTreeSet<&str> = offered
            .iter()
            .filter_map(|f| catalog.tool(&f.path))
            .map(|entry| entry.spec.name.as_str())
            .collect();
        let found: Vec<String> = task
            .gold
            .iter()
            .filter(|g| kept.contains(g.as_str()))
            .cloned()
            .collect();
        results.push(RecallResult {
            mode: "direct".into(),
            id: task.id.clone(),
            question: task.question.clone(),
            gold: task.gold.clone(),
            recall: share(found.len(), task.gold.len()),
            found,
            selected: offered.len(),
            catalog: catalog.len(),
            result_type: "offered".into(),
            keywords: None,
            model_calls: 0,
            tiny_calls: 0,
            tiny_prompt_tokens: 0,
            prompt_tokens: definition_tokens + codemode::tokens::count_tokens(&task.question),
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
            program: None,
        });
    }
    Ok(results)
}

/// `found / gold`, 1 when nothing was needed.
fn share(found: usize, gold: usize) -> f64 {
    if gold == 0 { 1.0 } else { found as f64 / gold as f64 }
}

/// The recall table.
pub fn table(results: &[RecallResult]) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\nLiveMCPBench filter recall ({} tools)\n{:<44} {:<8} {:>6} {:>8} {:>6} {:>5} {:>7} {:>7}",
        results.first().map_or(0, |r| r.catalog),
        "question",
        "mode",
        "recall",
        "selected",
        "calls",
        "tiny",
        "prompt",
        "s"
    );
    let _ = writeln!(t, "{}", "-".repeat(98));
    for r in results {
        let _ = writeln!(
            t,
            "{:<44} {:<8} {:>6.2} {:>8} {:>6} {:>5} {:>7} {:>7.1}",
            truncate(&r.question, 43),
            r.mode,
            r.recall,
            r.selected,
            r.model_calls,
            r.tiny_calls,
            r.prompt_tokens,
            r.total_ms / 1000.0
        );
    }
    let mut modes: Vec<&str> = results.iter().map(|r| r.mode.as_str()).collect();
    modes.dedup();
    for mode in modes {
        let of_mode: Vec<&RecallResult> = results.iter().filter(|r| r.mode == mode).collect();
        let n = of_mode.len().max(1) as f64;
        let mean = of_mode.iter().map(|r| r.recall).sum::<f64>() / n;
        let selected = of_mode.iter().map(|r| r.selected).sum::<usize>() as f64 / n;
        let tiny = of_mode.iter().map(|r| r.tiny_calls).sum::<u64>() as f64 / n;
        let prompt = of_mode.iter().map(|r| r.prompt_tokens).sum::<u64>() as f64 / n;
        let seconds = of_mode.iter().map(|r| r.total_ms).sum::<f64>() / n / 1000.0;
        let _ = writeln!(
            t,
            "{mode}: mean recall {mean:.2} over {} tasks, {selected:.0} tools kept on average; \
             a task: {tiny:.1} tiny-model calls, {prompt:.0} prompt tokens, {seconds:.1} s",
            of_mode.len()
        );
        let programs: Vec<&ProgramOutcome> = of_mode.iter().filter_map(|r| r.program.as_ref()).collect();
        if !programs.is_empty() {
            let n = programs.len() as f64;
            let after = programs.iter().map(|p| p.recall_after_check).sum::<f64>() / n;
            let declared = programs.iter().filter(|p| !p.declared_by_check.is_empty()).count();
            let checked = programs.iter().filter(|p| p.checked).count();
            let called: usize = programs.iter().map(|p| p.called_gold.len()).sum();
            let gold: usize = of_mode.iter().map(|r| r.gold.len()).sum();
            let _ = writeln!(
                t,
                "{mode} programs: mean recall after the check {after:.2}; the check declared tools in {declared} \
                 of {} tasks; {checked} programs type-checked; they call {called} of {gold} gold tools",
                programs.len()
            );
        }
    }
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
