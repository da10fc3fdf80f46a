//! Getting the program out of a model's answer.

/// Extracts TypeScript from a model answer.
///
/// Takes the first fenced block tagged `ts`, `typescript`, `js` or `javascript`; else the
/// longest fenced block of any tag; else, with no fences at all, the whole answer. Fences of
/// three or more backticks or tildes are recognised, an unterminated block runs to the end.
pub fn extract_code(answer: &str) -> String {
    let blocks = fenced_blocks(answer);
    let preferred = blocks.iter().find(|b| {
        matches!(
            b.lang.as_str(),
            "ts" | "typescript" | "js" | "javascript" | "tsx" | "mts"
        )
    });
    if let Some(b) = preferred {
        return b.body.clone();
    }
    if let Some(b) = blocks.iter().max_by_key(|b| b.body.len()) {
        return b.body.clone();
    }
    answer.trim().to_string()
}

struct Block {
    lang: String,
    body: String,
}

fn fenced_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let Some((fence_char, fence_len)) = fence(trimmed) else {
            continue;
        };
        let lang = trimmed[fence_len..]
            .trim()
            .split(|c: char| c.is_whitespace() || c == '{')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut body = Vec::new();
        for inner in lines.by_ref() {
            let t = inner.trim();
            if let Some((c, n)) = fence(t)
                && c == fence_char
                && n >= fence_len
                && t[n..].trim().is_empty()
            {
                break;
            }
            body.push(inner);
        }
        blocks.push(Block {
            lang,
            body: body.join("\n").trim_matches('\n').to_string(),
        });
    }
    blocks
}

fn fence(line: &str) -> Option<(char, usize)> {
    let c = line.chars().next()?;
    if c != '`' && c != '~' {
        return None;
    }
    let n = line.chars().take_while(|&x| x == c).count();
    (n >= 3).then_some((c, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_typescript_block() {
        let a = "Here:\n```json\n{\"a\":1}\n```\nand\n```typescript\nconst x = 1;\nreturn x;\n```\nDone.";
        assert_eq!(extract_code(a), "const x = 1;\nreturn x;");
    }

    #[test]
    fn other_shapes() {
        assert_eq!(extract_code("```\nreturn 1;\n```"), "return 1;");
        assert_eq!(extract_code("return 2;"), "return 2;");
        assert_eq!(extract_code("```ts\nreturn 3;"), "return 3;");
        assert_eq!(
            extract_code("````ts\nconst s = `x`;\n```\nstill code\n````"),
            "const s = `x`;\n```\nstill code"
        );
        assert_eq!(extract_code("  ~~~js\nreturn 4;\n  ~~~"), "return 4;");
    }
}
