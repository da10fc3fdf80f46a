//! Step 1, **plan**: the strategy model writes numbered steps for the request, seeing the
//! catalog: tool by tool with arguments and descriptions when it is small, else its
//! namespaces and a sample of their tool names.

use std::fmt::Write as _;

use super::run::{RunContext, StepFailure};
use crate::catalog::ToolCatalog;
use crate::llm::{Llm, LlmRole, Message};
use crate::prompts;

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
        .ask(
            llm,
            LlmRole::Strategy,
            "plan",
            vec![
                Message::system(prompts::PLAN_SYSTEM),
                Message::user(prompts::PLAN_EXAMPLE_USER),
                Message::assistant(prompts::PLAN_EXAMPLE_ASSISTANT),
                Message::user(user),
            ],
        )
        .await?;
    Ok(without_optional_steps(answer.trim()))
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

    use super::{PLAN_WHOLE_CATALOG, catalog_for_planner, without_optional_steps};
    use crate::catalog::ToolCatalog;
    use crate::tool::{StaticToolProvider, ToolSpec};

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
