//! `CodeMode`: the six-step pipeline. One module per step, each a function from typed
//! input to typed output ([`plan`], [`filter`], [`types`], [`implement`], [`check`],
//! [`execute`]), and [`rerun`], the runtime repair that may follow a failed run; this
//! module runs them in order and writes the [`RunReport`].

mod builder;
mod execute;
mod filter;
mod implement;
mod keywords;
mod plan;
mod program;
mod repair;
mod request;
mod run;
mod steps;
mod types;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tracing::Instrument;

use codemode_typescript::{Diagnostic, Severity, prepare_program};

pub use builder::CodeModeBuilder;
pub use request::{RunRequest, RunTask};
pub use run::RunObserver;

use self::repair::compile;
use self::run::{Observer, RunContext, StepClock, ms};
use self::steps::Execution;
use crate::approval::{ApprovalGate, ApprovalMemory, Approver};
use crate::bridge::CatalogBridge;
use crate::catalog::learned::LearnedTypes;
use crate::catalog::{ProviderFailure, ToolCatalog};
use crate::limits::FilterMode;
use crate::limits::RunOptions;
use crate::promptlog::PromptLog;
use crate::report::{RunReport, Step};
use codemode_traits::{CheckContext, CodeModeError, Llm, RunEnvironment, ToolProvider, TypeChecker};

/// Code mode: plan, filter, generate types, implement, check and execute.
///
/// ```
/// use std::sync::Arc;
/// use codemode_core::{CodeMode, RunOptions, StaticToolProvider, ToolSpec};
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let provider = StaticToolProvider::new(vec![ToolSpec::new(
///     "send_message",
///     "Send a chat message",
///     json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
/// )]);
/// let codemode = CodeMode::builder()
///     .tool_provider("chat", Arc::new(provider))
///     .build()
///     .await
///     .unwrap();
/// assert!(codemode.declarations().contains("send_message(input: ChatSendMessageInput)"));
/// let check = codemode.check_program("await tools.chat.send_mesage({ text: 'hi' });").await.unwrap();
/// assert_eq!(check.diagnostics[0].code, "TS2339");
/// # });
/// ```
pub struct CodeMode {
    strategy: Option<Arc<dyn Llm>>,
    tiny: Option<Arc<dyn Llm>>,
    main: Option<Arc<dyn Llm>>,
    catalog: RwLock<Arc<ToolCatalog>>,
    /// Tools given as a catalog (not listed from providers); kept for refreshes.
    fixed_catalog: ToolCatalog,
    providers: Vec<(String, Arc<dyn ToolProvider>)>,
    environment: Option<Arc<dyn RunEnvironment>>,
    checker: Arc<dyn TypeChecker>,
    provider_failures: Vec<ProviderFailure>,
    secrets: Vec<String>,
    warnings: Vec<String>,
    /// Decides on calls that need approval (`approval` in the run options).
    approver: Arc<dyn Approver>,
    /// Tools approved "always", across runs.
    approval_memory: Arc<ApprovalMemory>,
    /// Output types learned from results, when enabled.
    learned: Option<Arc<LearnedTypes>>,
    /// The catalog with the learned types, for (catalog, generation): redone when either changes.
    typed_catalog: Mutex<Option<(usize, u64, Arc<ToolCatalog>)>>,
}

/// Diagnostics of a program and the checker that produced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The checker's name.
    pub checker: String,
    /// What it found, at the lines of the program as written.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckResult {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

/// The three models of a run.
struct Models {
    strategy: Arc<dyn Llm>,
    /// `None` only in `retrieval` filter mode, which needs no tiny model.
    tiny: Option<Arc<dyn Llm>>,
    main: Arc<dyn Llm>,
}

impl CodeMode {
    /// A builder.
    pub fn builder() -> CodeModeBuilder {
        CodeModeBuilder::default()
    }

    /// The catalog in use now, with the output types learned so far (when learned types
    /// are on) for the tools that declare none.
    pub fn catalog(&self) -> Arc<ToolCatalog> {
        let listed = self.listed_catalog();
        let Some(learned) = self.learned.as_ref().filter(|l| l.applies()) else {
            return listed;
        };
        let (id, generation) = (Arc::as_ptr(&listed) as usize, learned.generation());
        let Ok(mut typed) = self.typed_catalog.lock() else {
            return listed;
        };
        if let Some((i, g, catalog)) = typed.as_ref()
            && (*i, *g) == (id, generation)
        {
            return catalog.clone();
        }
        let catalog = Arc::new(learned.apply_to(&listed));
        *typed = Some((id, generation, catalog.clone()));
        catalog
    }

    /// The catalog as the providers listed it, without learned types.
    fn listed_catalog(&self) -> Arc<ToolCatalog> {
        self.catalog.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// The learned output types, when they are on.
    pub fn learned_types(&self) -> Option<&Arc<LearnedTypes>> {
        self.learned.as_ref()
    }

    /// Feeds the results of a program's calls to the learned types.
    fn learn_from(&self, catalog: &ToolCatalog, calls: &[codemode_traits::ToolCallRecord]) {
        if let Some(learned) = &self.learned {
            let changed = learned.observe(catalog, calls);
            if changed > 0 {
                tracing::debug!(changed, "learned output types changed");
            }
        }
    }

    /// Lists the tools of every provider again and replaces the catalog. Providers that
    /// fail keep their previous tools.
    pub async fn refresh_catalog(&self) -> Vec<ProviderFailure> {
        let old = self.listed_catalog();
        let (listed, failures) = ToolCatalog::from_providers(self.providers.clone()).await;
        let mut catalog = self.fixed_catalog.clone();
        for failure in &failures {
            let kept: Vec<&str> = old
                .entries()
                .filter(|e| e.namespace == failure.namespace)
                .map(|e| e.path.as_str())
                .collect();
            catalog.merge(old.subset(kept));
        }
        catalog.merge(listed);
        self.set_catalog(catalog);
        failures
    }

    /// Lists the tools again when a provider reported that its tools changed (an MCP
    /// server's `notifications/tools/list_changed`); true when it did.
    pub async fn refresh_if_changed(&self) -> bool {
        if !self.providers.iter().any(|(_, p)| p.tools_changed()) {
            return false;
        }
        tracing::info!("a tool provider's tools changed; refreshing the catalog");
        self.refresh_catalog().await;
        true
    }

    /// The catalog for a new run: listed again first when a provider reported that its
    /// tools changed.
    /// The approver given to the builder (or the one that denies, when none was).
    pub fn approver(&self) -> Arc<dyn Approver> {
        self.approver.clone()
    }

    /// The approval gate of one run: the run's policy and approver, this `CodeMode`'s memory.
    fn approval_gate(&self, options: &RunOptions, approver: Arc<dyn Approver>) -> Arc<ApprovalGate> {
        Arc::new(ApprovalGate::new(
            options.approval,
            approver,
            self.approval_memory.clone(),
        ))
    }

    /// A bridge that calls this `CodeMode`'s tools by path outside any program, for a caller
    /// that runs its own agent loop (direct tool calling, as `codemode eval --mode direct`
    /// measures it): `options.max_tool_calls`, `tool_call_timeout` and the approval policy
    /// hold as in a run, arguments are checked against the input schema, and every call is
    /// recorded ([`CatalogBridge::records`]). Learned output types are not fed from it.
    pub async fn tool_bridge(&self, options: &RunOptions) -> CatalogBridge {
        let catalog = self.current_catalog().await;
        CatalogBridge::new(catalog, options.max_tool_calls, options.tool_timeout())
            .with_approval(self.approval_gate(options, self.approver.clone()))
    }

    async fn current_catalog(&self) -> Arc<ToolCatalog> {
        self.refresh_if_changed().await;
        self.catalog()
    }

    /// True when the main models a run needs are there (strategy and main; the tiny one
    /// depends on the filter mode), so [`Self::run`] can be offered.
    pub fn has_models(&self) -> bool {
        self.strategy.is_some() && self.main.is_some()
    }

    /// Replaces the catalog; runs already under way keep the one they started with.
    pub fn set_catalog(&self, catalog: ToolCatalog) {
        if let Ok(mut c) = self.catalog.write() {
            *c = Arc::new(catalog);
        }
    }

    /// Providers that failed to list their tools when the pipeline was built.
    pub fn provider_failures(&self) -> &[ProviderFailure] {
        &self.provider_failures
    }

    /// The name of the type checker.
    pub fn checker_name(&self) -> &str {
        self.checker.name()
    }

    /// The name of the run environment, when one is set.
    pub fn environment_name(&self) -> Option<&str> {
        self.environment.as_deref().map(RunEnvironment::name)
    }

    /// TypeScript declarations of every tool in the catalog.
    pub fn declarations(&self) -> String {
        self.catalog().declarations()
    }

    /// Type-checks a program against every tool of the catalog.
    pub async fn check_program(&self, code: &str) -> Result<CheckResult, CodeModeError> {
        let catalog = self.current_catalog().await;
        let signatures = catalog.signatures();
        let declarations = catalog.declarations();
        let context = CheckContext {
            tools: &signatures,
            declarations: &declarations,
        };
        let diagnostics = compile::diagnostics(self.checker.as_ref(), &prepare_program(code).text, context).await?;
        Ok(CheckResult {
            checker: self.checker.name().to_string(),
            diagnostics,
        })
    }

    /// Runs a request: the whole pipeline for a query (a plain [`RunOptions`] is such a
    /// request), plan and filter only, or a program of one's own; see [`RunRequest`] for
    /// the observer and the approver.
    ///
    /// Returns an error only for unusable options or a missing part (no models, no run
    /// environment); everything that happens during the run is in the report.
    pub async fn run(&self, request: impl Into<RunRequest<'_>>) -> Result<RunReport, CodeModeError> {
        let RunRequest {
            task,
            options,
            observer,
            approver,
        } = request.into();
        options.validate().map_err(CodeModeError::Config)?;
        let approver = approver.unwrap_or_else(|| self.approver.clone());
        let kind = match &task {
            RunTask::Query => "pipeline",
            RunTask::SelectTools => "select_tools",
            RunTask::Program(_) => "program",
        };
        let span = tracing::info_span!("run", kind, result_type = tracing::field::Empty);
        let report = match task {
            RunTask::Query => {
                self.run_pipeline(options, observer, approver)
                    .instrument(span.clone())
                    .await?
            }
            RunTask::SelectTools => self.select_tools(options).instrument(span.clone()).await?,
            RunTask::Program(code) => {
                self.check_and_execute(&code, &options, approver)
                    .instrument(span.clone())
                    .await
            }
        };
        span.record("result_type", report.result_type.as_str());
        tracing::info!(result = %report.result_type, ms = report.total_duration_ms, "run finished");
        Ok(report)
    }

    /// [`RunTask::Query`]: the six steps.
    async fn run_pipeline(
        &self,
        options: RunOptions,
        observer: Observer<'_>,
        approver: Arc<dyn Approver>,
    ) -> Result<RunReport, CodeModeError> {
        let models = Models {
            strategy: self.strategy.clone().ok_or(CodeModeError::Missing("strategy LLM"))?,
            tiny: self.tiny_for(&options)?,
            main: self.main.clone().ok_or(CodeModeError::Missing("main LLM"))?,
        };
        let environment = self
            .environment
            .clone()
            .ok_or(CodeModeError::Missing("run environment"))?;
        let (ctx, started, mut report) = self.start(&options, observer)?;
        let catalog = self.current_catalog().await;
        let execution = Execution {
            environment: environment.as_ref(),
            approver,
        };
        self.run_steps(&ctx, &mut report, &options, catalog, &models, &execution)
            .await;
        Self::finish(&ctx, started, &mut report);
        Ok(report)
    }

    /// A report carrying the set-up's warnings.
    fn new_report(&self) -> RunReport {
        RunReport {
            warnings: self.warnings.clone(),
            ..RunReport::default()
        }
    }

    /// What every model-driven run starts with: its context (prompt log, observer), its
    /// clock and an empty report.
    fn start<'o>(
        &self,
        options: &RunOptions,
        observer: Observer<'o>,
    ) -> Result<(RunContext<'o>, Instant, RunReport), CodeModeError> {
        let log = match &options.log_dir {
            Some(dir) => Some(PromptLog::create(dir, &self.secrets)?),
            None => None,
        };
        Ok((RunContext::new(log, observer), Instant::now(), self.new_report()))
    }

    /// Token usage and total time into the report.
    fn finish(ctx: &RunContext<'_>, started: Instant, report: &mut RunReport) {
        report.token_usage = ctx.usage();
        report.total_duration_ms = ms(started);
    }

    /// [`RunTask::SelectTools`]: plan and filter only.
    async fn select_tools(&self, options: RunOptions) -> Result<RunReport, CodeModeError> {
        let strategy = self.strategy.clone().ok_or(CodeModeError::Missing("strategy LLM"))?;
        let tiny = self.tiny_for(&options)?;
        let (ctx, started, mut report) = self.start(&options, None)?;
        let catalog = self.current_catalog().await;
        Self::plan_and_filter(
            &ctx,
            &mut report,
            &options,
            &catalog,
            strategy.as_ref(),
            tiny.as_deref(),
        )
        .await;
        Self::finish(&ctx, started, &mut report);
        Ok(report)
    }

    /// The tiny model; required unless the filter runs on search alone.
    fn tiny_for(&self, options: &RunOptions) -> Result<Option<Arc<dyn Llm>>, CodeModeError> {
        match (&self.tiny, options.filter_mode) {
            (Some(tiny), _) => Ok(Some(tiny.clone())),
            (None, FilterMode::Retrieval) => Ok(None),
            (None, _) => Err(CodeModeError::Missing(
                "tiny LLM (the filter needs one unless filter_mode is \"retrieval\")",
            )),
        }
    }

    /// Steps 1 and 2; `None` when the run ends there (the report says why).
    async fn plan_and_filter(
        ctx: &RunContext<'_>,
        report: &mut RunReport,
        options: &RunOptions,
        catalog: &ToolCatalog,
        strategy: &dyn Llm,
        tiny: Option<&dyn Llm>,
    ) -> Option<(String, filter::Filtered)> {
        let clock = StepClock::start(ctx.observer, Step::Plan);
        let plan = match plan::plan(ctx, strategy, &options.query, catalog)
            .instrument(clock.span())
            .await
        {
            Ok(plan) => plan,
            Err(failure) => {
                clock.fail(report, failure, "");
                return None;
            }
        };
        report.pseudocode = Some(plan.clone());
        clock.finish(report, "");

        let clock = StepClock::start(ctx.observer, Step::Filter);
        let filtered = match filter::filter(ctx, tiny, strategy, options, &plan, catalog)
            .instrument(clock.span())
            .await
        {
            Ok(filtered) => filtered,
            Err(failure) => {
                clock.fail(report, failure, "");
                return None;
            }
        };
        report.search_keywords = filtered.keywords.clone();
        report.selected_tools = filtered.selected.iter().cloned().collect();
        report.filter_failures = filtered.failures.clone();
        clock.finish(report, filtered.detail(catalog.len()));
        Some((plan, filtered))
    }
}

/// `codemode serve` spawns runs onto a multi-threaded runtime, so their futures must stay
/// `Send`; this fails to compile when a change makes one lose it.
#[allow(dead_code)]
fn run_futures_are_send(code_mode: &CodeMode, options: RunOptions) {
    fn send<T: Send>(_: &T) {}
    send(&code_mode.run(options.clone()));
    send(&code_mode.run(RunRequest::select_tools(options.clone())));
    send(&code_mode.run(RunRequest::program("return 1;", options)));
    send(&code_mode.check_program("return 1;"));
    send(&code_mode.refresh_if_changed());
}
