//! Step 5, **check**: the program is prepared (a lone `main` is called), type-checked and
//! transpiled before anything runs; errors go back to the main model, at most
//! `max_repairs` times.

use codemode_typescript::{
    Diagnostic, Severity, TranspileError, Transpiled, prepare_program, shape_diagnostics, transpile,
};

use super::run::{RunContext, StepFailure};
use super::types::Typed;
use crate::checker::{CheckContext, CheckerError, TypeChecker};
use crate::llm::{Llm, Message};
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
        let hints = builtin_hints(checker, &code, context).await;
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
/// the request, the failing program and the quoted errors (seen: a small model sending the
/// same program back on every repair).
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
        let mut fresh: Vec<Message> = conversation.iter().take(2).cloned().collect();
        fresh.push(Message::assistant(format!(
            "```typescript\n{}\n```",
            failing.trim_end()
        )));
        fresh.push(Message::user(prompts::render(
            prompts::REPAIR_AGAIN_USER,
            &[("diagnostics", quoted)],
        )));
        let code = ctx.ask_program(main, "repair", &mut fresh).await?;
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
