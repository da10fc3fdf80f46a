//! The repair's line edit: a repair answered with the failing program unchanged is asked
//! again for the first failing line alone, and the answer replaces that line.

use codemode_typescript::{Diagnostic, Severity};

use super::hints::describe_diagnostics;
use crate::pipeline::run::RunContext;
use crate::prompts;
use codemode_traits::{Llm, Message, Sampling};

/// A program that failed its check, and what was said about it.
#[derive(Clone, Copy)]
pub(in crate::pipeline) struct Failing<'a> {
    pub(in crate::pipeline) code: &'a str,
    /// The diagnostics as the repair prompt quotes them.
    pub(in crate::pipeline) quoted: &'a str,
    pub(in crate::pipeline) diagnostics: &'a [Diagnostic],
    pub(in crate::pipeline) hints: &'a [Diagnostic],
}

/// Asks for the repair `conversation` ends with. An answer that is the failing program again
/// is not taken as the repair: the model is asked for the first failing line alone, in a
/// conversation cut back to the request and the failing program, told the error but not
/// shown the line, and sampled ([`Sampling::Varied`]); its answer replaces the old line.
/// When that brings nothing new, the whole program is asked for once more, sampled. Seen
/// with the 1.5B model (eval, issue 13): asked for the whole program, or for the line with
/// the line quoted, it copied its own answer, failing line and all, at temperature 0 and
/// sampled alike, where the work was right and only a line was wrong.
pub(in crate::pipeline) async fn ask_for_a_change(
    ctx: &RunContext<'_>,
    main: &dyn Llm,
    conversation: &mut Vec<Message>,
    failing: Failing<'_>,
) -> Result<String, codemode_traits::LlmError> {
    let code = ctx.ask_program(main, "repair", conversation).await?;
    if !same_program(&code, failing.code) {
        return Ok(code);
    }
    let opening = crate::pipeline::implement::opening(conversation);
    let answered = |program: &str| {
        let mut fresh = opening.clone();
        fresh.push(Message::assistant(format!(
            "```typescript\n{}\n```",
            program.trim_end()
        )));
        fresh
    };
    if let Some(line) = first_error_line(failing.diagnostics, failing.code) {
        tracing::info!(
            line,
            "the repair returned the same program; asking for the failing line"
        );
        let on_line: Vec<Diagnostic> = failing.diagnostics.iter().filter(|d| d.line == line).cloned().collect();
        let mut ask = answered(failing.code);
        ask.push(Message::user(prompts::render(
            prompts::REPAIR_LINE_USER,
            &[
                ("line", &line.to_string()),
                // Not quoted: asked for the line with the line in sight, the model copied it.
                ("diagnostics", &describe_diagnostics(&on_line, failing.hints, None)),
            ],
        )));
        let answer = ctx
            .ask_program_sampled(main, "repair", &mut ask, Sampling::Varied)
            .await?;
        let edited = replace_line(failing.code, line, &answer);
        if !same_program(&edited, failing.code) {
            *conversation = answered(&edited);
            return Ok(edited);
        }
    }
    tracing::info!("the repair returned the same program; asking again in a fresh conversation");
    let mut fresh = answered(failing.code);
    fresh.push(Message::user(prompts::render(
        prompts::REPAIR_AGAIN_USER,
        &[("diagnostics", failing.quoted)],
    )));
    let code = ctx
        .ask_program_sampled(main, "repair", &mut fresh, Sampling::Varied)
        .await?;
    *conversation = fresh;
    Ok(code)
}

/// The line of the first error that a line can fix: on a line of `code`, and not the
/// verdict on the program as a whole (`EMPTY`).
fn first_error_line(diagnostics: &[Diagnostic], code: &str) -> Option<u32> {
    let lines = code.lines().count();
    diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error && d.code != "EMPTY")
        .map(|d| d.line)
        .filter(|&line| line >= 1 && line as usize <= lines)
}

/// `code` with line `line` (1-based) replaced by `answer`: the new line or lines, given the
/// old line's indentation when they have none, without `N |` prefixes copied from the
/// quoted diagnostics. An answer that is a whole program (it repeats two or more of the
/// other lines, or all of them) is taken as it is.
fn replace_line(code: &str, line: u32, answer: &str) -> String {
    let lines: Vec<&str> = code.lines().collect();
    let Some(index) = (line as usize).checked_sub(1) else {
        return answer.to_string();
    };
    let answer_lines: Vec<&str> = answer.trim_matches('\n').lines().collect();
    let others: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| *i != index && l.trim().len() > 3)
        .map(|(_, l)| l.trim())
        .collect();
    let repeated = answer_lines.iter().filter(|l| others.contains(&l.trim())).count();
    if repeated >= 2 || (repeated >= 1 && repeated == others.len()) {
        return answer.to_string();
    }
    let Some(old) = lines.get(index) else {
        return answer.to_string();
    };
    let indent = &old[..old.len() - old.trim_start().len()];
    let mut out: Vec<String> = lines[..index].iter().map(|l| l.to_string()).collect();
    for new in answer_lines {
        let new = strip_line_number(new);
        if new.starts_with(char::is_whitespace) || new.is_empty() {
            out.push(new.to_string());
        } else {
            out.push(format!("{indent}{new}"));
        }
    }
    out.extend(lines[index + 1..].iter().map(|l| l.to_string()));
    out.join("\n")
}

/// `return x;` from `5 | return x;` (the form the diagnostics quote lines in).
fn strip_line_number(line: &str) -> &str {
    let trimmed = line.trim_start();
    let digits = trimmed.len() - trimmed.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return line;
    }
    match trimmed[digits..].trim_start().strip_prefix('|') {
        Some(rest) => rest.strip_prefix(' ').unwrap_or(rest),
        None => line,
    }
}

/// Two programs that differ at most in white space.
pub(in crate::pipeline) fn same_program(a: &str, b: &str) -> bool {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    words(a) == words(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_line_is_replaced_by_the_answer() {
        let code = "const a = await tools.w.send({});\nif (a) {\n  return { id: a.id, id: a.id };\n}\nreturn 1;";
        // One new line: indented as the old one.
        assert_eq!(
            replace_line(code, 3, "return { first: a.id };"),
            "const a = await tools.w.send({});\nif (a) {\n  return { first: a.id };\n}\nreturn 1;"
        );
        // Quoted with its number, or as two lines of its own indentation.
        assert_eq!(
            replace_line(code, 3, "3 | return a.id;"),
            "const a = await tools.w.send({});\nif (a) {\n  return a.id;\n}\nreturn 1;"
        );
        assert_eq!(
            replace_line(code, 5, "const n = 1;\n  return n;"),
            "const a = await tools.w.send({});\nif (a) {\n  return { id: a.id, id: a.id };\n}\nconst n = 1;\n  return n;"
        );
        // A whole program is taken as it is.
        let whole = "const a = await tools.w.send({});\nif (a) {\n  return a.id;\n}\nreturn 1;";
        assert_eq!(replace_line(code, 3, whole), whole);
        let short = "const r = await tools.w.sned({});\nreturn r;";
        let whole = "const r = await tools.w.send({});\nreturn r;";
        assert_eq!(replace_line(short, 1, whole), whole);
        assert_eq!(strip_line_number("12 |   x();"), "  x();");
        assert_eq!(strip_line_number("12 + 1;"), "12 + 1;");
    }

    #[test]
    fn the_line_to_ask_for_is_that_of_the_first_error() {
        let code = "a;\nb;\nc;";
        let errors = [
            Diagnostic {
                severity: Severity::Warning,
                ..Diagnostic::error(1, 1, "TS6133", "unused")
            },
            Diagnostic::error(3, 1, "TS2304", "Cannot find name 'c'."),
            Diagnostic::error(2, 1, "TS2304", "Cannot find name 'b'."),
        ];
        assert_eq!(first_error_line(&errors, code), Some(3));
        assert_eq!(
            first_error_line(&[Diagnostic::error(1, 1, "EMPTY", "nothing to run")], code),
            None
        );
        assert_eq!(
            first_error_line(&[Diagnostic::error(9, 1, "TS1", "past the end")], code),
            None
        );
    }
}
