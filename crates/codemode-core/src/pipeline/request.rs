//! [`RunRequest`]: what one run does, with whom. The one argument of [`CodeMode::run`].
//!
//! [`CodeMode::run`]: super::CodeMode::run

use std::sync::Arc;

use codemode_traits::Approver;

use super::run::RunObserver;
use crate::limits::RunOptions;

/// What a run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunTask {
    /// The six steps for `options.query`: plan, filter, types, implement, check, execute.
    Query,
    /// Only **plan** and **filter** for `options.query`: the tools a run would type for the
    /// main model, without writing or running code. The report holds the plan,
    /// `selected_tools`, the filter failures, the two timings and the token usage;
    /// `result_type` is `success`, or `llm_error` when a model failed. Needs the strategy
    /// and tiny models only (what `codemode eval --recall` measures the filter with).
    SelectTools,
    /// Check and run this program against every tool of the catalog, no model involved
    /// (what `codemode exec` and `execute_code` in `codemode serve` do); `options.query` is
    /// ignored.
    Program(String),
}

/// One run: its task, its options and limits, who is told about each step, and who
/// decides on the calls that need approval.
///
/// ```
/// use codemode_core::{RunOptions, RunRequest, RunTask};
///
/// // A plain `RunOptions` is a request for the whole pipeline.
/// let request: RunRequest<'_> = RunOptions::new("Say hello in every channel").into();
/// assert_eq!(request.task(), &RunTask::Query);
///
/// let exec = RunRequest::program("return 1 + 1;", RunOptions::default());
/// assert!(matches!(exec.task(), RunTask::Program(code) if code == "return 1 + 1;"));
/// ```
pub struct RunRequest<'o> {
    pub(super) task: RunTask,
    pub(super) options: RunOptions,
    pub(super) observer: Option<&'o dyn RunObserver>,
    pub(super) approver: Option<Arc<dyn Approver>>,
}

impl<'o> RunRequest<'o> {
    /// The whole pipeline for `options.query`.
    pub fn query(options: RunOptions) -> Self {
        Self::new(RunTask::Query, options)
    }

    /// Plan and filter only (see [`RunTask::SelectTools`]).
    pub fn select_tools(options: RunOptions) -> Self {
        Self::new(RunTask::SelectTools, options)
    }

    /// Check and run `code`, no model involved (see [`RunTask::Program`]).
    pub fn program(code: impl Into<String>, options: RunOptions) -> Self {
        Self::new(RunTask::Program(code.into()), options)
    }

    /// A request for `task` with `options`, no observer, and the builder's approver.
    pub fn new(task: RunTask, options: RunOptions) -> Self {
        Self {
            task,
            options,
            observer: None,
            approver: None,
        }
    }

    /// Tells `observer` when each step starts and ends.
    pub fn observer(mut self, observer: &'o dyn RunObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Lets `approver` decide on the calls that need approval in this run, instead of the
    /// builder's (e.g. one that asks the user of the MCP client that sent the program).
    pub fn approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approver = Some(approver);
        self
    }

    /// What the run does.
    pub fn task(&self) -> &RunTask {
        &self.task
    }

    /// The run's options and limits.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }
}

impl From<RunOptions> for RunRequest<'_> {
    fn from(options: RunOptions) -> Self {
        Self::query(options)
    }
}

impl std::fmt::Debug for RunRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunRequest")
            .field("task", &self.task)
            .field("options", &self.options)
            .field("observer", &self.observer.is_some())
            .field("approver", &self.approver.as_ref().map(|a| a.name().to_string()))
            .finish()
    }
}
