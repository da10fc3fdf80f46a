//! JSON values cut to a token budget, for what goes back to a model or an agent: long strings
//! and long arrays are shortened, the structure stays valid JSON, and the cut is said both
//! in the value (a marker where something was left out) and in [`Fitted::cut`].
//!
//! ```
//! use codemode_core::budget::fit_json;
//! use serde_json::json;
//!
//! let rows: Vec<_> = (0..5_000).map(|i| json!({"id": i, "title": format!("row {i}")})).collect();
//! let fitted = fit_json(&json!({"rows": rows}), 500);
//! assert!(fitted.tokens <= 500);
//! let kept = fitted.value["rows"].as_array().unwrap();
//! assert!(kept.len() < 5_000);
//! assert!(kept.last().unwrap().as_str().unwrap().contains("more items cut"));
//! assert!(fitted.cut.unwrap().starts_with("cut from"));
//! ```

use serde_json::{Map, Value};

use crate::report::RunReport;
use crate::report::tokens::count_tokens;
use codemode_traits::ToolCallRecord;

/// The least budget one tool call's arguments or result get in a fitted report, however
/// many calls share it.
const MIN_CALL_TOKENS: usize = 24;

/// How far each step of shortening goes: the longest string kept (characters) and the most
/// array items or object keys kept. Tried in order until the value fits.
const STEPS: [(usize, usize); 10] = [
    (4096, 512),
    (2048, 256),
    (1024, 128),
    (512, 64),
    (256, 32),
    (128, 16),
    (64, 8),
    (32, 4),
    (16, 2),
    (8, 1),
];

/// A value that fits a budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// The value, whole or shortened.
    pub value: Value,
    /// `o200k_base` tokens of the value as compact JSON.
    pub tokens: usize,
    /// What was cut, in a sentence; `None` when the value is whole.
    pub cut: Option<String>,
}

/// `value` as it is when its compact JSON fits `max_tokens`, else shortened step by step
/// (strings cut with `… [N chars cut]`, arrays ending in a `"… [N more items cut]"` item,
/// objects with a `"…"` key saying how many keys were left out) until it fits. A value
/// that no step fits becomes its JSON text, cut, as a string.
pub fn fit_json(value: &Value, max_tokens: usize) -> Fitted {
    let text = value.to_string();
    let whole_tokens = count_tokens(&text) as usize;
    if whole_tokens <= max_tokens {
        return Fitted {
            value: value.clone(),
            tokens: whole_tokens,
            cut: None,
        };
    }
    for (max_chars, max_items) in STEPS {
        let shortened = shorten(value, max_chars, max_items);
        let tokens = count_tokens(&shortened.to_string()) as usize;
        if tokens <= max_tokens {
            return Fitted {
                value: shortened,
                tokens,
                cut: Some(format!(
                    "cut from {whole_tokens} to {tokens} tokens (budget {max_tokens}): strings over {max_chars} characters and lists over {max_items} items or keys were shortened"
                )),
            };
        }
    }
    // Deep nesting that no shortening fits: the text itself, cut at about 3 bytes a token.
    let keep: String = text.chars().take(max_tokens.saturating_mul(3)).collect();
    let value = Value::String(format!("{keep}… [JSON cut]"));
    let tokens = count_tokens(&value.to_string()) as usize;
    Fitted {
        value,
        tokens,
        cut: Some(format!(
            "cut from {whole_tokens} tokens to the first {} characters of its JSON text (budget {max_tokens})",
            keep.chars().count()
        )),
    }
}

impl RunReport {
    /// This report with its long values cut to about `max_tokens` in all, for printing or
    /// for a model to read: the returned value gets half, the tool calls' arguments and
    /// results 30 % (shared between the calls, at least 24 tokens each), the console 20 %.
    /// Each cut keeps the value's structure (see [`fit_json`]) and is said in
    /// [`RunReport::cuts`]. `max_tokens == 0` keeps everything. The program itself always
    /// saw the whole values.
    ///
    /// ```
    /// use codemode_core::RunReport;
    /// use serde_json::json;
    ///
    /// let rows: Vec<_> = (0..10_000).map(|i| json!({"id": i})).collect();
    /// let report = RunReport { output: json!({"rows": rows}), ..RunReport::default() };
    /// let printed = report.fitted(2_000);
    /// assert!(printed.output["rows"].as_array().unwrap().len() < 10_000);
    /// assert!(printed.cuts[0].starts_with("output: cut from"));
    /// assert_eq!(report.output["rows"].as_array().unwrap().len(), 10_000);
    /// ```
    pub fn fitted(&self, max_tokens: usize) -> RunReport {
        let mut fitted = self.clone();
        if max_tokens == 0 {
            return fitted;
        }
        let mut cuts = Vec::new();
        let mut fit = |what: &str, value: &mut Value, budget: usize| {
            let f = fit_json(value, budget.max(1));
            if let Some(cut) = f.cut {
                cuts.push(format!("{what}: {cut}"));
                *value = f.value;
            }
        };
        fit("output", &mut fitted.output, max_tokens / 2);
        fit_calls("tool_calls", &mut fitted.tool_calls, max_tokens * 3 / 10, &mut fit);
        fit_console("console", &mut fitted.console, max_tokens / 5, &mut fit);
        for (i, attempt) in fitted.runtime_attempts.iter_mut().enumerate() {
            fit_calls(
                &format!("runtime_attempts[{i}].tool_calls"),
                &mut attempt.tool_calls,
                max_tokens * 3 / 10,
                &mut fit,
            );
            fit_console(
                &format!("runtime_attempts[{i}].console"),
                &mut attempt.console,
                max_tokens / 5,
                &mut fit,
            );
        }
        fitted.cuts.extend(cuts);
        fitted
    }
}

/// Each call's arguments and result cut to an equal share of `budget`.
fn fit_calls(what: &str, calls: &mut [ToolCallRecord], budget: usize, fit: &mut impl FnMut(&str, &mut Value, usize)) {
    if calls.is_empty() {
        return;
    }
    let share = (budget / (2 * calls.len())).max(MIN_CALL_TOKENS);
    for (i, call) in calls.iter_mut().enumerate() {
        fit(
            &format!("{what}[{i}] ({}) arguments", call.path),
            &mut call.arguments,
            share,
        );
        if let Some(result) = &mut call.result {
            fit(&format!("{what}[{i}] ({}) result", call.path), result, share);
        }
    }
}

/// Console lines cut to `budget` together.
fn fit_console(what: &str, lines: &mut Vec<String>, budget: usize, fit: &mut impl FnMut(&str, &mut Value, usize)) {
    if lines.is_empty() {
        return;
    }
    let mut value = Value::from(std::mem::take(lines));
    fit(what, &mut value, budget);
    *lines = match value {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        Value::String(s) => vec![s],
        other => vec![other.to_string()],
    };
}

/// `value` with strings of at most `max_chars` characters and arrays and objects of at most
/// `max_items` entries, each cut marked.
fn shorten(value: &Value, max_chars: usize, max_items: usize) -> Value {
    match value {
        Value::String(s) => {
            let count = s.chars().count();
            if count <= max_chars {
                return value.clone();
            }
            let kept: String = s.chars().take(max_chars).collect();
            Value::String(format!("{kept}… [{} chars cut]", count - max_chars))
        }
        Value::Array(items) => {
            let mut out: Vec<Value> = items
                .iter()
                .take(max_items)
                .map(|v| shorten(v, max_chars, max_items))
                .collect();
            if items.len() > max_items {
                out.push(Value::String(format!("… [{} more items cut]", items.len() - max_items)));
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .take(max_items)
                .map(|(k, v)| (k.clone(), shorten(v, max_chars, max_items)))
                .collect();
            if map.len() > max_items {
                out.insert(
                    "…".into(),
                    Value::String(format!("[{} more keys cut]", map.len() - max_items)),
                );
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(path: &str, arguments: Value, result: Value) -> ToolCallRecord {
        ToolCallRecord {
            path: path.into(),
            arguments,
            result: Some(result),
            error: None,
            started_ms: 0.0,
            duration_ms: 1.0,
            looks_like_error: false,
            replayed: false,
        }
    }

    #[test]
    fn a_fitted_report_cuts_each_long_value_and_says_so() {
        let big: Vec<Value> = (0..3_000)
            .map(|i| json!({"id": i, "text": "lorem ipsum dolor"}))
            .collect();
        let report = RunReport {
            output: json!({"items": big.clone(), "total": 3000}),
            tool_calls: vec![
                call("ws.list", json!({}), json!({"items": big.clone()})),
                call("ws.get", json!({"id": 1}), json!({"id": 1})),
                call("ws.send", json!({"body": "x".repeat(20_000)}), json!({"ok": true})),
            ],
            console: (0..2_000).map(|i| format!("line {i}")).collect(),
            ..RunReport::default()
        };
        let fitted = report.fitted(4_000);
        let tokens = |v: &Value| count_tokens(&v.to_string()) as usize;
        assert!(tokens(&fitted.output) <= 2_000);
        assert_eq!(fitted.output["total"], 3000, "structure is kept");
        assert!(tokens(fitted.tool_calls[0].result.as_ref().unwrap()) <= 200);
        assert_eq!(fitted.tool_calls[1], report.tool_calls[1], "a short call is whole");
        assert!(
            fitted.tool_calls[2].arguments["body"]
                .as_str()
                .unwrap()
                .contains("chars cut")
        );
        assert!(tokens(&json!(fitted.console)) <= 800);
        assert!(fitted.console.last().unwrap().contains("more items cut"));
        let said: Vec<&str> = fitted.cuts.iter().map(|c| c.split(':').next().unwrap()).collect();
        assert_eq!(
            said,
            [
                "output",
                "tool_calls[0] (ws.list) result",
                "tool_calls[2] (ws.send) arguments",
                "console"
            ]
        );
        assert!(report.cuts.is_empty() && report.fitted(0) == report);
    }

    #[test]
    fn a_value_under_budget_is_whole() {
        let value = json!({"a": [1, 2, 3], "b": "text"});
        let fitted = fit_json(&value, 100);
        assert_eq!(fitted.value, value);
        assert_eq!(fitted.cut, None);
        assert!(fitted.tokens > 0);
    }

    #[test]
    fn long_strings_are_cut_and_marked() {
        let value = json!({"body": "word ".repeat(20_000)});
        let fitted = fit_json(&value, 1_000);
        assert!(fitted.tokens <= 1_000, "{}", fitted.tokens);
        let body = fitted.value["body"].as_str().unwrap();
        assert!(body.ends_with("chars cut]"), "{body}");
        assert!(fitted.cut.unwrap().contains("budget 1000"));
    }

    #[test]
    fn long_lists_keep_their_first_items_and_say_how_many_were_cut() {
        let rows: Vec<Value> = (0..10_000).map(|i| json!({"id": i})).collect();
        let fitted = fit_json(&Value::Array(rows), 2_000);
        assert!(fitted.tokens <= 2_000);
        let items = fitted.value.as_array().unwrap();
        assert_eq!(items[0], json!({"id": 0}));
        let marker = items.last().unwrap().as_str().unwrap();
        assert!(marker.contains("more items cut"), "{marker}");
    }

    #[test]
    fn wide_objects_say_how_many_keys_were_cut() {
        let map: Map<String, Value> = (0..5_000).map(|i| (format!("key{i}"), json!(i))).collect();
        let fitted = fit_json(&Value::Object(map), 800);
        assert!(fitted.tokens <= 800);
        assert!(fitted.value["…"].as_str().unwrap().contains("more keys cut"));
    }

    #[test]
    fn nesting_no_step_fits_becomes_cut_text() {
        let mut value = json!(0);
        // As deep as serde_json parses (128), one item per level: shortening cannot help.
        for _ in 0..120 {
            value = json!([value]);
        }
        let fitted = fit_json(&value, 10);
        let text = fitted.value.as_str().unwrap();
        assert!(text.starts_with("[[[") && text.ends_with("[JSON cut]"), "{text}");
        assert!(fitted.tokens < 40, "{}", fitted.tokens);
    }
}
