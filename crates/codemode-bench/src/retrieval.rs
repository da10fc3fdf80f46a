//! Tool retrieval on LiveMCPBench: the search index's recall on the dev tasks, its build and
//! query times at catalog sizes up to 100,000 tools, the filter step's model calls and
//! prompt tokens by mode, and what a code-mode run sends against a direct tool-calling agent.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use codemode::testing::ScriptedLlm;
use codemode::tokens::count_tokens;
use codemode::{CodeMode, FilterMode, LlmRequest, LlmRole, RunOptions, ToolCatalog, ToolIndex};
use serde_json::{Map, Value, json};

use super::{Row, median, ms, shared_tools};

/// Latency of the scripted tiny model in the filter benchmark.
const TINY_LATENCY: Duration = Duration::from_millis(100);
/// Catalog sizes the filter and the index are measured at.
const SIZES: [usize; 4] = [527, 2_000, 10_000, 100_000];
/// Above this size the `llm` filter mode is not run (100,000 tools would be 5,000 calls);
/// its calls and tokens grow linearly and are extrapolated in the note.
const LLM_MODE_MAX: usize = 10_000;
/// The cut-offs recall is measured at: the issue's four and the default `retrieval_candidates`.
const RECALL_AT: [usize; 5] = [5, 10, 20, 50, 80];

/// One dev task: the question, the annotators' steps (a plan as a strong model would write
/// it) and the names of the tools it needs.
struct Task {
    question: String,
    steps: String,
    gold: Vec<String>,
}

/// The LiveMCPBench servers as `{namespace: {"tools": [...]}}` and the dev tasks.
pub(crate) struct Data {
    servers: Map<String, Value>,
    tasks: Vec<Task>,
}

pub(crate) fn load() -> Result<Data> {
    let tools_path = shared_tools()?;
    let dir = tools_path.parent().context("tools.json has a folder")?;
    let tools: Value = serde_json::from_str(&std::fs::read_to_string(&tools_path)?)?;
    let mut servers = Map::new();
    for server in tools.as_array().context("tools.json is a list")? {
        for (name, listing) in server["tools"].as_object().into_iter().flatten() {
            servers.insert(name.clone(), json!({ "tools": listing["tools"] }));
        }
    }
    let tasks: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("tasks_dev.json"))?)?;
    let tasks = tasks
        .as_array()
        .context("tasks_dev.json is a list")?
        .iter()
        .map(|t| {
            let meta = &t["Annotator Metadata"];
            Task {
                question: t["Question"].as_str().unwrap_or_default().trim().to_string(),
                steps: meta["Steps"].as_str().unwrap_or_default().to_string(),
                gold: meta["Tools"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .map(|l| {
                        let l = l.trim();
                        l.split_once(". ")
                            .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
                            .map_or(l, |(_, name)| name)
                            .trim()
                            .to_string()
                    })
                    .filter(|n| !n.is_empty())
                    .collect(),
            }
        })
        .collect();
    Ok(Data { servers, tasks })
}

/// The catalog of `size` tools: the LiveMCPBench servers, then renamed copies of them
/// (`server_copy2`, ...), the last copy cut to fit.
pub(crate) fn catalog(data: &Data, size: usize) -> Result<ToolCatalog> {
    let mut out = Map::new();
    let mut count = 0;
    let mut copy = 1;
    while count < size {
        for (name, listing) in &data.servers {
            if count >= size {
                break;
            }
            let tools: Vec<Value> = listing["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .take(size - count)
                .cloned()
                .collect();
            count += tools.len();
            let ns = if copy == 1 {
                name.clone()
            } else {
                format!("{name}_copy{copy}")
            };
            out.insert(ns, json!({ "tools": tools }));
        }
        copy += 1;
    }
    Ok(ToolCatalog::from_static_json(&Value::Object(out).to_string())?)
}

/// The share of `task`'s gold tools among `kept` (real tool names).
fn task_recall(task: &Task, kept: &BTreeSet<&str>) -> f64 {
    let found = task.gold.iter().filter(|g| kept.contains(g.as_str())).count();
    found as f64 / task.gold.len().max(1) as f64
}

/// Mean recall@k over the tasks: the share of each task's gold tools (by real name) among
/// the first k hits.
fn recall(catalog: &ToolCatalog, data: &Data, text: impl Fn(&Task) -> String) -> [f64; 5] {
    let mut sums = [0.0; 5];
    for task in &data.tasks {
        let hits = catalog.search(&text(task), RECALL_AT[4]);
        let names: Vec<&str> = hits
            .iter()
            .filter_map(|h| catalog.tool(&h.path))
            .map(|e| e.spec.name.as_str())
            .collect();
        for (i, k) in RECALL_AT.iter().enumerate() {
            let top: BTreeSet<&str> = names.iter().take(*k).copied().collect();
            sums[i] += task_recall(task, &top);
        }
    }
    sums.map(|s| s / data.tasks.len().max(1) as f64)
}

fn recall_note(r: [f64; 5]) -> String {
    RECALL_AT
        .iter()
        .zip(r)
        .map(|(k, v)| format!("@{k} {v:.2}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Answers a filter prompt with the listed tools whose real names are gold, else `[]`.
fn select_gold(gold: Vec<String>) -> impl Fn(&LlmRequest) -> Result<String, codemode::LlmError> + Send + Sync {
    move |request| {
        let listing = request.messages.get(1).map_or("", |m| m.content.as_str());
        let picks: Vec<&str> = listing
            .lines()
            .filter_map(|l| l.split_once(". ").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split('(').next())
            .filter(|path| {
                let segment = path.rsplit('.').next().unwrap_or(path);
                gold.iter()
                    .any(|g| codemode::typescript::ident::sanitize_identifier(g) == segment)
            })
            .collect();
        Ok(serde_json::to_string(&picks).unwrap_or_else(|_| "[]".into()))
    }
}

/// Plans (with the task's steps) and filters over `catalog` with a scripted tiny model of
/// fixed latency; (model calls, tiny prompt tokens, wall time, tools selected).
async fn filter_run(catalog: ToolCatalog, task: &Task, mode: FilterMode) -> Result<(u64, u64, Duration, usize)> {
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, task.steps.clone())
            .respond_with(LlmRole::Tiny, select_gold(task.gold.clone()))
            .with_delay(TINY_LATENCY),
    );
    let cm = CodeMode::builder().llm(llm).catalog(catalog).build().await?;
    let started = Instant::now();
    let report = cm
        .run(codemode::RunRequest::select_tools(
            RunOptions::new(task.question.clone()).filter_mode(mode),
        ))
        .await?;
    let elapsed = started.elapsed();
    let tiny = report.token_usage.get("tiny").copied().unwrap_or_default();
    Ok((tiny.calls, tiny.prompt_tokens, elapsed, report.selected_tools.len()))
}

/// The tokens of every tool definition in OpenAI's function-calling format: what a direct
/// tool-calling agent sends with every turn.
pub(crate) fn direct_definition_tokens(catalog: &ToolCatalog) -> u64 {
    function_definition_tokens(catalog.entries().map(|e| {
        (
            e.path.replace('.', "__"),
            json!(e.spec.description),
            e.spec.input_schema.clone(),
        )
    }))
}

/// The tokens of `(name, description, parameters)` as OpenAI function definitions.
pub(crate) fn function_definition_tokens(tools: impl Iterator<Item = (String, Value, Value)>) -> u64 {
    let tools: Vec<Value> = tools
        .map(|(name, description, parameters)| {
            json!({"type": "function", "function": {
                "name": name,
                "description": description,
                "parameters": parameters,
            }})
        })
        .collect();
    count_tokens(&Value::Array(tools).to_string())
}

/// A whole code-mode run per dev task with scripted models (plan: the steps; filter: the
/// gold tools; main: a one-line program), its prompt tokens counted with `o200k_base`.
async fn code_mode_tokens(catalog: &ToolCatalog, task: &Task) -> Result<u64> {
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, task.steps.clone())
            .respond_with(LlmRole::Tiny, select_gold(task.gold.clone()))
            .reply(LlmRole::Main, "```ts\nreturn 1;\n```"),
    );
    let cm = CodeMode::builder()
        .llm(llm)
        .catalog(catalog.clone())
        .environment(codemode::default_environment()?)
        .build()
        .await?;
    let report = cm.run(RunOptions::new(task.question.clone())).await?;
    Ok(report.token_usage.values().map(|u| u.prompt_tokens).sum())
}

/// Recall on the dev tasks, and the index's build and query times by catalog size.
pub async fn index_benches(rows: &mut Vec<Row>) -> Result<()> {
    let data = load()?;
    let base = catalog(&data, 527)?;

    // Recall of the index alone, by what it searches with.
    let alone = recall(&base, &data, |t| t.question.clone());
    let planned = recall(&base, &data, |t| format!("{}\n{}", t.question, t.steps));
    for (what, r) in [("query", alone), ("query + annotators' steps as the plan", planned)] {
        rows.push(Row {
            name: format!("retrieval recall, {what} ({} tasks)", data.tasks.len()),
            median: Duration::ZERO,
            note: recall_note(r),
        });
    }

    // The filter's own candidates (retrieval mode: the question, the keywords and the plan
    // searched apart and their rankings fused), with the steps as the plan.
    for k in [20, 80] {
        let mut sum = 0.0;
        for task in &data.tasks {
            let llm = Arc::new(ScriptedLlm::new().reply(LlmRole::Strategy, task.steps.clone()));
            let cm = CodeMode::builder()
                .strategy_llm(llm)
                .catalog(base.clone())
                .build()
                .await?;
            let options = RunOptions::new(task.question.clone())
                .filter_mode(FilterMode::Retrieval)
                .retrieval_candidates(k);
            let report = cm.run(codemode::RunRequest::select_tools(options)).await?;
            let kept: BTreeSet<&str> = report
                .selected_tools
                .iter()
                .filter_map(|p| base.tool(p))
                .map(|e| e.spec.name.as_str())
                .collect();
            sum += task_recall(task, &kept);
        }
        rows.push(Row {
            name: format!("filter candidates, retrieval mode, {k} tools (steps as the plan)"),
            median: Duration::ZERO,
            note: format!("recall {:.2}", sum / data.tasks.len().max(1) as f64),
        });
    }

    // The index at each size: build time, memory, query time.
    for size in SIZES {
        let catalog = catalog(&data, size)?;
        let mut builds = Vec::new();
        let mut index = codemode::search::Bm25Index::default();
        for _ in 0..3 {
            let started = Instant::now();
            index = codemode::search::Bm25Index::build(catalog.entries());
            builds.push(started.elapsed());
        }
        let mut queries = Vec::new();
        for task in &data.tasks {
            let text = format!("{}\n{}", task.question, task.steps);
            let started = Instant::now();
            std::hint::black_box(index.search(&text, 80));
            queries.push(started.elapsed());
        }
        rows.push(Row {
            name: format!("search index build, {size} tools"),
            median: median(builds),
            note: format!(
                "{} terms, {:.1} MiB; query (question + steps, top 80) median {:.3} ms",
                index.term_count(),
                index.heap_bytes() as f64 / (1024.0 * 1024.0),
                ms(median(queries))
            ),
        });
    }

    Ok(())
}

/// The filter step by mode and catalog size, and a run's prompt tokens against direct tool
/// calling.
pub async fn filter_benches(rows: &mut Vec<Row>) -> Result<()> {
    let data = load()?;
    let base = catalog(&data, 527)?;

    // The filter step by mode, one task, a tiny model answering in 100 ms.
    let task = &data.tasks[0];
    for size in SIZES {
        let sized = catalog(&data, size)?;
        for mode in [FilterMode::Llm, FilterMode::Hybrid] {
            if mode == FilterMode::Llm && size > LLM_MODE_MAX {
                rows.push(Row {
                    name: format!("filter, {size} tools, llm"),
                    median: Duration::ZERO,
                    note: format!("not run: {} model calls", size.div_ceil(20)),
                });
                continue;
            }
            let (calls, tokens, elapsed, selected) = filter_run(sized.clone(), task, mode).await?;
            rows.push(Row {
                name: format!("filter, {size} tools, {}", mode.as_str()),
                median: elapsed,
                note: format!("{calls} tiny-model calls, {tokens} prompt tokens, {selected} selected (one run)"),
            });
        }
    }

    // Tokens: a code-mode run against a direct tool-calling agent with every definition in
    // its prompt, resent on every turn (one turn per gold tool call and a final answer).
    let definitions = direct_definition_tokens(&base);
    let (mut code_mode, mut direct) = (0u64, 0u64);
    for task in &data.tasks {
        code_mode += code_mode_tokens(&base, task).await?;
        let turns = task.gold.len() as u64 + 1;
        direct += turns * (definitions + count_tokens(&task.question));
    }
    let n = data.tasks.len().max(1) as u64;
    rows.push(Row {
        name: format!(
            "prompt tokens per task, code mode vs direct tool calling ({} tools)",
            base.len()
        ),
        median: Duration::ZERO,
        note: format!(
            "code mode {} vs direct {} ({definitions} tokens of definitions per turn): {:.1}x fewer",
            code_mode / n,
            direct / n,
            direct as f64 / code_mode.max(1) as f64
        ),
    });
    Ok(())
}
