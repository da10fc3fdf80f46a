//! Step 5, **check**: the program is prepared (a lone `main` is called), type-checked and
//! transpiled before anything runs; errors go back to the main model, at most
//! `max_repairs` times.

use std::collections::BTreeSet;

use codemode_typescript::{
    Diagnostic, Severity, TranspileError, Transpiled, prepare_program, shape_diagnostics, transpile,
};

use super::run::{RunContext, StepFailure};
use super::types::{DeclaredCalls, Typed};
use crate::catalog::ToolCatalog;
use crate::checker::{CheckContext, CheckerError, TypeChecker};
use crate::llm::{Llm, Message, Sampling};
use crate::prompts;
use crate::report::ResultType;

/// What one check of a program found.
pub(super) enum Verdict {
    /// The program may run: its JavaScript, and what the checker said (warnings at most).
    Passed {
        program: Transpiled,
        diagnostics: Vec<Diagnostic>,
    },
    /// The program has errors a repair may fix.
    Failed { diagnostics: Vec<Diagnostic> },
}

/// Type-checks `code` and transpiles it. A syntax error found by the transpiler is a
/// diagnostic like any other; a checker that cannot run ends the run (`compile_error`).
pub(super) async fn check_once(
    checker: &dyn TypeChecker,
    code: &str,
    context: CheckContext<'_>,
) -> Result<Verdict, StepFailure> {
    let prepared = prepare_program(code);
    let diagnostics = diagnostics(checker, &prepared.text, context)
        .await
        .map_err(|e| StepFailure::Ended {
            result_type: ResultType::CompileError,
            message: e.to_string(),
        })?;
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Ok(Verdict::Failed { diagnostics });
    }
    match transpile(&prepared.text) {
        Ok(program) => Ok(Verdict::Passed { program, diagnostics }),
        Err(TranspileError::Syntax(diagnostics)) => Ok(Verdict::Failed { diagnostics }),
        Err(e) => Err(StepFailure::Ended {
            result_type: ResultType::CompileError,
            message: e.to_string(),
        }),
    }
}

/// What is wrong with a prepared program: the program shape rules first (a program that
/// mocks `tools` may well type-check), then the checker.
pub(super) async fn diagnostics(
    checker: &dyn TypeChecker,
    prepared: &str,
    context: CheckContext<'_>,
) -> Result<Vec<Diagnostic>, CheckerError> {
    let shape = shape_diagnostics(prepared);
    if !shape.is_empty() {
        return Ok(shape);
    }
    checker.check(prepared, context).await
}

/// Errors that come from learned output types alone (the program passes when the tools that
/// have one are declared as they declare themselves): `Some` with the program and those
/// errors as warnings, each saying so. A learned type is what earlier results looked like,
/// not a contract: it may make the model repair its program, never keep the program from
/// running on its own.
pub(super) async fn passes_without_learned_types(
    checker: &dyn TypeChecker,
    code: &str,
    tools: &ToolCatalog,
    diagnostics: &[Diagnostic],
) -> Option<(Transpiled, Vec<Diagnostic>)> {
    if !tools.has_learned_outputs() {
        return None;
    }
    let declared = tools.without_learned_outputs();
    let signatures = declared.signatures();
    let declarations = declared.declarations();
    let context = CheckContext {
        tools: &signatures,
        declarations: &declarations,
    };
    let Ok(Verdict::Passed {
        program,
        diagnostics: mut warnings,
    }) = check_once(checker, code, context).await
    else {
        return None;
    };
    warnings.extend(
        diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| Diagnostic {
                severity: Severity::Warning,
                message: format!(
                    "{} (against a learned output type: the program runs as if the tool declared none)",
                    d.message
                ),
                ..d.clone()
            }),
    );
    Some((program, warnings))
}

/// The failure of a program that still has errors.
pub(super) fn compile_failure(diagnostics: &[Diagnostic]) -> StepFailure {
    let first = diagnostics.iter().find(|d| d.severity == Severity::Error);
    StepFailure::Ended {
        result_type: ResultType::CompileError,
        message: match first {
            Some(d) => format!(
                "the program does not type-check ({} errors); first: {}",
                diagnostics.len(),
                d.render("program.ts")
            ),
            None => "the program does not type-check".into(),
        },
    }
}

/// The program after checking and repairs.
pub(super) struct Checked {
    /// The last program the model wrote.
    pub code: String,
    /// What its check found.
    pub diagnostics: Vec<Diagnostic>,
    /// Repair rounds used.
    pub repairs: u32,
    /// Tools the second chance declared (the program called them; the filter had left
    /// them out, or the program named them wrong).
    pub declared: Vec<String>,
    /// Its JavaScript, or why the run ends here.
    pub result: Result<Transpiled, StepFailure>,
    /// The conversation that ends with the answer holding `code` (a runtime repair goes on
    /// from there).
    pub conversation: Vec<Message>,
}

impl Checked {
    /// The step's detail for the report: `1 repairs`.
    pub(crate) fn detail(&self) -> String {
        format!("{} repairs", self.repairs)
    }
}

/// What checking a program needs besides the program: the model that repairs it, the
/// checker, the run's whole catalog (for the second chance) and the repair budget.
#[derive(Clone, Copy)]
pub(super) struct Checking<'a> {
    pub main: &'a dyn Llm,
    pub checker: &'a dyn TypeChecker,
    pub catalog: &'a ToolCatalog,
    pub max_repairs: u32,
}

/// Checks the program, sending diagnostics back to the main model at most `max_repairs`
/// times. Errors that come from learned output types alone get one repair; a program that
/// still has only those runs, with them as warnings.
///
/// The second chance: a program that fails and calls tools its declarations lack gets them
/// from the catalog ([`Typed::declare_called`]): checked again at once when it called them
/// by their paths, else repaired with the matches declared in the repair prompt.
pub(super) async fn check_and_repair(
    ctx: &RunContext<'_>,
    checking: Checking<'_>,
    typed: &mut Typed,
    mut code: String,
    mut conversation: Vec<Message>,
) -> Checked {
    let Checking {
        main,
        checker,
        catalog,
        max_repairs,
    } = checking;
    let mut repairs = 0;
    let mut diagnostics = Vec::new();
    let mut declared = Vec::new();
    let mut looked_up = BTreeSet::new();
    // Tools declared since the model last saw the declarations, to show in the next repair.
    let mut to_show: Option<DeclaredCalls> = None;
    loop {
        let signatures = typed.tools.signatures();
        let context = CheckContext {
            tools: &signatures,
            declarations: &typed.declarations,
        };
        let found = match check_once(checker, &code, context).await {
            Ok(Verdict::Passed {
                program,
                diagnostics: warnings,
            }) => {
                return Checked {
                    code,
                    diagnostics: warnings,
                    repairs,
                    declared,
                    result: Ok(program),
                    conversation,
                };
            }
            Ok(Verdict::Failed { diagnostics }) => diagnostics,
            Err(failure) => {
                return Checked {
                    code,
                    diagnostics,
                    repairs,
                    declared,
                    result: Err(failure),
                    conversation,
                };
            }
        };
        drop(signatures);
        if let Some(called) = typed.declare_called(catalog, &code, &mut looked_up) {
            declared.extend(called.declared.iter().cloned());
            let unknown = !called.unknown.is_empty();
            to_show = Some(match to_show.take() {
                Some(earlier) => earlier.and(called),
                None => called,
            });
            if !unknown {
                // Called by their paths: the same program may pass now.
                continue;
            }
        }
        let signatures = typed.tools.signatures();
        let context = CheckContext {
            tools: &signatures,
            declarations: &typed.declarations,
        };
        diagnostics = found;
        // Errors that only a learned output type finds get one repair, then the program runs.
        if repairs >= max_repairs.min(1)
            && let Some((program, warnings)) =
                passes_without_learned_types(checker, &code, &typed.tools, &diagnostics).await
        {
            return Checked {
                code,
                diagnostics: warnings,
                repairs,
                declared,
                result: Ok(program),
                conversation,
            };
        }
        if repairs >= max_repairs {
            let failure = compile_failure(&diagnostics);
            return Checked {
                code,
                diagnostics,
                repairs,
                declared,
                result: Err(failure),
                conversation,
            };
        }
        let hints = repair_hints(checker, &code, context, &diagnostics).await;
        let quoted = quote_diagnostics(&diagnostics, &hints, &code);
        let mut ask = String::new();
        if let Some(shown) = to_show.take() {
            ask.push_str(&shown.note(catalog));
            ask.push_str("\n\n");
        }
        ask.push_str(&prompts::render(
            prompts::REPAIR_USER,
            &[("checker", checker.name()), ("diagnostics", &quoted)],
        ));
        conversation.push(Message::user(ask));
        let failing = Failing {
            code: &code,
            quoted: &quoted,
            diagnostics: &diagnostics,
            hints: &hints,
        };
        let repaired = match ask_for_a_change(ctx, main, &mut conversation, failing).await {
            Ok(repaired) => repaired,
            Err(e) => {
                return Checked {
                    code,
                    diagnostics,
                    repairs,
                    declared,
                    result: Err(e.into()),
                    conversation,
                };
            }
        };
        code = repaired;
        repairs += 1;
    }
}

/// A program that failed its check, and what was said about it.
#[derive(Clone, Copy)]
struct Failing<'a> {
    code: &'a str,
    /// The diagnostics as the repair prompt quotes them.
    quoted: &'a str,
    diagnostics: &'a [Diagnostic],
    hints: &'a [Diagnostic],
}

/// Asks for the repair `conversation` ends with. An answer that is the failing program again
/// is not taken as the repair: the model is asked for the first failing line alone, in a
/// conversation cut back to the request and the failing program, told the error but not
/// shown the line, and sampled ([`Sampling::Varied`]); its answer replaces the old line.
/// When that brings nothing new, the whole program is asked for once more, sampled. Seen
/// with the 1.5B model (eval, issue 13): asked for the whole program, or for the line with
/// the line quoted, it copied its own answer, failing line and all, at temperature 0 and
/// sampled alike, where the work was right and only a line was wrong.
async fn ask_for_a_change(
    ctx: &RunContext<'_>,
    main: &dyn Llm,
    conversation: &mut Vec<Message>,
    failing: Failing<'_>,
) -> Result<String, crate::llm::LlmError> {
    let code = ctx.ask_program(main, "repair", conversation).await?;
    if !same_program(&code, failing.code) {
        return Ok(code);
    }
    let opening = super::implement::opening(conversation);
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
pub(super) fn same_program(a: &str, b: &str) -> bool {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    words(a) == words(b)
}

/// What explains `diagnostics` of `code` to whoever fixes it: the built-in checker's words,
/// the properties of an object passed for a plain value.
pub(super) async fn repair_hints(
    checker: &dyn TypeChecker,
    code: &str,
    context: CheckContext<'_>,
    diagnostics: &[Diagnostic],
) -> Vec<Diagnostic> {
    let mut hints = builtin_hints(checker, code, context).await;
    hints.extend(object_for_value_hints(diagnostics, context.declarations));
    hints
}

/// What the built-in checker says about `code` when another checker ran. Its messages
/// name the tool and the properties its result has ("Its list is the property 'emails'"),
/// where tsc says only that a property does not exist on a long type: a small model given
/// tsc's words alone sent the same program back four times (eval, issue 13).
async fn builtin_hints(checker: &dyn TypeChecker, code: &str, context: CheckContext<'_>) -> Vec<Diagnostic> {
    if checker.name() == codemode_typescript::BUILTIN_CHECKER_NAME {
        return Vec::new();
    }
    let prepared = prepare_program(code);
    crate::checker::BuiltinTypeChecker
        .check(&prepared.text, context)
        .await
        .unwrap_or_default()
}

/// For tsc's "Type 'X' is not assignable to type 'string'" where `X` is an object type of
/// the declarations: which properties `X` has, so the model passes one of them (seen: the
/// 1.5B model passed `{ channel }`, a whole channel, where the channel's name was wanted, and
/// did not understand tsc's words through two repairs).
fn object_for_value_hints(diagnostics: &[Diagnostic], declarations: &str) -> Vec<Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.code == "TS2322" || d.code == "TS2345")
        .filter_map(|d| {
            let rest = d.message.strip_prefix("Type '")?;
            let (name, rest) = rest.split_once('\'')?;
            let wanted = rest.strip_prefix(" is not assignable to type '")?.split_once('\'')?.0;
            if !matches!(wanted, "string" | "number" | "boolean") {
                return None;
            }
            let properties = object_properties(declarations, name)?;
            let mut hint = d.clone();
            hint.message = format!(
                "'{name}' is an object with the properties {}; pass one of them (e.g. `.{}`), not the whole object.",
                properties.join(", "),
                properties[0]
            );
            Some(hint)
        })
        .collect()
}

/// The property names of `type NAME = { ... };` in generated declarations.
fn object_properties(declarations: &str, name: &str) -> Option<Vec<String>> {
    let opening = format!("type {name} = {{");
    let mut lines = declarations.lines().skip_while(|l| l.trim_start() != opening);
    lines.next()?;
    let properties: Vec<String> = lines
        .take_while(|l| l.trim_start() != "};")
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| {
            let (key, _) = l.trim().split_once(':')?;
            let key = key.trim_end_matches('?');
            key.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
                .then(|| key.to_string())
        })
        .collect();
    (!properties.is_empty()).then_some(properties)
}

/// Each diagnostic as `program.ts:L:C: CODE message`, followed by the line it points at
/// and, when the built-in checker explains the same error on that line in other words, its
/// explanation as a hint.
fn quote_diagnostics(diagnostics: &[Diagnostic], hints: &[Diagnostic], code: &str) -> String {
    describe_diagnostics(diagnostics, hints, Some(code))
}

/// [`quote_diagnostics`], quoting the lines of `code` when given.
fn describe_diagnostics(diagnostics: &[Diagnostic], hints: &[Diagnostic], code: Option<&str>) -> String {
    let lines: Vec<&str> = code.map(|c| c.lines().collect()).unwrap_or_default();
    let mut used = vec![false; hints.len()];
    let mut out = Vec::new();
    for d in diagnostics {
        out.push(d.render("program.ts"));
        if let Some(text) = (d.line as usize).checked_sub(1).and_then(|i| lines.get(i)) {
            out.push(format!("    {} | {}", d.line, text.trim_end()));
        }
        let hint = hints
            .iter()
            .enumerate()
            .find(|(i, h)| !used[*i] && h.line == d.line && h.code == d.code && h.message != d.message);
        if let Some((i, h)) = hint {
            used[i] = true;
            out.push(format!("    hint: {}", h.message));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLARATIONS: &str = "type WorkspaceListChannelsOutputChannel = {\n  /** Channel name, e.g. `general`. */\n  name: string;\n  /** What it is about. */\n  topic?: string;\n};\ntype Other = {\n  id: number;\n};\n";

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

    #[test]
    fn an_object_passed_for_a_string_gets_its_properties_named() {
        let tsc = Diagnostic::error(
            7,
            40,
            "TS2322",
            "Type 'WorkspaceListChannelsOutputChannel' is not assignable to type 'string'.",
        );
        let hints = object_for_value_hints(std::slice::from_ref(&tsc), DECLARATIONS);
        assert_eq!(hints.len(), 1);
        assert_eq!(
            hints[0].message,
            "'WorkspaceListChannelsOutputChannel' is an object with the properties name, topic; pass one of them (e.g. `.name`), not the whole object."
        );
        let quoted = quote_diagnostics(&[tsc], &hints, "\n\n\n\n\n\n  await tools.w.send({ channel });\n");
        assert!(quoted.ends_with("\n    hint: 'WorkspaceListChannelsOutputChannel' is an object with the properties name, topic; pass one of them (e.g. `.name`), not the whole object."), "{quoted}");
        // Not for other messages, unknown types, or object targets.
        for message in [
            "Type 'Nope' is not assignable to type 'string'.",
            "Type 'Other' is not assignable to type 'Thing'.",
            "Property 'x' does not exist on type 'Other'.",
        ] {
            let d = Diagnostic::error(1, 1, "TS2322", message);
            assert!(object_for_value_hints(&[d], DECLARATIONS).is_empty(), "{message}");
        }
    }
}
