//! Keeps secrets out of prompt logs and error messages.

/// Environment variable names whose values are treated as secrets.
fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH"]
        .iter()
        .any(|w| upper.contains(w))
}

/// The values of secret-looking environment variables (at least 8 characters long).
pub fn secret_values_from_env() -> Vec<String> {
    let mut values: Vec<String> = std::env::vars()
        .filter(|(k, v)| is_secret_name(k) && v.len() >= 8)
        .map(|(_, v)| v)
        .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values
}

/// Replaces secrets in `text` with `[REDACTED]`: the given values, `Bearer` tokens, and
/// strings shaped like API keys (`sk-...`, `sk_...`, `ghp_...`, `xoxb-...`).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "[REDACTED]");
        }
    }
    out = redact_after(&out, "Bearer ", 8);
    out = redact_after(&out, "bearer ", 8);
    for prefix in ["sk-", "sk_", "ghp_", "gho_", "xoxb-", "xoxp-", "e2b_", "ak_"] {
        out = redact_token(&out, prefix, 16);
    }
    out
}

/// [`redact`] applied to every string (and object key) inside a JSON value.
pub fn redact_json(value: &mut serde_json::Value, secrets: &[String]) {
    use serde_json::Value;
    match value {
        Value::String(s) => *s = redact(s, secrets),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, secrets)),
        Value::Object(map) => {
            let fields = std::mem::take(map);
            for (key, mut v) in fields {
                redact_json(&mut v, secrets);
                map.insert(redact(&key, secrets), v);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | '+' | '/')
}

/// Redacts the token following each `marker` when it is at least `min` characters long.
fn redact_after(text: &str, marker: &str, min: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        let (head, tail) = rest.split_at(i + marker.len());
        out.push_str(head);
        let len: usize = tail.chars().take_while(|&c| token_char(c)).map(char::len_utf8).sum();
        if len >= min && !tail.starts_with("[REDACTED]") {
            out.push_str("[REDACTED]");
        } else {
            out.push_str(&tail[..len]);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// Redacts whole tokens starting with `prefix` (at a word start) of at least `min` chars.
fn redact_token(text: &str, prefix: &str, min: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let at_word_start = rest[..i].chars().next_back().is_none_or(|c| !token_char(c));
        let tail = &rest[i..];
        let len: usize = tail.chars().take_while(|&c| token_char(c)).map(char::len_utf8).sum();
        out.push_str(&rest[..i]);
        if at_word_start && len >= min {
            out.push_str(prefix);
            out.push_str("[REDACTED]");
        } else {
            out.push_str(&tail[..len.max(prefix.len())]);
        }
        rest = &tail[len.max(prefix.len())..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_keys_and_tokens() {
        let secrets = vec!["super-secret-value-123".to_string()];
        let text = "key=super-secret-value-123; Authorization: Bearer abcdefghijklmnop; sk-or-v1-0123456789abcdef0123; task-sk-no";
        let r = redact(text, &secrets);
        assert!(!r.contains("super-secret"), "{r}");
        assert!(!r.contains("abcdefghijklmnop"), "{r}");
        assert!(!r.contains("0123456789abcdef"), "{r}");
        assert!(r.contains("Bearer [REDACTED]"), "{r}");
        assert!(r.contains("task-sk-no"), "{r}");
    }

    #[test]
    fn redacts_inside_json() {
        let secrets = vec!["super-secret-value-123".to_string()];
        let mut value = serde_json::json!({
            "error": "upstream said: token super-secret-value-123 rejected",
            "calls": [{"args": {"super-secret-value-123": 1, "n": 2}}],
        });
        redact_json(&mut value, &secrets);
        assert!(!value.to_string().contains("super-secret"), "{value}");
        assert_eq!(value["calls"][0]["args"]["n"], 2);
    }
}
