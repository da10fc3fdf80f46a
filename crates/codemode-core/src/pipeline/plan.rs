//! Step 1, **plan**: the strategy model writes numbered steps for the request, seeing the
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

/// The plan for `query`, trimmed, without its optional steps.
pub(super) async fn plan(
    ctx: &RunContext<'_>,
    llm: &dyn Llm,
    query: &str,
    catalog: &ToolCatalog,
) -> Result<String, StepFailure> {
    let mut namespaces = String::new();
    let samples = if catalog.len() <= PLAN_WHOLE_CATALOG {
        PLAN_WHOLE_CATALOG
    } else {
        PLAN_SAMPLES_PER_NAMESPACE
    };
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
    let user = prompts::render(
        prompts::PLAN_USER,
        &[
            ("query", query),
            ("tool_count", &catalog.len().to_string()),
            ("namespaces", namespaces.trim_end()),
        ],
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
    use super::without_optional_steps;

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
