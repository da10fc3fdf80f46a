//! Step 5, **check**: the program is prepared (a lone `main` is called), type-checked and
//! transpiled before anything runs; errors go back to the main model, at most
//! `max_repairs` times.

use codemode_typescript::{
    Diagnostic, Severity, TranspileError, Transpiled, prepare_program, shape_diagnostics, transpile,
};

use super::run::{RunContext, StepFailure};
use super::types::Typed;
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
    /// Its JavaScript, or why the run ends here.
    pub result: Result<Transpiled, StepFailure>,
    /// The conversation that ends with the answer holding `code` (a runtime repair goes on
    /// from there).
    pub conversation: Vec<Message>,
}

impl Checked {
    /// The step's detail for the report: `1 repairs`.
    pub fn detail(&self) -> String {
        format!("{} repairs", self.repairs)
    }
}

/// Checks the program, sending diagnostics back to the main model at most `max_repairs`
/// times.
pub(super) async fn check_and_repair(
    ctx: &RunContext<'_>,
    main: &dyn Llm,
    checker: &dyn TypeChecker,
    typed: &Typed,
    mut code: String,
    mut conversation: Vec<Message>,
    max_repairs: u32,
) -> Checked {
    let signatures = typed.tools.signatures();
    let mut repairs = 0;
    let mut diagnostics = Vec::new();
    loop {
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
                    result: Err(failure),
                    conversation,
                };
            }
        };
        diagnostics = found;
        if repairs >= max_repairs {
            let failure = compile_failure(&diagnostics);
            return Checked {
                code,
                diagnostics,
                repairs,
                result: Err(failure),
                conversation,
            };
        }
        let hints = repair_hints(checker, &code, context, &diagnostics).await;
        let quoted = quote_diagnostics(&diagnostics, &hints, &code);
        conversation.push(Message::user(prompts::render(
            prompts::REPAIR_USER,
            &[("checker", checker.name()), ("diagnostics", &quoted)],
        )));
        let repaired = match ask_for_a_change(ctx, main, &mut conversation, &code, &quoted).await {
            Ok(repaired) => repaired,
            Err(e) => {
                return Checked {
                    code,
                    diagnostics,
                    repairs,
                    result: Err(e.into()),
                    conversation,
                };
            }
        };
        code = repaired;
        repairs += 1;
    }
}

/// Asks for the repair `conversation` ends with. An answer that is the failing program again
/// is not taken as the repair: the model is asked once more, in a conversation cut back to
/// the request, the failing program and the quoted errors, and that answer is sampled
/// ([`Sampling::Varied`]): at temperature 0 the 1.5B model sent the same program back in the
/// fresh conversation too, every time (eval, issue 13).
async fn ask_for_a_change(
    ctx: &RunContext<'_>,
    main: &dyn Llm,
    conversation: &mut Vec<Message>,
    failing: &str,
    quoted: &str,
) -> Result<String, crate::llm::LlmError> {
    let code = ctx.ask_program(main, "repair", conversation).await?;
    if same_program(&code, failing) {
        tracing::info!("the repair returned the same program; asking again in a fresh conversation");
        let mut fresh = super::implement::opening(conversation);
        fresh.push(Message::assistant(format!(
            "```typescript\n{}\n```",
            failing.trim_end()
        )));
        fresh.push(Message::user(prompts::render(
            prompts::REPAIR_AGAIN_USER,
            &[("diagnostics", quoted)],
        )));
        let code = ctx
            .ask_program_sampled(main, "repair", &mut fresh, Sampling::Varied)
            .await?;
        *conversation = fresh;
        return Ok(code);
    }
    Ok(code)
}

/// Two programs that differ at most in white space.
pub(super) fn same_program(a: &str, b: &str) -> bool {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    words(a) == words(b)
}

/// What explains `diagnostics` of `code` to whoever fixes it: the built-in checker's words,
/// the properties of an object passed for a plain value, an unknown result.
pub(super) async fn repair_hints(
    checker: &dyn TypeChecker,
    code: &str,
    context: CheckContext<'_>,
    diagnostics: &[Diagnostic],
) -> Vec<Diagnostic> {
    let mut hints = builtin_hints(checker, code, context).await;
    hints.extend(object_for_value_hints(diagnostics, context.declarations));
    hints.extend(unknown_result_hints(diagnostics, code));
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

/// For tsc's "Property 'x' does not exist on type 'unknown'" and "'x' is of type
/// 'unknown'": the tool declares no output, so nothing can be read from its result. When the
/// line destructures an awaited tool call, the hint is the line to write instead, the form
/// of hint the 1.5B model acted on where it ignored prose (seen: `const { id } = await
/// tools.workspace.send_email(...)`, sent back unchanged on every repair).
fn unknown_result_hints(diagnostics: &[Diagnostic], code: &str) -> Vec<Diagnostic> {
    let lines: Vec<&str> = code.lines().collect();
    diagnostics
        .iter()
        .filter(|d| {
            (d.code == "TS2339" && d.message.ends_with("does not exist on type 'unknown'."))
                || (d.code == "TS18046" && d.message.ends_with("is of type 'unknown'."))
        })
        .map(|d| {
            let line = (d.line as usize).checked_sub(1).and_then(|i| lines.get(i)).copied();
            let mut hint = d.clone();
            hint.message = match line.and_then(destructured_call) {
                Some((call, path)) => format!(
                    "The result of {path} is `unknown`: the tool declares no output type, so it has no properties to read. \
                     Write this line as `{call};` and return a value the program already has."
                ),
                None => "The value is `unknown`: the tool declares no output type, so read nothing from its result \
                         (no destructuring, no properties); await the call and return a value the program already has \
                         (for a list of calls, how many there were)."
                    .into(),
            };
            hint
        })
        .collect()
}

/// `await tools.a.b(...)` and `tools.a.b` from a line `const { x } = await tools.a.b(...);`.
fn destructured_call(line: &str) -> Option<(&str, &str)> {
    let rest = line
        .trim()
        .strip_prefix("const ")
        .or_else(|| line.trim().strip_prefix("let "))?;
    let rest = rest.trim_start().strip_prefix('{')?;
    let (_, rest) = rest.split_once('}')?;
    let call = rest
        .trim_start()
        .strip_prefix('=')?
        .trim()
        .trim_end_matches(';')
        .trim_end();
    let path = call.strip_prefix("await ")?.trim_start();
    let path = &path[..path.find('(')?];
    (path.starts_with("tools.") && call.ends_with(')')).then_some((call, path))
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
    let lines: Vec<&str> = code.lines().collect();
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
        let unknown = Diagnostic::error(1, 9, "TS2339", "Property 'id' does not exist on type 'unknown'.");
        let hints = unknown_result_hints(std::slice::from_ref(&unknown), "return (await tools.w.send({})).id;");
        assert!(hints[0].message.starts_with("The value is `unknown`"), "{hints:?}");
        // A destructured call: the line to write instead.
        let code = "const { id } = await tools.w.send_email({ to: \"a@b.c\" });\nreturn { id };";
        let hints = unknown_result_hints(std::slice::from_ref(&unknown), code);
        assert_eq!(
            hints[0].message,
            "The result of tools.w.send_email is `unknown`: the tool declares no output type, so it has no properties to read. \
             Write this line as `await tools.w.send_email({ to: \"a@b.c\" });` and return a value the program already has."
        );
        let callback = Diagnostic::error(2, 29, "TS18046", "'result' is of type 'unknown'.");
        let code = "const sent = await Promise.all(xs.map((x) => tools.w.send_email(x)));\nreturn sent.map((result) => result.id);";
        let hints = unknown_result_hints(std::slice::from_ref(&callback), code);
        assert!(hints[0].message.contains("how many there were"), "{hints:?}");
        assert!(
            unknown_result_hints(
                &[Diagnostic::error(
                    1,
                    1,
                    "TS2339",
                    "Property 'id' does not exist on type 'Other'."
                )],
                code
            )
            .is_empty()
        );
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
