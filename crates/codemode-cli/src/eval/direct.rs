//! `codemode eval --mode direct`: the classic agent loop, the baseline code mode is measured
//! against. The main model gets the catalog's tools as function definitions, calls them
//! (one or several per turn), reads each result and answers; no plan, no filter, no program.
//!
//! Same MCP servers, same tasks, same judges, same limits as the pipeline: calls go through
//! [`CodeMode::tool_bridge`] (`max_tool_calls`, `tool_call_timeout`, approvals, arguments
//! checked against the input schema). The definitions of a catalog too large for the model's
//! context are cut to the tools the catalog search ranks highest for the request, up to
//! [`DEFINITION_TOKENS`]; the results say how many tools were offered.

use codemode::{BridgeError, CatalogBridge, CodeMode, Llm, RunOptions, ToolBridge, ToolCatalog, ToolSpec};
use serde_json::Value;

use super::turns::{self, AgentRun, CallAnswer, LoopSpec};
use crate::cli::FunctionCalls;

/// The agent's instructions ([`turns::system_prompt`]).
const DIRECT_SYSTEM: &str = include_str!("direct_system.md");
/// Model turns per task: a chain of calls, a few fixes, the answer.
const DIRECT_TURNS: usize = 12;
/// Calls read from one turn.
const CALLS_PER_TURN: usize = 8;
/// The most output tokens one turn asks for (the agent's, for equal terms).
const TURN_TOKENS: u32 = 768;
/// The most tokens (o200k) of function definitions offered: all of a catalog that fits, else
/// the best-ranked tools that fit. A third of an 8,192-token context, leaving the rest for
/// the request, the results and the answers.
pub(super) const DEFINITION_TOKENS: u64 = 2_800;
/// The longest tool result the model reads back, in characters (a client cuts results to
/// fit its context the same way); the rest is replaced by a note saying how much was cut.
const RESULT_CHARS: usize = 4_000;

/// What the direct agent did with one task.
pub(super) struct DirectRun {
    /// The loop's account.
    pub run: AgentRun,
    /// Tools offered as functions, of how many in the catalog.
    pub offered: usize,
    pub catalog: usize,
    /// Tokens (o200k) of the offered definitions, sent with every turn.
    pub definition_tokens: u64,
}

/// Runs `query` with `model` calling the tools of `codemode` directly.
pub(super) async fn run(
    codemode: &CodeMode,
    options: &RunOptions,
    model: &dyn Llm,
    format: FunctionCalls,
    query: &str,
) -> DirectRun {
    let bridge = codemode.tool_bridge(options).await;
    let catalog = codemode.catalog();
    let (functions, definition_tokens) = offered_functions(&catalog, query, DEFINITION_TOKENS);
    let names: Vec<String> = functions.iter().map(|f| f.function.name.clone()).collect();
    let specs: Vec<ToolSpec> = functions.iter().map(|f| f.function.clone()).collect();
    let spec = LoopSpec {
        system: turns::system_prompt(DIRECT_SYSTEM, &specs, format),
        functions: turns::native_functions(&specs, format),
        turns: DIRECT_TURNS,
        calls_per_turn: CALLS_PER_TURN,
        turn_tokens: TURN_TOKENS,
        repeat_hint: ": check the function's parameters.",
    };
    let run = turns::drive(model, &spec, query, async |name: &str, arguments: Value| {
        // Read leniently, as the pipeline reads a program's tool names: the offered name,
        // the catalog path, or the provider's name when only one tool has it.
        let offered = functions.iter().find(|f| f.function.name == name).or_else(|| {
            let path = &catalog.resolve(name)?.path;
            functions.iter().find(|f| &f.path == path)
        });
        match offered {
            Some(f) => call(&bridge, &f.path, arguments).await,
            None => turns::unknown_function(name, &names),
        }
    })
    .await;
    DirectRun {
        run,
        offered: functions.len(),
        catalog: catalog.len(),
        definition_tokens,
    }
}

/// One function call through the bridge, its result as the model reads it.
async fn call(bridge: &CatalogBridge, path: &str, arguments: Value) -> CallAnswer {
    match bridge.call(path, arguments).await {
        Ok(value) => CallAnswer {
            text: cut(&match value {
                Value::String(text) => text,
                other => other.to_string(),
            }),
            failed: false,
            tool_calls: 1,
            ends_run: None,
        },
        Err(e) => CallAnswer {
            ends_run: matches!(e, BridgeError::LimitExceeded(..)).then_some("tool_call_limit"),
            // The bridge names tools as `tools.PATH`; the model knows them as `PATH`.
            text: format!("Error: {}", e.to_string().replacen("tools.", "", 1)),
            failed: true,
            tool_calls: 1,
        },
    }
}

/// `text`, cut to [`RESULT_CHARS`] with a note of what was left out.
fn cut(text: &str) -> String {
    match text.char_indices().nth(RESULT_CHARS) {
        None => text.to_string(),
        Some((at, _)) => format!(
            "{}\n[... {} more characters not shown]",
            &text[..at],
            text[at..].chars().count()
        ),
    }
}

/// A tool offered as a function.
pub(super) struct Function {
    /// Its catalog path.
    pub path: String,
    /// The definition the model reads.
    pub function: ToolSpec,
}

/// The tools offered as functions and their definitions' tokens: the whole catalog when it
/// fits in `budget` tokens, in path order; else the tools the search ranks highest for
/// `query` that fit, best first, then others in path order while the budget lasts. A function has the tool's own name when no other tool of
/// the catalog has it (as MCP clients list them), else its catalog path.
pub(super) fn offered_functions(catalog: &ToolCatalog, query: &str, budget: u64) -> (Vec<Function>, u64) {
    let function = |path: &str| {
        let entry = catalog.tool(path)?;
        let unique = catalog.entries().filter(|e| e.spec.name == entry.spec.name).count() == 1;
        Some(Function {
            path: entry.path.clone(),
            function: ToolSpec {
                name: if unique {
                    entry.spec.name.clone()
                } else {
                    entry.path.clone()
                },
                ..entry.spec.clone()
            },
        })
    };
    let tokens = |f: &Function| codemode::tokens::count_tokens(&turns::signature(&f.function).to_string());
    let all: Vec<Function> = catalog.tool_paths().iter().filter_map(|p| function(p)).collect();
    let total: u64 = all.iter().map(tokens).sum();
    if total <= budget {
        return (all, total);
    }
    // The search's ranking first; then, while the budget lasts, the tools that share no word
    // with the request (a short request matches few tools, and the agent should not get
    // fewer than fit).
    let ranked: Vec<String> = catalog
        .search(query, catalog.len())
        .into_iter()
        .map(|hit| hit.path)
        .collect();
    let rest = all.iter().map(|f| &f.path).filter(|p| !ranked.contains(p)).cloned();
    let mut offered = Vec::new();
    let mut used = 0;
    for path in ranked.iter().cloned().chain(rest) {
        let Some(f) = function(&path) else { continue };
        let cost = tokens(&f);
        if used + cost <= budget {
            used += cost;
            offered.push(f);
        }
    }
    (offered, used)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use codemode::StaticToolProvider;
    use serde_json::json;

    use super::*;

    fn catalog() -> ToolCatalog {
        let mut catalog = ToolCatalog::new();
        let provider = Arc::new(StaticToolProvider::default());
        let long = "x ".repeat(400);
        catalog.add_tools(
            "mail",
            provider.clone(),
            vec![
                ToolSpec::new(
                    "send_email",
                    "Sends an email to one recipient",
                    json!({"type": "object"}),
                ),
                ToolSpec::new(
                    "list_inbox",
                    format!("Lists the inbox. {long}"),
                    json!({"type": "object"}),
                ),
            ],
        );
        catalog.add_tools(
            "weather",
            provider,
            vec![
                ToolSpec::new("get_forecast", "Weather forecast for a city", json!({"type": "object"})),
                // The same name as a mail tool: both are offered by their paths.
                ToolSpec::new("send_email", "Emails a forecast", json!({"type": "object"})),
            ],
        );
        catalog
    }

    #[test]
    fn a_catalog_that_fits_is_offered_whole_and_a_larger_one_by_rank() {
        let catalog = catalog();
        let (all, tokens) = offered_functions(&catalog, "email the forecast", 10_000);
        let names: Vec<&str> = all.iter().map(|f| f.function.name.as_str()).collect();
        assert_eq!(
            names,
            ["list_inbox", "mail.send_email", "get_forecast", "weather.send_email"]
        );
        assert_eq!(all[3].path, "weather.send_email");
        assert!(tokens > 400, "{tokens}");
        // The long inbox tool does not fit in 200 tokens.
        let (ranked, used) = offered_functions(&catalog, "email the forecast", 200);
        let names: Vec<&str> = ranked.iter().map(|f| f.function.name.as_str()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&"mail.send_email") && names.contains(&"get_forecast"));
        assert!(used <= 200);
        // A request that matches nothing still gets what fits, in path order.
        let (unranked, _) = offered_functions(&catalog, "zzz", 200);
        let names: Vec<&str> = unranked.iter().map(|f| f.function.name.as_str()).collect();
        assert_eq!(names, ["mail.send_email", "get_forecast", "weather.send_email"]);
    }

    #[test]
    fn long_results_are_cut_with_a_note() {
        assert_eq!(cut("short"), "short");
        let long = "é".repeat(RESULT_CHARS + 10);
        let out = cut(&long);
        assert!(
            out.ends_with("[... 10 more characters not shown]"),
            "{}",
            &out[out.len() - 50..]
        );
        assert_eq!(out.chars().filter(|c| *c == 'é').count(), RESULT_CHARS);
    }
}
