//! What `execute_code` and `run_task` answer: a compile error as text at program lines, or
//! the run as JSON (result type, value, console, tool calls), cut to the result budget.

use codemode_core::budget::fit_json;
use codemode_core::{ResultType, RunReport, Severity};
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

/// The answer to a program that did not type-check; `{checker}`, `{diagnostics}`.
const COMPILE_ERROR: &str = include_str!("descriptions/compile_error.md");
/// Diagnostics listed in a compile-error answer; the count of the rest follows.
const DIAGNOSTICS_LISTED: usize = 30;

/// The answer to `execute_code`; `namespaces` lists the catalog's, for a compile error.
pub(crate) fn program_answer(report: &RunReport, max_tokens: usize, namespaces: &str) -> CallToolResult {
    if report.result_type == ResultType::CompileError {
        return compile_error(report, namespaces);
    }
    finish(run_fields(report, max_tokens), report)
}

/// The answer to `run_task`: the run's fields and what the models made of the task.
pub(crate) fn task_answer(report: &RunReport, max_tokens: usize) -> CallToolResult {
    let mut fields = run_fields(report, max_tokens);
    if let Some(code) = &report.code {
        fields.insert("code".into(), code.clone().into());
    }
    fields.insert("selected_tools".into(), json!(report.selected_tools));
    fields.insert("repairs".into(), json!(report.repairs + report.runtime_repairs));
    if report.result_type == ResultType::CompileError {
        fields.insert("diagnostics".into(), diagnostics(report).into());
    }
    finish(fields, report)
}

fn finish(fields: Map<String, Value>, report: &RunReport) -> CallToolResult {
    let value = Value::Object(fields);
    if report.is_success() {
        CallToolResult::structured(value)
    } else {
        CallToolResult::structured_error(value)
    }
}

/// A program that did not type-check: the diagnostics, one per line, as the agent's editor
/// would show them.
fn compile_error(report: &RunReport, namespaces: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(crate::fill(
        COMPILE_ERROR,
        &[
            ("checker", report.checker.as_deref().unwrap_or("-").to_string()),
            ("diagnostics", diagnostics(report)),
            ("namespaces", namespaces.to_string()),
        ],
    ))])
}

fn diagnostics(report: &RunReport) -> String {
    let mut sorted: Vec<_> = report.diagnostics.iter().collect();
    sorted.sort_by_key(|d| (d.severity != Severity::Error, d.line, d.column));
    let mut lines: Vec<String> = sorted
        .iter()
        .take(DIAGNOSTICS_LISTED)
        .map(|d| {
            // The built-in checker's explanation of a tsc error (e.g. which namespaces and
            // tools exist), as the pipeline's repairs quote it.
            let hint = report
                .hints
                .iter()
                .find(|h| h.line == d.line && h.code == d.code && h.message != d.message);
            match hint {
                Some(h) => format!("{}\n    hint: {}", d.render("program.ts"), h.message),
                None => d.render("program.ts"),
            }
        })
        .collect();
    if sorted.len() > DIAGNOSTICS_LISTED {
        lines.push(format!("… and {} more", sorted.len() - DIAGNOSTICS_LISTED));
    }
    if lines.is_empty() {
        lines.push(report.error.clone().unwrap_or_default());
    }
    lines.join("\n")
}

/// Result type, value, console, tool calls, error and time, each long part cut to its share
/// of the budget: the value 70 %, the console and the tool calls 15 % each.
fn run_fields(report: &RunReport, max_tokens: usize) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut cuts = Map::new();
    fields.insert("result_type".into(), report.result_type.as_str().into());
    let calls: Vec<Value> = report
        .tool_calls
        .iter()
        .map(|c| {
            let mut call = json!({"path": c.path, "duration_ms": (c.duration_ms * 10.0).round() / 10.0});
            if let Some(e) = &c.error {
                call["error"] = e.clone().into();
            }
            call
        })
        .collect();
    let parts = [
        ("value", report.output.clone(), max_tokens * 7 / 10),
        ("console", json!(report.console), max_tokens * 15 / 100),
        ("tool_calls", Value::Array(calls), max_tokens * 15 / 100),
    ];
    for (name, value, budget) in parts {
        let fitted = fit_json(&value, budget.max(1));
        if let Some(cut) = fitted.cut {
            cuts.insert(name.into(), cut.into());
        }
        fields.insert(name.into(), fitted.value);
    }
    if let Some(error) = &report.error {
        fields.insert("error".into(), error.clone().into());
    }
    if let Some(line) = report.error_line {
        fields.insert("error_line".into(), line.into());
    }
    fields.insert("duration_ms".into(), json!(report.total_duration_ms.round()));
    if !cuts.is_empty() {
        fields.insert("cut".into(), Value::Object(cuts));
    }
    fields
}

#[cfg(test)]
mod tests {
    use codemode_core::{Diagnostic, ToolCallRecord};

    use super::*;

    fn text(result: &CallToolResult) -> String {
        result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect()
    }

    #[test]
    fn a_compile_error_lists_diagnostics_at_program_lines() {
        let report = RunReport {
            result_type: ResultType::CompileError,
            checker: Some("tsc".into()),
            diagnostics: vec![Diagnostic {
                line: 3,
                column: 7,
                code: "TS2339".into(),
                message: "Property 'send_mesage' does not exist".into(),
                severity: Severity::Error,
            }],
            hints: vec![Diagnostic::error(
                3,
                7,
                "TS2339",
                "`chat` has no tool `send_mesage`; its tools: send_message",
            )],
            ..RunReport::default()
        };
        let answer = program_answer(&report, 1_000, "chat (1)");
        assert_eq!(answer.is_error, Some(true));
        let text = text(&answer);
        assert!(text.contains("program.ts:3:7: TS2339 Property 'send_mesage'"), "{text}");
        assert!(text.contains("nothing ran"), "{text}");
        assert!(
            text.contains("does not exist\n    hint: `chat` has no tool `send_mesage`; its tools: send_message"),
            "{text}"
        );
        assert!(text.contains("The namespaces are: chat (1)."), "{text}");
    }

    #[test]
    fn a_large_value_is_cut_and_the_answer_says_so() {
        let rows: Vec<Value> = (0..20_000)
            .map(|i| json!({"id": i, "title": "an issue title"}))
            .collect();
        let report = RunReport {
            result_type: ResultType::Success,
            output: Value::Array(rows),
            tool_calls: vec![ToolCallRecord {
                path: "tracker.list_issues".into(),
                arguments: json!({}),
                result: None,
                error: None,
                started_ms: 0.0,
                duration_ms: 1.25,
                looks_like_error: false,
                replayed: false,
            }],
            ..RunReport::default()
        };
        let answer = program_answer(&report, 2_000, "chat (1)");
        assert_eq!(answer.is_error, Some(false));
        let value = answer.structured_content.unwrap();
        assert!(value["value"].as_array().unwrap().len() < 20_000);
        assert!(value["cut"]["value"].as_str().unwrap().contains("budget 1400"));
        assert_eq!(value["tool_calls"][0]["path"], "tracker.list_issues");
        assert!(codemode_core::tokens::count_tokens(&value.to_string()) < 2_200);
    }

    #[test]
    fn a_runtime_error_is_an_error_with_its_line() {
        let report = RunReport {
            result_type: ResultType::RuntimeError,
            error: Some("TypeError: x is undefined (program.ts line 4)".into()),
            error_line: Some(4),
            ..RunReport::default()
        };
        let answer = program_answer(&report, 1_000, "chat (1)");
        assert_eq!(answer.is_error, Some(true));
        let value = answer.structured_content.unwrap();
        assert_eq!(value["result_type"], "runtime_error");
        assert_eq!(value["error_line"], 4);
    }
}
