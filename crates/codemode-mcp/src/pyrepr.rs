//! Python literals read as JSON: servers written in Python often answer with `str(rows)`,
//! a Python repr (`[{'id': 1, 'name': 'Ann', 'vip': True, 'note': None}]`) rather than
//! JSON. A text result that is one whole Python literal made of dicts, lists, tuples,
//! strings, numbers, `True`, `False` and `None` is given to the program as the JSON value
//! it stands for; anything else (a `datetime(...)`, prose around it) stays text.

use serde_json::{Map, Number, Value};

/// Deepest nesting read (deeper text stays text).
const MAX_DEPTH: usize = 128;

/// The JSON value of `text` when it is one Python literal of a list, tuple or dict.
pub(crate) fn python_literal(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if !trimmed.starts_with(['[', '{', '(']) {
        return None;
    }
    let mut parser = Parser {
        chars: trimmed.char_indices().peekable(),
        text: trimmed,
    };
    let value = parser.value(0)?;
    parser.skip_space();
    parser.chars.peek().is_none().then_some(value)
}

struct Parser<'t> {
    chars: std::iter::Peekable<std::str::CharIndices<'t>>,
    text: &'t str,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            self.chars.next();
        }
    }

    fn eat(&mut self, want: char) -> bool {
        self.skip_space();
        if self.chars.peek().is_some_and(|(_, c)| *c == want) {
            self.chars.next();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_space();
        let (_, c) = *self.chars.peek()?;
        match c {
            '[' => self.sequence(']', depth),
            '(' => self.sequence(')', depth),
            '{' => self.dict(depth),
            '\'' | '"' => self.string().map(Value::String),
            _ => self.word(),
        }
    }

    fn sequence(&mut self, close: char, depth: usize) -> Option<Value> {
        self.chars.next();
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(Value::Array(items));
            }
            items.push(self.value(depth + 1)?);
            if !self.eat(',') {
                return self.eat(close).then_some(Value::Array(items));
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Option<Value> {
        self.chars.next();
        let mut map = Map::new();
        loop {
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            let key = match self.value(depth + 1)? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if b { "True" } else { "False" }.to_string(),
                Value::Null => "None".to_string(),
                _ => return None,
            };
            if !self.eat(':') {
                return None;
            }
            let value = self.value(depth + 1)?;
            map.insert(key, value);
            if !self.eat(',') {
                return self.eat('}').then_some(Value::Object(map));
            }
        }
    }

    /// A quoted string with Python's escapes (no prefixes such as `b''` or `f''`).
    fn string(&mut self) -> Option<String> {
        let (_, quote) = self.chars.next()?;
        let mut out = String::new();
        loop {
            let (_, c) = self.chars.next()?;
            match c {
                c if c == quote => return Some(out),
                '\\' => {
                    let (_, e) = self.chars.next()?;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        '\\' | '\'' | '"' => out.push(e),
                        'x' => out.push(self.hex(2)?),
                        'u' => out.push(self.hex(4)?),
                        'U' => out.push(self.hex(8)?),
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn hex(&mut self, digits: usize) -> Option<char> {
        let mut code = 0u32;
        for _ in 0..digits {
            let (_, d) = self.chars.next()?;
            code = code * 16 + d.to_digit(16)?;
        }
        char::from_u32(code)
    }

    /// `True`, `False`, `None` or a number.
    fn word(&mut self) -> Option<Value> {
        let (start, _) = *self.chars.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = self.chars.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_') {
                end = i + c.len_utf8();
                self.chars.next();
            } else {
                break;
            }
        }
        match &self.text[start..end] {
            "True" => Some(Value::Bool(true)),
            "False" => Some(Value::Bool(false)),
            "None" => Some(Value::Null),
            word => {
                let word = word.replace('_', "");
                if let Ok(i) = word.parse::<i64>() {
                    return Some(Value::Number(i.into()));
                }
                let f: f64 = word.parse().ok().filter(|f: &f64| f.is_finite())?;
                Number::from_f64(f).map(Value::Number)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_reprs_of_rows_become_json() {
        assert_eq!(
            python_literal("[{'id': 1, 'name': 'Hanna Berg', 'price': 4.5, 'vip': True, 'note': None}]"),
            Some(json!([{"id": 1, "name": "Hanna Berg", "price": 4.5, "vip": true, "note": null}]))
        );
        assert_eq!(
            python_literal("[{'affected_rows': 1}]"),
            Some(json!([{"affected_rows": 1}]))
        );
        assert_eq!(python_literal("[]"), Some(json!([])));
        assert_eq!(python_literal("(1, 'a', -2.5e3)"), Some(json!([1, "a", -2500.0])));
        assert_eq!(
            python_literal(r#"{"it's": 'say "hi"\n', 3: (1,)}"#),
            Some(json!({"it's": "say \"hi\"\n", "3": [1]}))
        );
        assert_eq!(python_literal(r"['caf\xe9', '\u00fc']"), Some(json!(["café", "ü"])));
    }

    #[test]
    fn anything_that_is_not_one_whole_literal_stays_text() {
        for text in [
            "Database error: no such table: users",
            "[{'when': datetime.date(2026, 1, 2)}]",
            "[1, 2] and more",
            "{'a': 1",
            "[nan]",
            "42",
            "'just a string'",
            "{'a' 1}",
        ] {
            assert_eq!(python_literal(text), None, "{text}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(python_literal(&deep), None);
    }
}
