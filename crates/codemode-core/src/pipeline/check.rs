//! Step 5, **check**: the program is prepared (a lone `main` is called), type-checked and
//! transpiled before anything runs; errors go back to the main model, at most
//! `max_repairs` times.

use codemode_typescript::{Diagnostic, Severity, TranspileError, Transpiled, prepare_program, transpile};

use super::run::{RunContext, StepFailure};
use super::types::Typed;
use crate::checker::{CheckContext, TypeChecker};
use crate::extract::extract_code;
use crate::llm::{Llm, LlmRole, Message};
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
    let diagnostics = checker
        .check(&prepared.text, context)
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
                };
            }
            Ok(Verdict::Failed { diagnostics }) => diagnostics,
            Err(failure) => {
                return Checked {
                    code,
                    diagnostics,
                    repairs,
                    result: Err(failure),
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
            };
        }
        let rendered: Vec<String> = diagnostics.iter().map(|d| d.render("program.ts")).collect();
        conversation.push(Message::user(prompts::render(
            prompts::REPAIR_USER,
            &[("checker", checker.name()), ("diagnostics", &rendered.join("\n"))],
        )));
        match ctx.ask(main, LlmRole::Main, "repair", conversation.clone()).await {
            Ok(answer) => {
                code = extract_code(&answer);
                conversation.push(Message::assistant(answer));
                repairs += 1;
            }
            Err(e) => {
                return Checked {
                    code,
                    diagnostics,
                    repairs,
                    result: Err(e.into()),
                };
            }
        }
    }
}
