//! Step 5, **check**: the program is prepared (a lone `main` is called), type-checked and
//! transpiled before anything runs; errors go back to the main model, at most
//! `max_repairs` times.

use std::collections::BTreeSet;

use codemode_typescript::{
    Diagnostic, Severity, TranspileError, Transpiled, prepare_program, shape_diagnostics, transpile,
};

use super::hints::{quote_diagnostics, repair_hints};
use super::line_edit::{Failing, ask_for_a_change};
use crate::catalog::ToolCatalog;
use crate::pipeline::run::{RunContext, StepFailure};
use crate::pipeline::types::{DeclaredCalls, Typed};
use crate::prompts;
use crate::report::ResultType;
use codemode_traits::{CheckContext, CheckerError, Llm, Message, TypeChecker};

/// What one check of a program found.
pub(in crate::pipeline) enum Verdict {
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
pub(in crate::pipeline) async fn check_once(
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
pub(in crate::pipeline) async fn diagnostics(
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
pub(in crate::pipeline) async fn passes_without_learned_types(
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
pub(in crate::pipeline) fn compile_failure(diagnostics: &[Diagnostic]) -> StepFailure {
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
pub(in crate::pipeline) struct Checked {
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
pub(in crate::pipeline) struct Checking<'a> {
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
pub(in crate::pipeline) async fn check_and_repair(
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
