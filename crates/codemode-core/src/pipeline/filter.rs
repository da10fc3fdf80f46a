//! Step 2, **filter**: the tiny model picks the tools the request needs, in batches of
//! `max_tools_per_prompt`, at most `max_concurrent_threads` at a time.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use futures::StreamExt;

use super::keywords;
use super::run::{RunContext, StepFailure};
use crate::answer::{FilterAnswer, parse_filter_answer};
use crate::catalog::{CatalogEntry, ToolCatalog};
use crate::limits::FilterMode;
use crate::limits::RunOptions;
use crate::prompts;
use crate::report::FilterBatchFailure;
use codemode_traits::{Llm, LlmError, LlmRole, Message};

/// How much of a tool description the filter sees.
const FILTER_DESCRIPTION_CHARS: usize = 240;
/// The most output tokens a filter answer needs: a JSON array of the batch's paths, about
/// eight tokens each, with room to spare.
const FILTER_TOKENS_BASE: u32 = 32;
const FILTER_TOKENS_PER_TOOL: u32 = 12;

/// What the filter chose.
pub(super) struct Filtered {
    /// The chosen tool paths.
    pub selected: BTreeSet<String>,
    /// How many tools the search index kept for the model; `None` when it was not asked
    /// (the whole catalog went to the tiny model).
    pub candidates: Option<usize>,
    /// How many batches the tiny model was asked in.
    pub batches: usize,
    /// Batches that failed (their tools are in `selected`).
    pub failures: Vec<FilterBatchFailure>,
    /// The strategy model's search keywords, when it was asked.
    pub keywords: Option<String>,
}

impl Filtered {
    /// The step's detail for the report: `3 of 40 tools, 2 batches`, with the search's
    /// candidates when it ran: `4 of 10000 tools, 80 candidates by search, 4 batches`.
    pub(crate) fn detail(&self, catalog_size: usize) -> String {
        let searched = self
            .candidates
            .map(|n| format!(", {n} candidate{} by search", if n == 1 { "" } else { "s" }))
            .unwrap_or_default();
        format!(
            "{} of {catalog_size} tools{searched}, {} batch{}",
            self.selected.len(),
            self.batches,
            if self.batches == 1 { "" } else { "es" }
        )
    }
}

/// How far down each ranking the fusion looks, as a multiple of `retrieval_candidates`.
const FUSION_DEPTH: usize = 2;
/// The constant of reciprocal rank fusion: a tool's score is the sum over the rankings of
/// `1 / (FUSION_K + rank)`. Small enough that the top of each ranking counts most.
const FUSION_K: f64 = 20.0;

/// Whether the filter searches the catalog before asking the tiny model.
fn searches(options: &RunOptions, catalog: &ToolCatalog) -> bool {
    match options.filter_mode {
        FilterMode::Llm => false,
        FilterMode::Hybrid => catalog.len() > options.retrieval_candidates,
        FilterMode::Retrieval => true,
    }
}

/// What the search leaves for the tiny model.
struct Candidates<'c> {
    /// Kept whatever the tiny model answers: the search's best.
    trusted: Vec<String>,
    /// The tools the tiny model is asked about, in catalog order so a batch's contents do
    /// not depend on scores.
    asked: Vec<&'c CatalogEntry>,
    /// How many tools the search kept; `None` when it did not run.
    searched: Option<usize>,
}

/// Without a search, every tool goes to the tiny model. With one, the search keeps the
/// `retrieval_candidates` tools it ranks best, fusing the rankings of the request, the
/// model's keywords and the plan, each searched apart ([`fused_ranking`]). In `hybrid` mode
/// all but the last `max_tools_per_prompt` of them are kept as they are and the tiny model
/// judges that last batch: on the LiveMCPBench dev tasks the 0.5B tiny model's answers left
/// out about a third of the needed tools it was shown (32 of 111), and each batch of 20
/// cost it 10 to 20 s on 2 cores.
fn candidates<'c>(options: &RunOptions, texts: &[&str], catalog: &'c ToolCatalog) -> Candidates<'c> {
    if !searches(options, catalog) {
        return Candidates {
            trusted: Vec::new(),
            asked: catalog.entries().collect(),
            searched: None,
        };
    }
    let limit = options.retrieval_candidates;
    let mut ranked = fused_ranking(catalog, texts, limit * FUSION_DEPTH);
    ranked.truncate(limit);
    let searched = Some(ranked.len());
    let trusted_count = match options.filter_mode {
        FilterMode::Retrieval => ranked.len(),
        _ => ranked.len().saturating_sub(options.max_tools_per_prompt),
    };
    let asked: BTreeSet<String> = ranked.split_off(trusted_count).into_iter().collect();
    Candidates {
        trusted: ranked,
        asked: asked.iter().filter_map(|p| catalog.tool(p)).collect(),
        searched,
    }
}

/// The catalog's tools ranked by reciprocal rank fusion of the searches for each of `texts`
/// (the best `depth` of each; empty texts skipped), best first.
///
/// One search of the request, the keywords and a small planner's plan together lets the
/// longest part decide: a plan about the wrong thing (a museum question planned as
/// listing lookups) outweighs the request's words. Searched apart and fused, a tool the
/// request or the keywords rank high stays high. Measured on the 48 LiveMCPBench dev tasks
/// with the 1.5B model's keywords and plans (five sets of them): the 50 candidates held
/// 0.76 of the needed tools against 0.73 for one search of all three (after a quarter of
/// the candidates for the request alone), and the 30 kept without the tiny model 0.70
/// against 0.65; live, the filter kept 0.75 against 0.70 (docs/status.md).
fn fused_ranking(catalog: &ToolCatalog, texts: &[&str], depth: usize) -> Vec<String> {
    let mut scores: Vec<(String, f64)> = Vec::new();
    for text in texts.iter().filter(|t| !t.trim().is_empty()) {
        for (rank, hit) in catalog.search(text, depth).into_iter().enumerate() {
            let score = 1.0 / (FUSION_K + rank as f64 + 1.0);
            match scores.iter_mut().find(|(path, _)| *path == hit.path) {
                Some((_, total)) => *total += score,
                None => scores.push((hit.path, score)),
            }
        }
    }
    // Stable: ties keep the order of first appearance (the request's ranking first).
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores.into_iter().map(|(path, _)| path).collect()
}

/// What the search looks for with the plan: the request, the keywords (when any) and the plan.
fn search_text(query: &str, keywords: Option<&str>, plan: &str) -> String {
    match keywords {
        Some(keywords) => format!("{query}\n{keywords}\n{plan}"),
        None => format!("{query}\n{plan}"),
    }
}

/// Asks the tiny model about every batch, at most `max_concurrent_threads` at a time, and
/// keeps the tools the plan names by path.
///
/// A batch whose answer cannot be parsed is asked once more; if it still fails (or the
/// model errors), its tools are **kept**: missing a needed tool costs the run, an extra
/// tool only costs prompt space, and the type check still guards the code. Failed
/// batches are listed in the report. If every batch fails because the model errors, the
/// run ends with `llm_error`.
///
/// In `retrieval` mode (or without a tiny model) the search's candidates are the selection.
///
/// Before a search (`search_keywords` on), the strategy model names the kind of tools the
/// request needs ([`super::keywords`]).
pub(super) async fn filter(
    ctx: &RunContext<'_>,
    tiny: Option<&dyn Llm>,
    strategy: &dyn Llm,
    options: &RunOptions,
    plan: &str,
    catalog: &ToolCatalog,
) -> Result<Filtered, StepFailure> {
    let all: Vec<&CatalogEntry> = catalog.entries().collect();
    let keywords = if options.search_keywords && searches(options, catalog) {
        keywords::search_keywords(ctx, strategy, &options.query).await
    } else {
        None
    };
    let search = search_text(&options.query, keywords.as_deref(), plan);
    let texts = [options.query.as_str(), keywords.as_deref().unwrap_or(""), plan];
    let Candidates {
        trusted,
        asked: entries,
        searched,
    } = candidates(options, &texts, catalog);
    let mut filtered = Filtered {
        selected: trusted.into_iter().collect(),
        candidates: searched,
        batches: 0,
        failures: Vec::new(),
        keywords,
    };
    let tiny = match tiny {
        Some(tiny) if options.filter_mode != FilterMode::Retrieval => tiny,
        _ => {
            filtered.selected.extend(entries.iter().map(|e| e.path.clone()));
            filtered.selected.extend(named_in(plan, &all));
            return Ok(filtered);
        }
    };
    let batches: Vec<&[&CatalogEntry]> = entries.chunks(options.max_tools_per_prompt).collect();
    let count = batches.len();
    filtered.batches = count;
    let describe = options.include_descriptions_in_filter;
    // The futures are made before they go into the stream: a closure inside the stream
    // would make the run's future lose `Send` (rust-lang/rust#102211), and `codemode serve`
    // spawns runs.
    let pending: Vec<_> = batches
        .iter()
        .enumerate()
        .map(|(i, batch)| async move { (i, filter_batch(ctx, tiny, &options.query, plan, batch, describe).await) })
        .collect();
    let mut results: Vec<(usize, BatchResult)> = futures::stream::iter(pending)
        .buffer_unordered(options.max_concurrent_threads)
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    let mut llm_errors = 0;
    let mut last_error = None;
    let mut ranked: Option<Vec<String>> = None;
    for (i, result) in results {
        match result {
            BatchResult::Selected(paths) if keeps_everything(&paths, batches[i].len()) => {
                // The tiny model kept every tool of the batch: the answer filters nothing.
                // The batch's tools the search ranks among its best for the request and the
                // plan are kept instead (a 0.5B model kept all 44 tools of six servers, and
                // the main model's prompt grew to 6,000 tokens).
                let ranked = ranked.get_or_insert_with(|| {
                    let limit = (options.max_tools_per_prompt / INDISCRIMINATE_SHARE).max(options.retrieval_keep);
                    catalog.search(&search, limit).into_iter().map(|hit| hit.path).collect()
                });
                tracing::debug!(
                    batch = i,
                    "the tiny model kept every tool of a batch; the search's best are kept"
                );
                filtered
                    .selected
                    .extend(paths.into_iter().filter(|p| ranked.contains(p)));
            }
            BatchResult::Selected(paths) => filtered.selected.extend(paths),
            BatchResult::Failed {
                paths,
                reason,
                llm_error,
            } => {
                if let Some(e) = llm_error {
                    llm_errors += 1;
                    last_error = Some(e);
                }
                tracing::warn!(batch = i, %reason, "filter batch failed; keeping its tools");
                filtered.selected.extend(paths.iter().cloned());
                filtered.failures.push(FilterBatchFailure {
                    batch: i,
                    tools: paths,
                    reason,
                });
            }
        }
    }
    if count > 0
        && llm_errors == count
        && let Some(e) = last_error
    {
        return Err(e.into());
    }
    filtered.selected.extend(named_in(plan, &all));
    if options.filter_mode == FilterMode::Hybrid {
        filtered.selected.extend(best_ranked(options, &search, catalog));
    }
    Ok(filtered)
}

/// A batch of more than this many tools whose every tool the tiny model kept is read as no
/// answer (see [`keeps_everything`]).
const INDISCRIMINATE_BATCH: usize = 5;
/// Such a batch keeps its tools that rank among the search's best `max_tools_per_prompt /
/// INDISCRIMINATE_SHARE` for the request and the plan.
const INDISCRIMINATE_SHARE: usize = 2;

/// Whether a batch's answer kept every one of its tools, in a batch large enough for that to
/// mean the model did not choose.
fn keeps_everything(selected: &BTreeSet<String>, batch: usize) -> bool {
    batch > INDISCRIMINATE_BATCH && selected.len() >= batch
}

/// The `retrieval_keep` tools the search index ranks best for the `search` text (the
/// request, the keywords and the plan in one search, unlike the candidates' fused ranking,
/// so they can add a tool the candidates lack): kept whatever the tiny model answers. Seen
/// with a 0.5B tiny model on an 11-tool catalog: it answered with the same block of the
/// list for most requests and dropped `send_message` from "post the number to the general
/// channel"; the main model then emailed a channel.
fn best_ranked(options: &RunOptions, search: &str, catalog: &ToolCatalog) -> Vec<String> {
    if options.retrieval_keep == 0 {
        return Vec::new();
    }
    catalog
        .search(search, options.retrieval_keep)
        .into_iter()
        .map(|hit| hit.path)
        .collect()
}

/// The tools the plan names by path: always kept. The planner saw the catalog's names, and
/// a small tiny model drops tools the plan calls for (seen: `add_reaction` dropped for a
/// plan that said "set an emoji ... using `workspace.add_reaction`").
fn named_in(plan: &str, entries: &[&CatalogEntry]) -> Vec<String> {
    let is_path_char = |c: char| c.is_alphanumeric() || c == '_' || c == '.' || c == '$';
    entries
        .iter()
        .filter(|e| {
            plan.match_indices(e.path.as_str()).any(|(at, _)| {
                let before = plan[..at].chars().next_back();
                let after = plan[at + e.path.len()..].chars().next();
                // `tools.ns.tool` names it too; `ns.tool_two` does not name `ns.tool`.
                let starts = before.is_none_or(|c| !is_path_char(c)) || plan[..at].ends_with("tools.");
                starts && after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            })
        })
        .map(|e| e.path.clone())
        .collect()
}

enum BatchResult {
    Selected(BTreeSet<String>),
    Failed {
        paths: Vec<String>,
        reason: String,
        llm_error: Option<LlmError>,
    },
}

/// One line per tool: `N. path(arg, ...): description`, or `N. path(arg, ...)` without
/// descriptions.
fn listing(batch: &[&CatalogEntry], describe: bool) -> String {
    let chars = if describe { FILTER_DESCRIPTION_CHARS } else { 0 };
    let mut listing = String::new();
    for (i, e) in batch.iter().enumerate() {
        let _ = writeln!(listing, "{}. {}", i + 1, e.brief(chars));
    }
    listing
}

async fn filter_batch(
    ctx: &RunContext<'_>,
    tiny: &dyn Llm,
    query: &str,
    plan: &str,
    batch: &[&CatalogEntry],
    describe: bool,
) -> BatchResult {
    let paths: Vec<String> = batch.iter().map(|e| e.path.clone()).collect();
    let listing = listing(batch, describe);
    let user = prompts::render(
        prompts::FILTER_USER,
        &[("query", query), ("plan", plan), ("tools", listing.trim_end())],
    );
    let mut messages = vec![Message::system(prompts::FILTER_SYSTEM), Message::user(user)];
    let mut reason = String::new();
    for attempt in 0..2 {
        let budget = FILTER_TOKENS_BASE + FILTER_TOKENS_PER_TOOL * batch.len() as u32;
        match ctx
            .ask_brief(tiny, LlmRole::Tiny, "filter", messages.clone(), budget)
            .await
        {
            Ok(answer) => match parse_filter_answer(&answer, &paths) {
                FilterAnswer::Selected(s) => return BatchResult::Selected(s),
                FilterAnswer::Unparseable => {
                    reason = format!("unparseable answer: {}", answer.chars().take(120).collect::<String>());
                    if attempt == 0 {
                        messages.push(Message::assistant(answer));
                        let example = paths.first().map(String::as_str).unwrap_or("namespace.tool");
                        messages.push(Message::user(prompts::render(
                            prompts::FILTER_RETRY,
                            &[("example", example)],
                        )));
                    }
                }
            },
            Err(e) => {
                if attempt == 1 {
                    return BatchResult::Failed {
                        paths,
                        reason: format!("model error: {e}"),
                        llm_error: Some(e),
                    };
                }
                reason = format!("model error: {e}");
            }
        }
    }
    BatchResult::Failed {
        paths,
        reason,
        llm_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codemode_traits::ToolSpec;
    use serde_json::json;

    #[test]
    fn the_request_keywords_and_plan_are_searched_apart_and_fused() {
        let mut catalog = ToolCatalog::new();
        let provider: std::sync::Arc<dyn codemode_traits::ToolProvider> =
            std::sync::Arc::new(codemode_traits::StaticToolProvider::new(Vec::new()));
        let mut specs: Vec<ToolSpec> = (0..8)
            .map(|i| {
                ToolSpec::new(
                    format!("listing_{i}"),
                    "Get the listing details of a stay: price, location, rooms",
                    json!({"type": "object"}),
                )
            })
            .collect();
        specs.push(ToolSpec::new(
            "search_objects",
            "Search the collection for paintings",
            json!({"type": "object"}),
        ));
        specs.push(ToolSpec::new(
            "get_object",
            "Get a museum object by its id",
            json!({"type": "object"}),
        ));
        catalog.add_tools("ws", provider, specs);
        let request = "find the painting Corridor in the Asylum";
        // A plan about the wrong thing, much longer than the request.
        let plan = "1. Call the listing details for the price.\n2. Get the listing location.\n\
                    3. Get the listing rooms and price.\n4. Return the listing details.";
        let keywords = "museum artwork collection";
        let options = RunOptions::new(request)
            .filter_mode(FilterMode::Retrieval)
            .retrieval_candidates(4);
        let picked = candidates(&options, &[request, keywords, plan], &catalog);
        assert_eq!(picked.searched, Some(4));
        let kept: Vec<&str> = picked.trusted.iter().map(String::as_str).collect();
        assert!(kept.contains(&"ws.search_objects"), "{kept:?}");
        assert!(kept.contains(&"ws.get_object"), "{kept:?}");
        // One search of all three at once lets the plan's words push the museum's object
        // lookup out of the best four.
        let together = catalog.search(&search_text(request, Some(keywords), plan), 4);
        assert!(together.iter().all(|hit| hit.path != "ws.get_object"), "{together:?}");
        // Empty texts are skipped; a lone text keeps its own order.
        assert_eq!(
            fused_ranking(&catalog, &[request, "", " "], 10),
            catalog
                .search(request, 10)
                .into_iter()
                .map(|h| h.path)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn tools_the_plan_names_by_path_are_kept() {
        let mut catalog = ToolCatalog::new();
        let provider: std::sync::Arc<dyn codemode_traits::ToolProvider> =
            std::sync::Arc::new(codemode_traits::StaticToolProvider::new(Vec::new()));
        catalog.add_tools(
            "ws",
            provider,
            ["add_reaction", "add_reaction_bulk", "send", "list"]
                .into_iter()
                .map(|n| ToolSpec::new(n, "", json!({"type": "object"})))
                .collect(),
        );
        let entries: Vec<&CatalogEntry> = catalog.entries().collect();
        let plan =
            "1. Call `ws.list`.\n2. React with tools.ws.add_reaction on each.\n3. Mention xws.send or ws.sender.";
        let mut named = named_in(plan, &entries);
        named.sort();
        assert_eq!(named, ["ws.add_reaction", "ws.list"]);
    }
}
