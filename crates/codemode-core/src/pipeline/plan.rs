//! Step 1, **plan**: the strategy model writes numbered steps for the request, seeing the
//! catalog: tool by tool with arguments and descriptions when it is small, else its
//! namespaces and a sample of their tool names.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::run::{RunContext, StepFailure};
use crate::catalog::ToolCatalog;
use crate::prompts;
use codemode_traits::{Llm, LlmRole, Message};

/// How many tool names per namespace the planner sees in a large catalog.
const PLAN_SAMPLES_PER_NAMESPACE: usize = 8;
/// A catalog this small is shown whole: a planner that cannot see `send_message` among the
/// first eight names plans around it.
const PLAN_WHOLE_CATALOG: usize = 60;
/// A whole catalog whose lines (`path(arguments): description`) fit in this many characters
/// is shown tool by tool: from names alone the 1.5B planner sent chat messages with
/// `send_email` and reacted to a channel instead of its messages (eval, issue 13).
const PLAN_DESCRIBED_CATALOG_CHARS: usize = 3_000;
/// How much of each description the planner sees.
const PLAN_DESCRIPTION_CHARS: usize = 100;
/// Most tokens a plan may take. Plans that do their job are short (the 1.5B planner's:
/// median 65 tokens, at most 162 on the demo and real-server suites); a plan that runs
/// longer repeats its steps (16 of 48 LiveMCPBench plans went on to the server's 1,024
/// tokens, "Call airbnb_search ... Loop over the results ..." forty times), which took up
/// to 140 s of a task and filled the search text and the filter's prompt with noise.
pub(super) const PLAN_MAX_TOKENS: u32 = 384;

/// The plan for `query`, trimmed, without its optional steps.
pub(super) async fn plan(
    ctx: &RunContext<'_>,
    llm: &dyn Llm,
    query: &str,
    catalog: &ToolCatalog,
) -> Result<String, StepFailure> {
    // The catalog comes before the request, so runs against one catalog share the prompt's
    // opening (a local server reuses its evaluated prefix).
    let user = prompts::render(
        prompts::PLAN_USER,
        &[("catalog", catalog_for_planner(catalog).trim_end()), ("query", query)],
    );
    let answer = ctx
        .ask_brief(
            llm,
            LlmRole::Strategy,
            "plan",
            vec![
                Message::system(prompts::PLAN_SYSTEM),
                Message::user(prompts::PLAN_EXAMPLE_USER),
                Message::assistant(prompts::PLAN_EXAMPLE_ASSISTANT),
                Message::user(user),
            ],
            PLAN_MAX_TOKENS,
        )
        .await?;
    Ok(with_real_tool_names(&without_optional_steps(answer.trim()), catalog))
}

/// The plan with each tool path it invents inside a real namespace (`filesystem.create_file`
/// where the server has `write_file`) replaced by that namespace's tool the search ranks
/// best for the invented name and its line. Seen with a 1.5B planner: the invented name went
/// on into the program and through every repair, which the type check refused each time.
fn with_real_tool_names(plan: &str, catalog: &ToolCatalog) -> String {
    let namespaces: BTreeSet<&str> = catalog.entries().map(|e| e.namespace.as_str()).collect();
    let mut out = String::with_capacity(plan.len());
    for line in plan.split_inclusive('\n') {
        let mut rest = line;
        while let Some((before, path, after)) = next_path(rest) {
            out.push_str(before);
            let replacement = match path.split_once('.') {
                Some((ns, name)) if namespaces.contains(ns) && catalog.tool(path).is_none() => {
                    let words = name.replace(['_', '-'], " ");
                    catalog
                        .search(&format!("{words}\n{words}\n{line}"), SEARCH_FOR_INVENTED)
                        .into_iter()
                        .find(|hit| hit.path.split_once('.').is_some_and(|(n, _)| n == ns))
                        .map(|hit| {
                            tracing::debug!(invented = path, real = %hit.path, "the plan named a tool that does not exist");
                            hit.path
                        })
                }
                _ => None,
            };
            out.push_str(replacement.as_deref().unwrap_or(path));
            rest = after;
        }
        out.push_str(rest);
    }
    out
}

/// Hits searched for a tool that replaces an invented one.
const SEARCH_FOR_INVENTED: usize = 20;

/// The next `a.b` path in `text` (two identifiers joined by one dot): the text before it,
/// the path, the text after it.
fn next_path(text: &str) -> Option<(&str, &str, &str)> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$' || c == '-';
    let mut start = None;
    let mut dot = None;
    for (i, c) in text.char_indices() {
        match (start, dot) {
            (None, _) if is_ident(c) && !c.is_ascii_digit() && c != '-' => start = Some(i),
            (Some(_), None) if c == '.' => dot = Some(i),
            (Some(s), Some(d)) if !is_ident(c) => {
                if i > d + 1 && text[s..d].chars().all(is_ident) {
                    return Some((&text[..s], &text[s..i], &text[i..]));
                }
                start = None;
                dot = None;
                if is_ident(c) {
                    start = Some(i);
                }
            }
            (Some(_), None) if !is_ident(c) => start = None,
            _ => {}
        }
    }
    match (start, dot) {
        (Some(s), Some(d)) if text.len() > d + 1 => Some((&text[..s], &text[s..], "")),
        _ => None,
    }
}

/// The catalog as the planner sees it: tool by tool with arguments and descriptions when it
/// is small, else its namespaces with counts and sample names.
fn catalog_for_planner(catalog: &ToolCatalog) -> String {
    let tool_count = catalog.len().to_string();
    if catalog.len() <= PLAN_WHOLE_CATALOG {
        let mut tools = String::new();
        for entry in catalog.entries() {
            let _ = writeln!(tools, "- {}", entry.brief(PLAN_DESCRIPTION_CHARS));
        }
        if !tools.is_empty() && tools.len() <= PLAN_DESCRIBED_CATALOG_CHARS {
            return prompts::render(
                prompts::PLAN_CATALOG_DESCRIBED,
                &[("tool_count", &tool_count), ("tools", tools.trim_end())],
            );
        }
    }
    let samples = if catalog.len() <= PLAN_WHOLE_CATALOG {
        PLAN_WHOLE_CATALOG
    } else {
        PLAN_SAMPLES_PER_NAMESPACE
    };
    let mut namespaces = String::new();
    for ns in catalog.namespace_summaries(samples) {
        let more = if ns.tool_count > ns.sample_tools.len() {
            ", ..."
        } else {
            ""
        };
        let _ = writeln!(
            namespaces,
            "- {} ({} tools): {}{more}",
            ns.name,
            ns.tool_count,
            ns.sample_tools.join(", ")
        );
    }
    if namespaces.is_empty() {
        namespaces.push_str("(no tools)\n");
    }
    prompts::render(
        prompts::PLAN_CATALOG_NAMESPACES,
        &[("tool_count", &tool_count), ("namespaces", namespaces.trim_end())],
    )
}

/// `plan` without the steps it calls optional ("5. Optionally, close each issue"): the
/// request did not ask for them, and a tool such a step names by path would be kept by the
/// filter and called (seen: the 1.5B planner added "Optionally, call `workspace.close_issue`"
/// to a request to forward emails).
fn without_optional_steps(plan: &str) -> String {
    let optional = |line: &str| {
        let text = line
            .trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | ')' | '-' | '*'))
            .trim_start()
            .trim_start_matches(['(', '['])
            .to_ascii_lowercase();
        text.starts_with("optional")
    };
    let kept: Vec<&str> = plan.lines().filter(|line| !optional(line)).collect();
    if kept.iter().all(|line| line.trim().is_empty()) {
        // Nothing but optional steps: keep the plan as it is rather than none.
        return plan.to_string();
    }
    kept.join("\n").trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::{PLAN_WHOLE_CATALOG, catalog_for_planner, next_path, with_real_tool_names, without_optional_steps};
    use crate::catalog::ToolCatalog;
    use codemode_traits::{StaticToolProvider, ToolSpec};

    fn catalog(namespace: &str, tools: &[(&str, &str)]) -> ToolCatalog {
        let mut catalog = ToolCatalog::new();
        catalog.add_tools(
            namespace,
            Arc::new(StaticToolProvider::new(Vec::new())),
            tools
                .iter()
                .map(|(name, description)| {
                    ToolSpec::new(
                        *name,
                        *description,
                        json!({"type": "object", "properties": {"channel": {}, "text": {}}}),
                    )
                })
                .collect(),
        );
        catalog
    }

    #[test]
    fn a_small_catalog_is_shown_with_arguments_and_descriptions() {
        let long = format!("Post a message\n  to a channel. {}", "x".repeat(300));
        let text = catalog_for_planner(&catalog("chat", &[("send_message", &long), ("list", "")]));
        assert_eq!(
            text,
            format!(
                "Tool catalog (2 tools), each as `path(arguments): what it does`:\n\
                 - chat.list(channel, text)\n\
                 - chat.send_message(channel, text): Post a message to a channel. {}\n",
                "x".repeat(100 - "Post a message to a channel. ".len())
            )
        );
    }

    #[test]
    fn a_large_catalog_is_shown_as_namespaces() {
        let names: Vec<String> = (0..PLAN_WHOLE_CATALOG + 1).map(|i| format!("tool_{i:03}")).collect();
        let tools: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "does a thing")).collect();
        let text = catalog_for_planner(&catalog("big", &tools));
        assert!(
            text.starts_with("Tool catalog (61 tools). Namespaces, their tool counts and some of their tools:\n- big (61 tools): tool_000, tool_001,"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("tool_007, ..."), "{text}");
        assert!(!text.contains("does a thing"), "{text}");
        // A small catalog whose descriptions are too long to list is shown by names too.
        let essays: Vec<(&str, String)> = names[..40].iter().map(|n| (n.as_str(), "y".repeat(200))).collect();
        let essays: Vec<(&str, &str)> = essays.iter().map(|(n, d)| (*n, d.as_str())).collect();
        let text = catalog_for_planner(&catalog("wordy", &essays));
        assert!(text.contains("- wordy (40 tools): tool_000,"), "{text}");
        assert!(!text.contains("yyy"), "{text}");
    }

    #[test]
    fn a_tool_the_plan_invents_in_a_real_namespace_becomes_the_nearest_real_one() {
        let catalog = catalog(
            "filesystem",
            &[
                (
                    "write_file",
                    "Create a new file or overwrite an existing file with new content",
                ),
                ("read_text_file", "Read the contents of a file as text"),
                ("move_file", "Move or rename files"),
            ],
        );
        let plan = "1. Call `filesystem.create_file` with the path and the text.\n\
                    2. Read it back with tools.filesystem.read_text_file.\n\
                    3. Return the result (e.g. result.length).";
        assert_eq!(
            with_real_tool_names(plan, &catalog),
            "1. Call `filesystem.write_file` with the path and the text.\n\
             2. Read it back with tools.filesystem.read_text_file.\n\
             3. Return the result (e.g. result.length)."
        );
        // Paths outside the catalog's namespaces are left as they are.
        assert_eq!(with_real_tool_names("Use os.path.join.", &catalog), "Use os.path.join.");
        assert_eq!(next_path("see a.b."), Some(("see ", "a.b", ".")));
        assert_eq!(next_path("3.5 and 1.x"), None);
    }

    #[test]
    fn optional_steps_are_dropped() {
        let plan = "1. Call `ws.list_inbox`.\n2. Forward each email.\n3. Optionally, call `ws.close_issue`.\n- (optional) log it\n4. Return how many.";
        assert_eq!(
            without_optional_steps(plan),
            "1. Call `ws.list_inbox`.\n2. Forward each email.\n4. Return how many."
        );
        assert_eq!(without_optional_steps("1. Optionally, wait."), "1. Optionally, wait.");
        assert_eq!(without_optional_steps("1. Read the options."), "1. Read the options.");
    }
}
