//! The modes of one eval side by side (`--modes pipeline,agent,direct`): per suite and mode,
//! tasks passed, model calls, tokens, tool calls and time, over all tasks and over the
//! multi-step ones (more than one dependent tool call: chains, loops, filters, conditions,
//! fan-outs), where code mode should save most.

use serde::Serialize;

use super::task_result::TaskResult;

/// Task kinds that need several tool calls whose order or results matter.
const MULTI_STEP_KINDS: [&str; 5] = ["chain", "conditional", "filter", "loop", "parallel"];

/// One suite run in one mode.
#[derive(Debug, Serialize, PartialEq)]
pub struct ModeSummary {
    pub suite: String,
    pub mode: String,
    pub tasks: usize,
    pub passed: usize,
    /// Runs that said they were done (`success`, `answered`) but left the wrong state.
    pub false_successes: usize,
    pub multi_step_tasks: usize,
    pub multi_step_passed: usize,
    /// Model calls of every role.
    pub model_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub multi_step_prompt_tokens: u64,
    /// Calls to MCP tools.
    pub tool_calls: usize,
    pub total_ms: f64,
    /// Direct calling: the fewest and most tools offered to a task as functions, and the
    /// most in a task's catalog (fewer offered than in the catalog: cut to the search's best).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offered_tools: Option<OfferedTools>,
}

/// How many tools a mode offered its tasks as functions.
#[derive(Debug, Serialize, PartialEq, Clone, Copy)]
pub struct OfferedTools {
    pub fewest: u64,
    pub most: u64,
    /// The largest catalog of the suite's tasks.
    pub catalog: u64,
}

/// The summaries of `tasks`, suites and modes in the order they first appear.
pub fn summarize(tasks: &[&TaskResult]) -> Vec<ModeSummary> {
    let mut summaries: Vec<ModeSummary> = Vec::new();
    for r in tasks {
        let at = match summaries.iter().position(|s| s.suite == r.suite && s.mode == r.mode) {
            Some(at) => at,
            None => {
                summaries.push(ModeSummary {
                    suite: r.suite.clone(),
                    mode: r.mode.clone(),
                    tasks: 0,
                    passed: 0,
                    false_successes: 0,
                    multi_step_tasks: 0,
                    multi_step_passed: 0,
                    model_calls: 0,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    multi_step_prompt_tokens: 0,
                    tool_calls: 0,
                    total_ms: 0.0,
                    offered_tools: None,
                });
                summaries.len() - 1
            }
        };
        let s = &mut summaries[at];
        let multi_step = MULTI_STEP_KINDS.contains(&r.kind.as_str());
        let prompt: u64 = r.models.values().map(|u| u.prompt_tokens).sum();
        s.tasks += 1;
        s.passed += usize::from(r.passed);
        s.false_successes += usize::from(!r.passed && matches!(r.result_type.as_str(), "success" | "answered"));
        s.multi_step_tasks += usize::from(multi_step);
        s.multi_step_passed += usize::from(multi_step && r.passed);
        s.model_calls += r.models.values().map(|u| u.calls).sum::<u64>();
        s.prompt_tokens += prompt;
        s.completion_tokens += r.models.values().map(|u| u.completion_tokens).sum::<u64>();
        if multi_step {
            s.multi_step_prompt_tokens += prompt;
        }
        s.tool_calls += r.tool_calls;
        s.total_ms += r.total_ms;
        let count = |key: &str| r.output.get(key).and_then(serde_json::Value::as_u64);
        if let (Some(offered), Some(catalog)) = (count("offered_tools"), count("catalog_tools")) {
            let o = s.offered_tools.get_or_insert(OfferedTools {
                fewest: offered,
                most: offered,
                catalog,
            });
            o.fewest = o.fewest.min(offered);
            o.most = o.most.max(offered);
            o.catalog = o.catalog.max(catalog);
        }
    }
    summaries
}

/// The comparison table, one block per suite run in more than one mode ("" when none was).
pub fn table(summaries: &[ModeSummary]) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let mut suites: Vec<&str> = summaries.iter().map(|s| s.suite.as_str()).collect();
    suites.dedup();
    for suite in suites {
        let rows: Vec<&ModeSummary> = summaries.iter().filter(|s| s.suite == suite).collect();
        if rows.len() < 2 {
            continue;
        }
        let _ = writeln!(
            t,
            "{suite}: {:<9} {:>7} {:>10} {:>6} {:>7} {:>11} {:>10} {:>13} {:>6} {:>7}",
            "mode", "passed", "multi-step", "false", "model", "prompt", "completion", "multi-step", "tool", "min"
        );
        let _ = writeln!(
            t,
            "{:<w$} {:<9} {:>7} {:>10} {:>6} {:>7} {:>11} {:>10} {:>13} {:>6} {:>7}",
            "",
            "",
            "",
            "passed",
            "succ.",
            "calls",
            "tokens",
            "tokens",
            "prompt tok.",
            "calls",
            "",
            w = suite.len() + 1
        );
        for s in &rows {
            let _ = writeln!(
                t,
                "{:<w$} {:<9} {:>7} {:>10} {:>6} {:>7} {:>11} {:>10} {:>13} {:>6} {:>7.1}",
                "",
                s.mode,
                format!("{}/{}", s.passed, s.tasks),
                format!("{}/{}", s.multi_step_passed, s.multi_step_tasks),
                s.false_successes,
                s.model_calls,
                s.prompt_tokens,
                s.completion_tokens,
                s.multi_step_prompt_tokens,
                s.tool_calls,
                s.total_ms / 60_000.0,
                w = suite.len() + 1
            );
        }
        // Direct calling whose catalog was cut to the search's best.
        let cut = rows
            .iter()
            .filter_map(|s| Some((s, s.offered_tools.filter(|o| o.most < o.catalog)?)));
        for (s, o) in cut {
            let range = if o.fewest == o.most {
                o.most.to_string()
            } else {
                format!("{}-{}", o.fewest, o.most)
            };
            let _ = writeln!(
                t,
                "{:<w$} {}: offered {range} of {} tools a task, the search's best for the request first (the definitions that fit their token budget)",
                "",
                s.mode,
                o.catalog,
                w = suite.len() + 1
            );
        }
        let _ = writeln!(t);
    }
    t
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use codemode::TokenUsage;

    use super::*;
    use crate::cli::EvalMode;

    fn task(mode: EvalMode, kind: &str, passed: bool, result_type: &str, prompt: u64) -> TaskResult {
        let mut r = TaskResult::new("demo", mode, "t", kind, "q");
        r.passed = passed;
        r.result_type = result_type.into();
        r.tool_calls = 2;
        r.total_ms = 30_000.0;
        r.models = BTreeMap::from([
            (
                "main".to_string(),
                TokenUsage {
                    prompt_tokens: prompt,
                    completion_tokens: 10,
                    calls: 2,
                    counted_calls: 0,
                },
            ),
            (
                "tiny".to_string(),
                TokenUsage {
                    prompt_tokens: 5,
                    completion_tokens: 1,
                    calls: 1,
                    counted_calls: 0,
                },
            ),
        ]);
        r
    }

    #[test]
    fn modes_are_summed_apart_and_multi_step_tasks_counted_on_their_own() {
        let mut tasks = [
            task(EvalMode::Pipeline, "chain", true, "success", 100),
            task(EvalMode::Pipeline, "single", false, "success", 50),
            task(EvalMode::Direct, "chain", false, "answered", 400),
            task(EvalMode::Direct, "single", true, "answered", 70),
        ];
        tasks[2].output = serde_json::json!({"offered_tools": 20, "catalog_tools": 44});
        tasks[3].output = serde_json::json!({"offered_tools": 28, "catalog_tools": 44});
        let refs: Vec<&TaskResult> = tasks.iter().collect();
        let summaries = summarize(&refs);
        assert_eq!(summaries.len(), 2);
        let [pipeline, direct] = [&summaries[0], &summaries[1]];
        assert_eq!((pipeline.mode.as_str(), direct.mode.as_str()), ("pipeline", "direct"));
        assert_eq!(
            (pipeline.passed, pipeline.multi_step_passed, pipeline.multi_step_tasks),
            (1, 1, 1)
        );
        assert_eq!(
            (direct.passed, direct.multi_step_passed, direct.false_successes),
            (1, 0, 1)
        );
        assert_eq!(pipeline.false_successes, 1);
        assert_eq!(pipeline.prompt_tokens, 100 + 5 + 50 + 5);
        assert_eq!(direct.multi_step_prompt_tokens, 405);
        assert_eq!((direct.model_calls, direct.tool_calls), (6, 4));
        let table = table(&summaries);
        assert!(table.contains("pipeline") && table.contains("direct"), "{table}");
        assert!(table.contains("1/2"), "{table}");
        assert_eq!(
            direct.offered_tools,
            Some(OfferedTools {
                fewest: 20,
                most: 28,
                catalog: 44
            })
        );
        assert_eq!(pipeline.offered_tools, None);
        assert!(table.contains("direct: offered 20-28 of 44 tools a task"), "{table}");
        assert_eq!(
            super::table(&summaries[..1]),
            "",
            "one mode alone has nothing to compare"
        );
    }
}
