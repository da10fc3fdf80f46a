//! The prompts of each step. They live in `prompts/*.md`; `{{name}}` marks a slot.

pub(crate) const PLAN_SYSTEM: &str = include_str!("../prompts/plan_system.md");
pub(crate) const PLAN_USER: &str = include_str!("../prompts/plan_user.md");
/// The catalog for the planner tool by tool, with arguments and descriptions (small catalogs).
pub(crate) const PLAN_CATALOG_DESCRIBED: &str = include_str!("../prompts/plan_catalog_described.md");
/// The catalog for the planner as namespaces with sample tool names (large catalogs).
pub(crate) const PLAN_CATALOG_NAMESPACES: &str = include_str!("../prompts/plan_catalog_namespaces.md");
/// A request and its plan, sent as an earlier turn of the conversation: a small model copies
/// an example written into the instructions (seen: "Return the number of open issues"
/// planned as the example's "close the issues labelled duplicate").
pub(crate) const PLAN_EXAMPLE_USER: &str = include_str!("../prompts/plan_example_user.md");
pub(crate) const PLAN_EXAMPLE_ASSISTANT: &str = include_str!("../prompts/plan_example_assistant.md");
pub(crate) const FILTER_SYSTEM: &str = include_str!("../prompts/filter_system.md");
pub(crate) const FILTER_USER: &str = include_str!("../prompts/filter_user.md");
pub(crate) const FILTER_RETRY: &str = include_str!("../prompts/filter_retry.md");
/// Words a helpful tool's description would contain, for the search over a large catalog.
pub(crate) const SEARCH_KEYWORDS_SYSTEM: &str = include_str!("../prompts/search_keywords_system.md");
pub(crate) const SEARCH_KEYWORDS_USER: &str = include_str!("../prompts/search_keywords_user.md");
pub(crate) const IMPLEMENT_SYSTEM: &str = include_str!("../prompts/implement_system.md");
pub(crate) const IMPLEMENT_USER: &str = include_str!("../prompts/implement_user.md");
/// A worked request and program, sent as an earlier turn for the same reason as the plan's.
pub(crate) const IMPLEMENT_EXAMPLE_USER: &str = include_str!("../prompts/implement_example_user.md");
pub(crate) const IMPLEMENT_EXAMPLE_ASSISTANT: &str = include_str!("../prompts/implement_example_assistant.md");
pub(crate) const REPAIR_USER: &str = include_str!("../prompts/repair_user.md");
pub(crate) const REPAIR_AGAIN_USER: &str = include_str!("../prompts/repair_again_user.md");
/// A repair sent back unchanged: only the first failing line is asked for.
pub(crate) const REPAIR_LINE_USER: &str = include_str!("../prompts/repair_line_user.md");
/// Added to a repair when the program called tools its declarations lacked (the check's
/// second chance): the catalog's tools for those calls, declared.
pub(crate) const REPAIR_DECLARED_TOOLS: &str = include_str!("../prompts/repair_declared_tools.md");
/// One line per called path the catalog does not have, after [`REPAIR_DECLARED_TOOLS`].
pub(crate) const REPAIR_UNKNOWN_TOOL: &str = include_str!("../prompts/repair_unknown_tool.md");
pub(crate) const RUNTIME_REPAIR_USER: &str = include_str!("../prompts/runtime_repair_user.md");
pub(crate) const RUNTIME_REPAIR_AGAIN_USER: &str = include_str!("../prompts/runtime_repair_again_user.md");
pub(crate) const NO_CODE_USER: &str = include_str!("../prompts/no_code_user.md");
pub(crate) const TRUNCATED_USER: &str = include_str!("../prompts/truncated_user.md");

/// Fills the `{{name}}` slots of a template. Slots are filled in one pass, so text that
/// comes in through a value is never treated as a slot.
pub(crate) fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                match values.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_slots_once() {
        assert_eq!(
            render("a {{x}} b {{y}} {{z}}", &[("x", "{{y}}"), ("y", "2")]),
            "a {{y}} b 2 {{z}}"
        );
        assert!(render(PLAN_USER, &[("query", "q")]).contains("User request:\nq"));
        // Every slot of every template is one the code fills.
        for (template, slots) in [
            (PLAN_USER, &["catalog", "query"][..]),
            (PLAN_CATALOG_DESCRIBED, &["tool_count", "tools"][..]),
            (PLAN_CATALOG_NAMESPACES, &["tool_count", "namespaces"][..]),
            (REPAIR_LINE_USER, &["line", "diagnostics"][..]),
        ] {
            let values: Vec<(&str, &str)> = slots.iter().map(|s| (*s, "")).collect();
            assert!(!render(template, &values).contains("{{"), "{template}");
        }
    }
}
