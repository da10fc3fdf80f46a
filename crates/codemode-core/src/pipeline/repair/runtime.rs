//! After step 6, **runtime repair**: a program that failed at run time goes back to the main
//! model with the error, its TypeScript line, the tool calls it made and its console; the new
//! program is checked (step 5) and run (step 6) again. At most `max_runtime_repairs` times,
//! and only when `rerun_policy` says running again is safe. Under `replay` (the default) the
//! new run repeats no call: the successful calls of the earlier attempts are answered from
//! their record (`CatalogBridge::with_replay`).

use super::line_edit::same_program;
use crate::catalog::{CatalogEntry, ToolCatalog};
use crate::limits::RerunPolicy;
use crate::pipeline::execute::Executed;
use crate::pipeline::run::{RunContext, StepFailure};
use crate::prompts;
use crate::report::{ResultType, RunAttempt, RunReport};
use codemode_traits::{Llm, LlmError, Message, Sampling, ToolCallRecord};

/// Tool calls and console lines quoted to the model, at most.
const QUOTED_ITEMS: usize = 20;
/// Characters of one quoted argument list, result or console line, at most.
const QUOTED_CHARS: usize = 300;
/// Tokens of a quoted argument list or result that is longer than [`QUOTED_CHARS`].
const QUOTED_TOKENS: usize = 90;

/// The failure a new program may fix: the program threw, or a tool call it did not handle
/// failed. Limits (time, memory, calls) and environment failures are not the program's text.
pub(in crate::pipeline) fn repairable(executed: &Executed) -> Option<(ResultType, &str)> {
    match &executed.result {
        Err(StepFailure::Ended { result_type, message })
            if matches!(result_type, ResultType::RuntimeError | ResultType::ToolError) =>
        {
            Some((*result_type, message.as_str()))
        }
        _ => None,
    }
}

/// Why the program may not run again under `policy`, or `None` when it may.
pub(in crate::pipeline) fn refusal(
    policy: RerunPolicy,
    calls: &[ToolCallRecord],
    catalog: &ToolCatalog,
) -> Option<String> {
    match policy {
        RerunPolicy::Always | RerunPolicy::Replay => None,
        RerunPolicy::Never => Some("not repaired: rerun_policy = never".into()),
        RerunPolicy::ReadOnly => {
            let read_only = |path: &str| catalog.resolve(path).is_some_and(CatalogEntry::is_read_only);
            let writer = calls.iter().find(|c| !read_only(&c.path))?;
            Some(format!(
                "not repaired: running it again would repeat its call to tools.{}, which is not annotated \
                 read-only (rerun_policy = read_only; set it to `always` to allow)",
                writer.path
            ))
        }
    }
}

/// The attempt as the report lists it.
pub(in crate::pipeline) fn attempt(
    code: &str,
    executed: &Executed,
    result_type: ResultType,
    error: &str,
) -> RunAttempt {
    RunAttempt {
        code: code.to_string(),
        result_type,
        error: error.to_string(),
        error_line: executed.error_line,
        console: executed.console.clone(),
        tool_calls: executed.tool_calls.clone(),
    }
}

/// Ends the run with the attempt listed last, which is not an earlier attempt after all:
/// its failure, calls and console become the report's, with `note` added to the error.
pub(in crate::pipeline) fn end_with_last_attempt(report: &mut RunReport, note: &str) {
    let Some(last) = report.runtime_attempts.pop() else {
        return;
    };
    report.runtime_repairs = report.runtime_repairs.saturating_sub(1);
    report.result_type = last.result_type;
    report.error = Some(format!("{}; {note}", last.error));
    report.error_line = last.error_line;
    report.console = last.console;
    report.tool_calls = last.tool_calls;
    report.code = Some(last.code);
}

/// Asks the main model for a program that does not fail the way `executed` did;
/// `conversation` ends with the answer that held `code`. An answer that is the failing program
/// again is asked for once more in a fresh, shorter conversation, sampled
/// ([`Sampling::Varied`]; seen with a small model); the same program twice is returned as it is, and the caller does not run it again.
pub(in crate::pipeline) async fn ask_for_fix(
    ctx: &RunContext<'_>,
    main: &dyn Llm,
    conversation: &mut Vec<Message>,
    code: &str,
    executed: &Executed,
    error: &str,
) -> Result<String, LlmError> {
    let line = executed
        .error_line
        .and_then(|n| code.lines().nth((n as usize).saturating_sub(1)).map(|text| (n, text)))
        .map_or_else(String::new, |(n, text)| format!("    {n} | {}\n", text.trim_end()));
    let hints = hints(error, &executed.tool_calls);
    conversation.push(Message::user(prompts::render(
        prompts::RUNTIME_REPAIR_USER,
        &[
            ("error", error),
            ("line", &line),
            ("call_count", &executed.tool_calls.len().to_string()),
            ("calls", &quote_calls(&executed.tool_calls)),
            ("console", &quote_lines(&executed.console)),
            ("hints", &hints),
        ],
    )));
    let fixed = ctx.ask_program(main, "runtime_repair", conversation).await?;
    if !same_program(&fixed, code) {
        return Ok(fixed);
    }
    tracing::info!("the runtime repair returned the same program; asking again in a fresh conversation");
    let mut fresh = crate::pipeline::implement::opening(conversation);
    fresh.push(Message::assistant(format!("```typescript\n{}\n```", code.trim_end())));
    fresh.push(Message::user(prompts::render(
        prompts::RUNTIME_REPAIR_AGAIN_USER,
        &[("error", error), ("line", &line), ("hints", &hints)],
    )));
    let fixed = ctx
        .ask_program_sampled(main, "runtime_repair", &mut fresh, Sampling::Varied)
        .await?;
    *conversation = fresh;
    Ok(fixed)
}

/// Advice for the errors a wrong guess about a tool's result gives: a program that iterates
/// (or maps) the object a tool returned is told where the list is. Empty when none applies.
fn hints(error: &str, calls: &[ToolCallRecord]) -> String {
    if !(error.contains("not iterable") || error.contains("not a function")) {
        return String::new();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = String::new();
    for call in calls {
        let Some(serde_json::Value::Object(map)) = &call.result else {
            continue;
        };
        if !seen.insert(call.path.as_str()) {
            continue;
        }
        let arguments = match &call.arguments {
            serde_json::Value::Object(a) if !a.is_empty() => clip(&call.arguments.to_string()),
            _ => "{}".to_string(),
        };
        for key in map.iter().filter(|(_, v)| v.is_array()).map(|(k, _)| k) {
            out.push_str(&format!(
                "\ntools.{path}() returns an object, not an array: its list is the property `{key}`. \
                 Write `const {{ {key} }} = await tools.{path}({arguments});` to get the array.\n",
                path = call.path
            ));
        }
    }
    out
}

/// A JSON value as quoted to the model: whole when short, else cut to about
/// [`QUOTED_TOKENS`] with its structure kept and the cuts marked in it.
fn quote_value(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= QUOTED_CHARS {
        return text;
    }
    crate::report::budget::fit_json(value, QUOTED_TOKENS).value.to_string()
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

fn quote_calls(calls: &[ToolCallRecord]) -> String {
    if calls.is_empty() {
        return "(none)".into();
    }
    let mut out: Vec<String> = calls
        .iter()
        .take(QUOTED_ITEMS)
        .map(|c| {
            let outcome = match (&c.result, &c.error) {
                (_, Some(e)) => format!("threw: {}", clip(e)),
                (Some(v), None) => format!("returned {}: {}", shape(v), quote_value(v)),
                (None, None) => "returned nothing".into(),
            };
            let arguments = match &c.arguments {
                serde_json::Value::Null => String::new(),
                a => quote_value(a),
            };
            format!("- tools.{}({arguments}) {outcome}", c.path)
        })
        .collect();
    if calls.len() > QUOTED_ITEMS {
        out.push(format!("- ... and {} more", calls.len() - QUOTED_ITEMS));
    }
    out.join("\n")
}

/// What a value is, in words a model reads right (seen: a model iterating the object a
/// tool returned, `{ channels: [...] }`, as if it were the array).
fn shape(value: &serde_json::Value) -> String {
    use serde_json::Value;
    let kind = |v: &Value| match v {
        Value::Array(items) => format!("an array of {}", items.len()),
        Value::Object(_) => "an object".to_string(),
        Value::String(_) => "a string".to_string(),
        Value::Number(_) => "a number".to_string(),
        Value::Bool(_) => "a boolean".to_string(),
        Value::Null => "null".to_string(),
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.iter().map(|(k, v)| format!("`{k}` ({})", kind(v))).collect();
            format!("an object (not an array) with {}", keys.join(", "))
        }
        v => kind(v),
    }
}

fn quote_lines(lines: &[String]) -> String {
    if lines.is_empty() {
        return "(none)".into();
    }
    let mut out: Vec<String> = lines.iter().take(QUOTED_ITEMS).map(|l| clip(l)).collect();
    if lines.len() > QUOTED_ITEMS {
        out.push(format!("... and {} more lines", lines.len() - QUOTED_ITEMS));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use codemode_traits::{StaticToolProvider, ToolSpec};
    use serde_json::json;

    fn call(path: &str) -> ToolCallRecord {
        ToolCallRecord {
            path: path.into(),
            arguments: json!({}),
            result: Some(json!([])),
            error: None,
            started_ms: 0.0,
            duration_ms: 1.0,
            looks_like_error: false,
            replayed: false,
        }
    }

    #[test]
    fn only_read_only_calls_may_be_repeated_under_read_only() {
        let spec = |name: &str, read_only: Option<bool>| ToolSpec {
            annotations: read_only.map(codemode_traits::ToolAnnotations::read_only_hint),
            ..ToolSpec::new(name, "a tool", json!({"type": "object"}))
        };
        let tools = vec![
            spec("list", Some(true)),
            spec("post", Some(false)),
            spec("unknown", None),
        ];
        let mut catalog = ToolCatalog::new();
        catalog.add_tools("ws", std::sync::Arc::new(StaticToolProvider::default()), tools);
        let policy = RerunPolicy::ReadOnly;
        assert_eq!(refusal(policy, &[], &catalog), None);
        assert_eq!(refusal(policy, &[call("ws.list"), call("ws.list")], &catalog), None);
        let post = refusal(policy, &[call("ws.list"), call("ws.post")], &catalog).unwrap();
        assert!(
            post.contains("tools.ws.post") && post.contains("rerun_policy"),
            "{post}"
        );
        assert!(
            refusal(policy, &[call("ws.unknown")], &catalog).is_some(),
            "no annotation: not read-only"
        );
        assert_eq!(refusal(RerunPolicy::Always, &[call("ws.post")], &catalog), None);
        // `replay` (the default) runs again without repeating a call.
        assert_eq!(refusal(RerunPolicy::Replay, &[call("ws.post")], &catalog), None);
        assert_eq!(RerunPolicy::default(), RerunPolicy::Replay);
        assert!(refusal(RerunPolicy::Never, &[], &catalog).is_some());
    }

    #[test]
    fn a_program_iterating_a_result_object_is_told_where_the_list_is() {
        let mut list = call("ws.list_channels");
        list.result = Some(json!({"channels": [{"name": "general"}], "total": 1}));
        let hint = hints("TypeError: value is not iterable", &[list.clone(), list.clone()]);
        assert_eq!(
            hint.trim(),
            "tools.ws.list_channels() returns an object, not an array: its list is the property `channels`. \
             Write `const { channels } = await tools.ws.list_channels({});` to get the array."
        );
        assert_eq!(hints("TypeError: cannot read property 'x' of undefined", &[list]), "");
    }

    #[test]
    fn calls_and_console_are_quoted_short() {
        let mut calls: Vec<ToolCallRecord> = (0..25).map(|_| call("ws.list")).collect();
        calls[0].error = Some("x".repeat(1000));
        let quoted = quote_calls(&calls);
        assert!(quoted.starts_with("- tools.ws.list({}) threw: xxx"), "{quoted}");
        calls[1].arguments = serde_json::Value::Null;
        calls[1].result = Some(json!({"channels": [1, 2]}));
        let second = quote_calls(&calls).lines().nth(1).unwrap().to_string();
        assert_eq!(
            second,
            "- tools.ws.list() returned an object (not an array) with `channels` (an array of 2): {\"channels\":[1,2]}"
        );
        assert!(quoted.contains("... and 5 more"), "{quoted}");
        // A long result keeps its structure, cut where it says.
        let rows: Vec<_> = (0..500)
            .map(|i| json!({"id": i, "name": format!("channel {i}")}))
            .collect();
        calls[2].result = Some(json!({"channels": rows, "total": 500}));
        let third = quote_calls(&calls).lines().nth(2).unwrap().to_string();
        let quoted_json = third.split_once(": ").unwrap().1;
        let value: serde_json::Value = serde_json::from_str(quoted_json).unwrap();
        assert_eq!(value["total"], 500);
        assert!(
            value["channels"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .as_str()
                .unwrap()
                .contains("more items cut")
        );
        assert!(third.len() < 600, "{third}");
        assert!(quoted.lines().next().unwrap().len() < QUOTED_CHARS + 60);
        assert_eq!(quote_lines(&[]), "(none)");
    }
}
