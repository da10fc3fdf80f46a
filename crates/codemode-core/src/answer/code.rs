//! Getting the program out of a model's answer.

/// Extracts TypeScript from a model answer.
///
/// Reasoning sections (`<think>...</think>`, `<thinking>...</thinking>`) are dropped first,
/// drafts in them included. Then it takes the first fenced block tagged `ts`, `typescript`,
/// `js` or `javascript`; else the longest fenced block of any tag; else, with no fences at
/// all, the whole answer. Fences of three or more backticks or tildes are recognised, an
/// unterminated block runs to the end.
pub fn extract_code(answer: &str) -> String {
    let answer = &without_reasoning(answer);
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

/// True when a model's answer holds a program: a fenced block, or (without fences) text that
/// parses as TypeScript. Prose, an apology or a plan in words does not.
pub fn contains_program(answer: &str) -> bool {
    let answer = without_reasoning(answer);
    if !fenced_blocks(&answer).is_empty() {
        return true;
    }
    let text = answer.trim();
    !text.is_empty() && codemode_typescript::transpile(text).is_ok()
}

/// `text` without its closed `<think>`/`<thinking>` sections.
fn without_reasoning(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let open = ["<think>", "<thinking>"]
            .iter()
            .filter_map(|tag| rest.find(tag).map(|at| (at, *tag)))
            .min();
        let Some((at, tag)) = open else { break };
        let close = format!("</{}", &tag[1..]);
        let Some(end) = rest[at..].find(&close) else { break };
        out.push_str(&rest[..at]);
        rest = &rest[at + end + close.len()..];
    }
    out.push_str(rest);
    out
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
    fn reasoning_sections_and_their_drafts_are_skipped() {
        let a = "<think>\nMaybe:\n```ts\nconst draft = 1;\n```\nNo, better:\n</think>\n```typescript\nreturn 2;\n```\nThat returns 2.";
        assert_eq!(extract_code(a), "return 2;");
        let b = "<thinking>plan</thinking>\nreturn 3;";
        assert_eq!(extract_code(b), "return 3;");
        // An unclosed section is kept: it may be all there is.
        assert_eq!(extract_code("<think>\n```ts\nreturn 4;\n```"), "return 4;");
    }

    #[test]
    fn prose_is_not_a_program() {
        assert!(contains_program("```ts\nreturn 1;\n```"));
        assert!(contains_program(
            "const { channels } = await tools.chat.list_channels({});\nreturn channels;"
        ));
        assert!(!contains_program(
            "I'm sorry, but I can't list the channels without more information."
        ));
        assert!(!contains_program(
            "First, list the channels. Then send a message to each one."
        ));
        assert!(!contains_program("<think>```ts\nreturn 1;\n```</think>Done."));
    }

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
