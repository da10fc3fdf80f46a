//! A program of one's own (`RunTask::Program`): checked once, run if it passes, no model
//! involved (`codemode exec`, `execute_code` in `codemode serve`).

use std::sync::Arc;
use std::time::Instant;

use codemode_traits::{Approver, CheckContext};
use codemode_typescript::Transpiled;
use tracing::Instrument;

use super::repair::compile::{self, Verdict};
use super::repair::hints;
use super::run::{StepClock, ms};
use super::steps::record_execution;
use super::{CodeMode, execute};
use crate::catalog::ToolCatalog;
use crate::limits::RunOptions;
use crate::report::{ResultType, RunReport, Step};

impl CodeMode {
    /// [`RunTask::Program`]: checks and runs a program, no model involved.
    pub(super) async fn check_and_execute(
        &self,
        code: &str,
        options: &RunOptions,
        approver: Arc<dyn Approver>,
    ) -> RunReport {
        let started = Instant::now();
        let catalog = self.current_catalog().await;
        let mut report = RunReport {
            selected_tools: catalog.tool_paths(),
            code: Some(code.to_string()),
            checker: Some(self.checker.name().to_string()),
            ..self.new_report()
        };
        let clock = StepClock::start(None, Step::Check);
        let signatures = catalog.signatures();
        let declarations = catalog.declarations();
        let context = CheckContext {
            tools: &signatures,
            declarations: &declarations,
        };
        match compile::check_once(self.checker.as_ref(), code, context)
            .instrument(clock.span())
            .await
        {
            Ok(Verdict::Passed { program, diagnostics }) => {
                report.diagnostics = diagnostics;
                clock.finish(&mut report, "");
                self.execute_checked(&mut report, &program, catalog.clone(), options, approver)
                    .await;
            }
            Ok(Verdict::Failed { diagnostics })
                if let Some((program, warnings)) =
                    compile::passes_without_learned_types(self.checker.as_ref(), code, &catalog, &diagnostics)
                        .await =>
            {
                report.diagnostics = warnings;
                clock.finish(&mut report, "learned types only");
                self.execute_checked(&mut report, &program, catalog.clone(), options, approver)
                    .await;
            }
            Ok(Verdict::Failed { diagnostics }) => {
                let failure = compile::compile_failure(&diagnostics);
                report.hints = hints::repair_hints(self.checker.as_ref(), code, context, &diagnostics).await;
                report.diagnostics = diagnostics;
                clock.fail(&mut report, failure, "");
            }
            Err(failure) => clock.fail(&mut report, failure, ""),
        }
        report.total_duration_ms = ms(started);
        report
    }

    /// Runs a program that passed its check (`codemode exec`) and writes what it did.
    async fn execute_checked(
        &self,
        report: &mut RunReport,
        program: &Transpiled,
        catalog: Arc<ToolCatalog>,
        options: &RunOptions,
        approver: Arc<dyn Approver>,
    ) {
        let Some(environment) = &self.environment else {
            report.result_type = ResultType::EnvironmentError;
            report.error = Some("no run environment is configured".into());
            return;
        };
        let clock = StepClock::start(None, Step::Execute);
        let executed = execute::execute(
            environment.as_ref(),
            program,
            catalog.clone(),
            options,
            self.approval_gate(options, approver),
            Vec::new(),
        )
        .instrument(clock.span())
        .await;
        self.learn_from(&catalog, &executed.tool_calls);
        record_execution(report, clock, executed);
    }
}
