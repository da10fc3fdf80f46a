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

/// The plan for `query`, trimmed.
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
    Ok(answer.trim().to_string())
}
