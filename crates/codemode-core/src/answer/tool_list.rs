//! The tiny model's answer in the filter step: which tools of a batch it chose, read leniently.

use std::collections::BTreeSet;

/// What the tiny model's answer for one batch selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterAnswer {
    /// These paths of the batch (possibly none).
    Selected(BTreeSet<String>),
    /// The answer could not be understood.
    Unparseable,
}

/// Parses an answer for a batch whose tools are `paths` (batch order, shown 1-based).
///
/// Accepted: a JSON array of paths, tool names (last segment) or 1-based indices, anywhere
/// in the text; or, without an array, any of those appearing as words in the text (one per
/// line, comma-separated, in a bulleted list, with prose around them). `[]`, `none` or
/// `no relevant tools` select nothing.
pub fn parse_filter_answer(answer: &str, paths: &[String]) -> FilterAnswer {
    let resolve = |token: &str| -> Option<String> {
        let t = token
            .trim()
            .trim_matches(|c: char| c == '"' || c == '\'' || c == '`' || c == ',' || c == '.' || c == '*')
            .trim_start_matches("tools.");
        // A signature as listed (`ns.tool(arg, ...)`): the path before the argument list.
        let t = t.split_once('(').map_or(t, |(path, _)| path).trim();
        if t.is_empty() {
            return None;
        }
        if let Ok(i) = t.parse::<usize>() {
            return i.checked_sub(1).and_then(|i| paths.get(i)).cloned();
        }
        paths
            .iter()
            .find(|p| *p == t)
            .or_else(|| paths.iter().find(|p| p.rsplit('.').next() == Some(t)))
            .cloned()
    };
    for array in json_arrays(answer) {
        if let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(array) {
            let mut selected = BTreeSet::new();
            let mut all_known = true;
            for item in &items {
                let token = match item {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Object(o) => {
                        match o.get("path").or_else(|| o.get("name")).and_then(|v| v.as_str()) {
                            Some(s) => s.to_string(),
                            None => {
                                all_known = false;
                                continue;
                            }
                        }
                    }
                    _ => {
                        all_known = false;
                        continue;
                    }
                };
                match resolve(&token) {
                    Some(p) => {
                        selected.insert(p);
                    }
                    None => all_known &= token.contains('.'),
                }
            }
            if !selected.is_empty() || items.is_empty() || all_known {
                return FilterAnswer::Selected(selected);
            }
        }
    }
    let selected: BTreeSet<String> = answer
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '[' || c == ']' || c == '(' || c == ')')
        .filter_map(resolve)
        .collect();
    if !selected.is_empty() {
        return FilterAnswer::Selected(selected);
    }
    let lower = answer.to_ascii_lowercase();
    if lower.trim() == "none" || lower.contains("no relevant") || lower.contains("none of") {
        return FilterAnswer::Selected(BTreeSet::new());
    }
    FilterAnswer::Unparseable
}

/// Balanced `[...]` spans of the text, outermost first, in order.
fn json_arrays(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'[' {
            let mut depth = 0i32;
            let mut in_str = false;
            let mut escaped = false;
            let mut end = None;
            for (j, &b) in bytes.iter().enumerate().skip(i) {
                if in_str {
                    match b {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        b'"' => in_str = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if let Some(end) = end {
                out.push(&text[i..=end]);
                i = end + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Vec<String> {
        vec![
            "chat.list_channels".into(),
            "chat.send_message".into(),
            "mail.send".into(),
        ]
    }

    fn sel(items: &[&str]) -> FilterAnswer {
        FilterAnswer::Selected(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn json_arrays_of_paths_names_indices() {
        assert_eq!(
            parse_filter_answer("[\"chat.send_message\"]", &batch()),
            sel(&["chat.send_message"])
        );
        assert_eq!(
            parse_filter_answer("Relevant: [1, 3]. Hope that helps", &batch()),
            sel(&["chat.list_channels", "mail.send"])
        );
        assert_eq!(
            parse_filter_answer("```json\n[\"send_message\", \"tools.mail.send\"]\n```", &batch()),
            sel(&["chat.send_message", "mail.send"])
        );
        assert_eq!(parse_filter_answer("[]", &batch()), sel(&[]));
        assert_eq!(parse_filter_answer("[\"other.tool\"]", &batch()), sel(&[]));
    }

    #[test]
    fn signatures_as_listed() {
        // Qwen2.5-Coder-0.5B copied the listing's signatures back: this selected nothing.
        assert_eq!(
            parse_filter_answer(
                "[\"chat.list_channels()\", \"chat.send_message(channel, text)\", \"other.tool(x)\"]",
                &batch()
            ),
            sel(&["chat.list_channels", "chat.send_message"])
        );
    }

    #[test]
    fn plain_lists_and_prose() {
        assert_eq!(
            parse_filter_answer("- chat.list_channels\n- chat.send_message", &batch()),
            sel(&["chat.list_channels", "chat.send_message"])
        );
        assert_eq!(
            parse_filter_answer("I would use `mail.send`.", &batch()),
            sel(&["mail.send"])
        );
        assert_eq!(parse_filter_answer("None", &batch()), sel(&[]));
        assert_eq!(
            parse_filter_answer("I cannot decide [see above", &batch()),
            FilterAnswer::Unparseable
        );
        assert_eq!(parse_filter_answer("", &batch()), FilterAnswer::Unparseable);
    }
}
