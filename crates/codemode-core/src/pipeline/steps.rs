//! A query's run: the six steps in order, and the runtime repair loop around execute. The
//! one place that writes a query's report.

use std::sync::Arc;

use codemode_traits::{Approver, RunEnvironment};
use codemode_typescript::Transpiled;
use tracing::Instrument;

use super::execute::Executed;
use super::repair::compile::{self, Checked};
use super::repair::{line_edit, runtime};
use super::run::{RunContext, StepClock};
use super::{CodeMode, Models, execute, implement, types};
use crate::catalog::ToolCatalog;
use crate::limits::{RerunPolicy, RunOptions};
use crate::report::{ResultType, RunReport, Step};
use codemode_traits::Message;

impl CodeMode {
    /// The six steps in order; the report is written here and nowhere else.
    pub(super) async fn run_steps(
        &self,
        ctx: &RunContext<'_>,
        report: &mut RunReport,
        options: &RunOptions,
        catalog: Arc<ToolCatalog>,
        models: &Models,
        execution: &Execution<'_>,
    ) {
        let Some((plan, filtered)) = Self::plan_and_filter(
            ctx,
            report,
            options,
            &catalog,
            models.strategy.as_ref(),
            models.tiny.as_deref(),
        )
        .await
        else {
            return;
        };

        let clock = StepClock::start(ctx.observer, Step::Types);
        let mut typed = types::types(&catalog, filtered.selected.iter().map(String::as_str));
        clock.finish(report, typed.detail());

        let clock = StepClock::start(ctx.observer, Step::Implement);
        let implementation =
            match implement::implement(ctx, models.main.as_ref(), &options.query, &plan, &typed.declarations)
                .instrument(clock.span())
                .await
            {
                Ok(implementation) => implementation,
                Err(failure) => return clock.fail(report, failure, ""),
            };
        clock.finish(report, "");

        let clock = StepClock::start(ctx.observer, Step::Check);
        report.checker = Some(self.checker.name().to_string());
        let checking = compile::Checking {
            main: models.main.as_ref(),
            checker: self.checker.as_ref(),
            catalog: &catalog,
            max_repairs: options.max_repairs,
        };
        let checked = compile::check_and_repair(
            ctx,
            checking,
            &mut typed,
            implementation.code,
            implementation.conversation,
        )
        .instrument(clock.span())
        .await;
        let Some(mut checked) = record_check(report, clock, checked) else {
            return;
        };

        // Under `replay`, the successful calls of the failed attempts, answered again.
        let mut replay = Vec::new();
        loop {
            let clock = StepClock::start(ctx.observer, Step::Execute);
            let executed = execute::execute(
                execution.environment,
                &checked.program,
                catalog.clone(),
                options,
                self.approval_gate(options, execution.approver.clone()),
                replay.clone(),
            )
            .instrument(clock.span())
            .await;
            self.learn_from(&catalog, &executed.tool_calls);
            let Some((result_type, error)) = runtime::repairable(&executed) else {
                return record_execution(report, clock, executed);
            };
            if report.runtime_repairs >= options.max_runtime_repairs {
                return record_execution(report, clock, executed);
            }
            if let Some(reason) = runtime::refusal(options.rerun_policy, &executed.tool_calls, &catalog) {
                record_execution(report, clock, executed);
                report.error = report.error.take().map(|e| format!("{e}; {reason}"));
                return;
            }
            let error = error.to_string();
            if options.rerun_policy == RerunPolicy::Replay {
                replay.extend(executed.tool_calls.iter().filter(|c| !c.replayed).cloned());
            }
            report
                .runtime_attempts
                .push(runtime::attempt(&checked.code, &executed, result_type, &error));
            clock.finish(report, format!("{}; {result_type}, repairing", executed.detail));

            report.runtime_repairs += 1;
            let clock = StepClock::start(ctx.observer, Step::Implement);
            let mut conversation = std::mem::take(&mut checked.conversation);
            let fixed = runtime::ask_for_fix(
                ctx,
                models.main.as_ref(),
                &mut conversation,
                &checked.code,
                &executed,
                &error,
            )
            .instrument(clock.span())
            .await;
            let fixed = match fixed {
                Ok(fixed) => fixed,
                Err(e) => return clock.fail(report, e.into(), ""),
            };
            clock.finish(report, format!("runtime repair {}", report.runtime_repairs));
            if line_edit::same_program(&fixed, &checked.code) {
                // Running it again would fail the same way: the run ends with that failure.
                return runtime::end_with_last_attempt(report, "the runtime repair returned the same program");
            }

            let clock = StepClock::start(ctx.observer, Step::Check);
            let repairs_before = report.repairs;
            let again = compile::check_and_repair(ctx, checking, &mut typed, fixed, conversation)
                .instrument(clock.span())
                .await;
            checked = match record_check(report, clock, again) {
                Some(passed) => passed,
                None => return,
            };
            report.repairs += repairs_before;
        }
    }
}

/// Where a run's programs execute and who approves their calls.
pub(super) struct Execution<'a> {
    pub(super) environment: &'a dyn RunEnvironment,
    pub(super) approver: Arc<dyn Approver>,
}

/// A program that passed the check: what the execute step (and a runtime repair) needs.
struct Passed {
    code: String,
    program: Transpiled,
    conversation: Vec<Message>,
}

/// Writes the check step into the report; `None` when the run ends there.
fn record_check(report: &mut RunReport, clock: StepClock<'_>, checked: Checked) -> Option<Passed> {
    let detail = checked.detail();
    let Checked {
        code,
        diagnostics,
        repairs,
        declared,
        result,
        conversation,
    } = checked;
    report.tools_declared_by_check.extend(declared);
    report.code = Some(code.clone());
    report.diagnostics = diagnostics;
    report.repairs = repairs;
    match result {
        Ok(program) => {
            clock.finish(report, detail);
            Some(Passed {
                code,
                program,
                conversation,
            })
        }
        Err(failure) => {
            clock.fail(report, failure, detail);
            None
        }
    }
}

/// Writes what the program did into the report.
pub(super) fn record_execution(report: &mut RunReport, clock: StepClock<'_>, executed: Executed) {
    report.tool_calls = executed.tool_calls;
    report.approvals = executed.approvals;
    report.console = executed.console;
    report.error_line = executed.error_line;
    match executed.result {
        Ok(value) => {
            report.result_type = ResultType::Success;
            report.output = value;
            clock.finish(report, executed.detail);
        }
        Err(failure) => clock.fail(report, failure, executed.detail),
    }
}
