//! `CodeMode`: the six-step pipeline (plan, filter, types, implement, check, execute).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use codemode_typescript::{Diagnostic, Severity, TranspileError, generate_declarations, prepare_program, transpile};
use futures::StreamExt;

use crate::bridge::{CatalogBridge, ToolBridge};
use crate::catalog::{CatalogEntry, ProviderFailure, ToolCatalog};
use crate::checker::{BuiltinTypeChecker, CheckContext, TypeChecker};
use crate::environment::{ExecutionLimits, ExecutionRequest, FailureKind, RunEnvironment};
use crate::error::CodeModeError;
use crate::extract::extract_code;
use crate::filter::{FilterAnswer, parse_filter_answer};
use crate::llm::{Llm, LlmError, LlmRequest, LlmRole, Message, TokenUsage};
use crate::options::RunOptions;
use crate::promptlog::PromptLog;
use crate::prompts;
use crate::report::{FilterBatchFailure, ResultType, RunReport, Step, StepTiming};
use crate::tool::ToolProvider;

/// How many tool names per namespace the planner sees.
const PLAN_SAMPLES_PER_NAMESPACE: usize = 8;
/// How much of a tool description the filter sees.
const FILTER_DESCRIPTION_CHARS: usize = 240;
/// Grace the pipeline gives an environment past its own deadline before giving up on it.
const ENVIRONMENT_GRACE: Duration = Duration::from_secs(5);

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
}

/// Builds a [`CodeMode`].
#[derive(Default)]
pub struct CodeModeBuilder {
    strategy: Option<Arc<dyn Llm>>,
    tiny: Option<Arc<dyn Llm>>,
    main: Option<Arc<dyn Llm>>,
    catalog: ToolCatalog,
    providers: Vec<(String, Arc<dyn ToolProvider>)>,
    environment: Option<Arc<dyn RunEnvironment>>,
    checker: Option<Arc<dyn TypeChecker>>,
    secrets: Vec<String>,
}

impl CodeModeBuilder {
    /// The model that writes the plan.
    pub fn strategy_llm(mut self, llm: Arc<dyn Llm>) -> Self {
        self.strategy = Some(llm);
        self
    }

    /// The small model that filters tools.
    pub fn tiny_llm(mut self, llm: Arc<dyn Llm>) -> Self {
        self.tiny = Some(llm);
        self
    }

    /// The model that writes and repairs code.
    pub fn main_llm(mut self, llm: Arc<dyn Llm>) -> Self {
        self.main = Some(llm);
        self
    }

    /// One model for all three roles.
    pub fn llm(self, llm: Arc<dyn Llm>) -> Self {
        self.strategy_llm(llm.clone()).tiny_llm(llm.clone()).main_llm(llm)
    }

    /// Adds a tool provider under a namespace; its tools are listed by `build`.
    pub fn tool_provider(mut self, namespace: impl Into<String>, provider: Arc<dyn ToolProvider>) -> Self {
        self.providers.push((namespace.into(), provider));
        self
    }

    /// Adds the tools of an already built catalog.
    pub fn catalog(mut self, catalog: ToolCatalog) -> Self {
        self.catalog.merge(catalog);
        self
    }

    /// Where programs run.
    pub fn environment(mut self, environment: Arc<dyn RunEnvironment>) -> Self {
        self.environment = Some(environment);
        self
    }

    /// The type checker (the built-in oxc checker by default).
    pub fn type_checker(mut self, checker: Arc<dyn TypeChecker>) -> Self {
        self.checker = Some(checker);
        self
    }

    /// Extra secret values to redact from prompt logs (API keys are redacted anyway).
    pub fn secret(mut self, value: impl Into<String>) -> Self {
        self.secrets.push(value.into());
        self
    }

    /// Lists the tools of every provider and builds the pipeline. Providers that fail are
    /// left out and reported by [`CodeMode::provider_failures`].
    pub async fn build(self) -> Result<CodeMode, CodeModeError> {
        let (listed, provider_failures) = ToolCatalog::from_providers(self.providers.clone()).await;
        let mut catalog = self.catalog.clone();
        catalog.merge(listed);
        Ok(CodeMode {
            strategy: self.strategy,
            tiny: self.tiny,
            main: self.main,
            catalog: RwLock::new(Arc::new(catalog)),
            fixed_catalog: self.catalog,
            providers: self.providers,
            environment: self.environment,
            checker: self.checker.unwrap_or_else(|| Arc::new(BuiltinTypeChecker)),
            provider_failures,
            secrets: self.secrets,
        })
    }
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

/// Per-run state shared by the steps.
struct RunContext {
    log: Option<PromptLog>,
    usage: Mutex<BTreeMap<String, TokenUsage>>,
}

impl RunContext {
    async fn ask(&self, llm: &dyn Llm, role: LlmRole, step: &str, messages: Vec<Message>) -> Result<String, LlmError> {
        let request = LlmRequest {
            role,
            step: step.to_string(),
            messages,
        };
        let result = llm.complete(&request).await;
        if let Some(log) = &self.log {
            match &result {
                Ok(r) => log.write(&request, Ok(&r.text)),
                Err(e) => log.write(&request, Err(&e.to_string())),
            }
        }
        let response = result?;
        if let Ok(mut usage) = self.usage.lock() {
            usage.entry(role.as_str().to_string()).or_default().add(response.usage);
        }
        Ok(response.text)
    }
}

impl CodeMode {
    /// A builder.
    pub fn builder() -> CodeModeBuilder {
        CodeModeBuilder::default()
    }

    /// The catalog in use now.
    pub fn catalog(&self) -> Arc<ToolCatalog> {
        self.catalog.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Lists the tools of every provider again and replaces the catalog. Providers that
    /// fail keep their previous tools.
    pub async fn refresh_catalog(&self) -> Vec<ProviderFailure> {
        let old = self.catalog();
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

    /// The catalog for a new run: listed again first when a provider reported that its
    /// tools changed.
    async fn current_catalog(&self) -> Arc<ToolCatalog> {
        if self.providers.iter().any(|(_, p)| p.tools_changed()) {
            tracing::info!("a tool provider's tools changed; refreshing the catalog");
            self.refresh_catalog().await;
        }
        self.catalog()
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
        let diagnostics = self
            .check_against_catalog(&catalog, &prepare_program(code).text)
            .await?;
        Ok(CheckResult {
            checker: self.checker.name().to_string(),
            diagnostics,
        })
    }

    /// Checks a prepared program against every tool of `catalog`.
    async fn check_against_catalog(
        &self,
        catalog: &ToolCatalog,
        program: &str,
    ) -> Result<Vec<Diagnostic>, CodeModeError> {
        let signatures = catalog.signatures();
        let declarations = generate_declarations(&signatures).text;
        let context = CheckContext {
            tools: &signatures,
            declarations: &declarations,
        };
        Ok(self.checker.check(program, context).await?)
    }

    /// Checks and runs a program against the tools, no model involved (what `codemode exec`
    /// does). `options.query` is ignored.
    pub async fn execute_program(&self, code: &str, options: &RunOptions) -> Result<RunReport, CodeModeError> {
        options.validate().map_err(CodeModeError::Config)?;
        let started = Instant::now();
        let catalog = self.current_catalog().await;
        let mut report = RunReport {
            selected_tools: catalog.tool_paths(),
            ..RunReport::default()
        };
        let prepared = prepare_program(code);
        report.code = Some(code.to_string());
        let t = Instant::now();
        let diagnostics = self.check_against_catalog(&catalog, &prepared.text).await?;
        push_timing(&mut report, None, Step::Check, t, String::new());
        report.checker = Some(self.checker.name().to_string());
        let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
        report.diagnostics = diagnostics;
        if failed {
            fail_compile(&mut report);
        } else {
            self.execute_step(&mut report, None, &prepared.text, catalog, options)
                .await;
        }
        report.total_duration_ms = ms(started);
        Ok(report)
    }

    /// Runs the whole pipeline for `options.query`.
    ///
    /// Returns an error only for unusable options or a missing part (no models, no run
    /// environment); everything that happens during the run is in the report.
    pub async fn run(&self, options: RunOptions) -> Result<RunReport, CodeModeError> {
        self.run_observed(options, None).await
    }

    /// [`Self::run`], telling `observer` when each step starts and ends.
    pub async fn run_observed(&self, options: RunOptions, observer: Observer<'_>) -> Result<RunReport, CodeModeError> {
        options.validate().map_err(CodeModeError::Config)?;
        let strategy = self.strategy.clone().ok_or(CodeModeError::Missing("strategy LLM"))?;
        let tiny = self.tiny.clone().ok_or(CodeModeError::Missing("tiny LLM"))?;
        let main = self.main.clone().ok_or(CodeModeError::Missing("main LLM"))?;
        if self.environment.is_none() {
            return Err(CodeModeError::Missing("run environment"));
        }
        let log = match &options.log_dir {
            Some(dir) => Some(PromptLog::create(dir, &self.secrets)?),
            None => None,
        };
        let ctx = RunContext {
            log,
            usage: Mutex::new(BTreeMap::new()),
        };
        let started = Instant::now();
        let catalog = self.current_catalog().await;
        let mut report = RunReport::default();
        self.run_steps(&ctx, observer, &mut report, &options, catalog, strategy, tiny, main)
            .await;
        report.token_usage = ctx.usage.lock().map(|u| u.clone()).unwrap_or_default();
        report.total_duration_ms = ms(started);
        tracing::info!(result = %report.result_type, ms = report.total_duration_ms, "run finished");
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_steps(
        &self,
        ctx: &RunContext,
        observer: Observer<'_>,
        report: &mut RunReport,
        options: &RunOptions,
        catalog: Arc<ToolCatalog>,
        strategy: Arc<dyn Llm>,
        tiny: Arc<dyn Llm>,
        main: Arc<dyn Llm>,
    ) {
        // 1. plan
        let t = start(observer, Step::Plan);
        let plan = match self.plan(ctx, strategy.as_ref(), &options.query, &catalog).await {
            Ok(plan) => plan,
            Err(e) => return fail_llm(report, observer, Step::Plan, t, e),
        };
        report.pseudocode = Some(plan.clone());
        push_timing(report, observer, Step::Plan, t, String::new());

        // 2. filter
        let t = start(observer, Step::Filter);
        let (selected, batches) = match self.filter(ctx, tiny, options, &plan, &catalog, report).await {
            Ok(found) => found,
            Err(e) => return fail_llm(report, observer, Step::Filter, t, e),
        };
        report.selected_tools = selected.iter().cloned().collect();
        let detail = format!(
            "{} of {} tools, {batches} batch{}",
            selected.len(),
            catalog.len(),
            if batches == 1 { "" } else { "es" }
        );
        push_timing(report, observer, Step::Filter, t, detail);

        // 3. types
        let t = start(observer, Step::Types);
        let chosen = catalog.subset(selected.iter().map(String::as_str));
        let signatures = chosen.signatures();
        let declarations = generate_declarations(&signatures).text;
        push_timing(
            report,
            observer,
            Step::Types,
            t,
            format!("{} lines", declarations.lines().count()),
        );

        // 4. implement
        let t = start(observer, Step::Implement);
        let system = prompts::render(prompts::IMPLEMENT_SYSTEM, &[("declarations", declarations.trim_end())]);
        let user = prompts::render(prompts::IMPLEMENT_USER, &[("query", &options.query), ("plan", &plan)]);
        let mut conversation = vec![Message::system(system), Message::user(user)];
        let answer = match ctx
            .ask(main.as_ref(), LlmRole::Main, "implement", conversation.clone())
            .await
        {
            Ok(a) => a,
            Err(e) => return fail_llm(report, observer, Step::Implement, t, e),
        };
        conversation.push(Message::assistant(answer.clone()));
        let mut code = extract_code(&answer);
        push_timing(report, observer, Step::Implement, t, String::new());

        // 5. check, repairing at most max_repairs times
        let t = start(observer, Step::Check);
        report.checker = Some(self.checker.name().to_string());
        let prepared = loop {
            let prepared = prepare_program(&code);
            report.code = Some(code.clone());
            let diagnostics = match self
                .checker
                .check(
                    &prepared.text,
                    CheckContext {
                        tools: &signatures,
                        declarations: &declarations,
                    },
                )
                .await
            {
                Ok(d) => d,
                Err(e) => {
                    report.result_type = ResultType::CompileError;
                    report.error = Some(e.to_string());
                    push_timing(report, observer, Step::Check, t, String::new());
                    return;
                }
            };
            let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
            report.diagnostics = diagnostics;
            if !failed {
                break prepared;
            }
            if report.repairs >= options.max_repairs {
                push_timing(report, observer, Step::Check, t, format!("{} repairs", report.repairs));
                return fail_compile(report);
            }
            let rendered: Vec<String> = report.diagnostics.iter().map(|d| d.render("program.ts")).collect();
            conversation.push(Message::user(prompts::render(
                prompts::REPAIR_USER,
                &[("checker", self.checker.name()), ("diagnostics", &rendered.join("\n"))],
            )));
            let answer = match ctx
                .ask(main.as_ref(), LlmRole::Main, "repair", conversation.clone())
                .await
            {
                Ok(a) => a,
                Err(e) => return fail_llm(report, observer, Step::Check, t, e),
            };
            conversation.push(Message::assistant(answer.clone()));
            code = extract_code(&answer);
            report.repairs += 1;
        };
        push_timing(report, observer, Step::Check, t, format!("{} repairs", report.repairs));

        // 6. execute
        self.execute_step(report, observer, &prepared.text, catalog, options)
            .await;
    }

    async fn plan(
        &self,
        ctx: &RunContext,
        llm: &dyn Llm,
        query: &str,
        catalog: &ToolCatalog,
    ) -> Result<String, LlmError> {
        let mut namespaces = String::new();
        for ns in catalog.namespace_summaries(PLAN_SAMPLES_PER_NAMESPACE) {
            let more = if ns.tool_count > ns.sample_tools.len() {
                ", ..."
            } else {
                ""
            };
            let _ = writeln!(
                namespaces,
                "- {} ({} tools): {}{more}",
                ns.name,
                ns.tool_count,
                ns.sample_tools.join(", ")
            );
        }
        if namespaces.is_empty() {
            namespaces.push_str("(no tools)\n");
        }
        let user = prompts::render(
            prompts::PLAN_USER,
            &[
                ("query", query),
                ("tool_count", &catalog.len().to_string()),
                ("namespaces", namespaces.trim_end()),
            ],
        );
        let answer = ctx
            .ask(
                llm,
                LlmRole::Strategy,
                "plan",
                vec![Message::system(prompts::PLAN_SYSTEM), Message::user(user)],
            )
            .await?;
        Ok(answer.trim().to_string())
    }

    /// Asks the tiny model about every batch, at most `max_concurrent_threads` at a time.
    ///
    /// A batch whose answer cannot be parsed is asked once more; if it still fails (or the
    /// model errors), its tools are **kept**: missing a needed tool costs the run, an extra
    /// tool only costs prompt space, and the type check still guards the code. Failed
    /// batches are listed in the report. If every batch fails because the model errors, the
    /// run ends with `llm_error`.
    async fn filter(
        &self,
        ctx: &RunContext,
        tiny: Arc<dyn Llm>,
        options: &RunOptions,
        plan: &str,
        catalog: &ToolCatalog,
        report: &mut RunReport,
    ) -> Result<(BTreeSet<String>, usize), LlmError> {
        let entries: Vec<&CatalogEntry> = catalog.entries().collect();
        let batches: Vec<&[&CatalogEntry]> = entries.chunks(options.max_tools_per_prompt).collect();
        let count = batches.len();
        let mut results: Vec<(usize, BatchResult)> = futures::stream::iter(batches.iter().enumerate())
            .map(|(i, batch)| {
                let tiny = tiny.clone();
                async move { (i, filter_batch(ctx, tiny.as_ref(), &options.query, plan, batch).await) }
            })
            .buffer_unordered(options.max_concurrent_threads)
            .collect()
            .await;
        results.sort_by_key(|(i, _)| *i);
        let mut selected = BTreeSet::new();
        let mut llm_errors = 0;
        let mut last_error = None;
        for (i, result) in results {
            match result {
                BatchResult::Selected(paths) => selected.extend(paths),
                BatchResult::Failed {
                    paths,
                    reason,
                    llm_error,
                } => {
                    if let Some(e) = llm_error {
                        llm_errors += 1;
                        last_error = Some(e);
                    }
                    tracing::warn!(batch = i, %reason, "filter batch failed; keeping its tools");
                    selected.extend(paths.iter().cloned());
                    report.filter_failures.push(FilterBatchFailure {
                        batch: i,
                        tools: paths,
                        reason,
                    });
                }
            }
        }
        if count > 0
            && llm_errors == count
            && let Some(e) = last_error
        {
            return Err(e);
        }
        Ok((selected, count))
    }

    async fn execute_step(
        &self,
        report: &mut RunReport,
        observer: Observer<'_>,
        program: &str,
        catalog: Arc<ToolCatalog>,
        options: &RunOptions,
    ) {
        let t = start(observer, Step::Execute);
        let Some(environment) = self.environment.clone() else {
            report.result_type = ResultType::EnvironmentError;
            report.error = Some("no run environment is configured".into());
            return;
        };
        let transpiled = match transpile(program) {
            Ok(t) => t,
            Err(TranspileError::Syntax(d)) => {
                report.diagnostics = d;
                push_timing(report, observer, Step::Execute, t, String::new());
                return fail_compile(report);
            }
            Err(e) => {
                report.result_type = ResultType::CompileError;
                report.error = Some(e.to_string());
                push_timing(report, observer, Step::Execute, t, String::new());
                return;
            }
        };
        let bridge = Arc::new(CatalogBridge::new(
            catalog,
            options.max_tool_calls,
            options.tool_timeout(),
        ));
        let limits = ExecutionLimits {
            total_timeout: options.execution_timeout(),
            cpu_time: options.cpu_time(),
            memory_limit_bytes: options.memory_limit_mb * 1024 * 1024,
            ..ExecutionLimits::default()
        };
        let request = ExecutionRequest {
            javascript: transpiled.code.clone(),
            limits,
        };
        let dyn_bridge: Arc<dyn ToolBridge> = bridge.clone();
        let outcome = tokio::time::timeout(
            limits.total_timeout + ENVIRONMENT_GRACE,
            environment.execute(request, dyn_bridge),
        )
        .await;
        report.tool_calls = bridge.records();
        match outcome {
            Err(_) => {
                report.result_type = ResultType::Timeout;
                report.error = Some(format!(
                    "the run environment `{}` did not stop at the {:.1} s deadline (total_execution_timeout)",
                    environment.name(),
                    options.total_execution_timeout
                ));
            }
            Ok(outcome) => {
                report.console = outcome.console;
                match outcome.result {
                    Ok(value) => {
                        report.result_type = ResultType::Success;
                        report.output = value;
                    }
                    Err(failure) => {
                        report.result_type = match failure.kind {
                            FailureKind::Runtime => ResultType::RuntimeError,
                            FailureKind::Timeout => ResultType::Timeout,
                            FailureKind::ToolCallLimit => ResultType::ToolCallLimit,
                            FailureKind::MemoryLimit => ResultType::MemoryLimit,
                            FailureKind::Tool => ResultType::ToolError,
                            FailureKind::Environment => ResultType::EnvironmentError,
                        };
                        report.error_line = failure.line.and_then(|l| transpiled.original_line(l));
                        report.error = Some(match report.error_line {
                            Some(line) => format!("{} (program.ts line {line})", failure.message),
                            None => failure.message,
                        });
                    }
                }
            }
        }
        let calls = report.tool_calls.len();
        push_timing(
            report,
            observer,
            Step::Execute,
            t,
            format!("{calls} tool calls in {}", environment.name()),
        );
    }
}

enum BatchResult {
    Selected(BTreeSet<String>),
    Failed {
        paths: Vec<String>,
        reason: String,
        llm_error: Option<LlmError>,
    },
}

async fn filter_batch(
    ctx: &RunContext,
    tiny: &dyn Llm,
    query: &str,
    plan: &str,
    batch: &[&CatalogEntry],
) -> BatchResult {
    let paths: Vec<String> = batch.iter().map(|e| e.path.clone()).collect();
    let mut listing = String::new();
    for (i, e) in batch.iter().enumerate() {
        let desc: String = e
            .spec
            .description
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(FILTER_DESCRIPTION_CHARS)
            .collect();
        let args: Vec<&str> = e
            .spec
            .input_schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let _ = writeln!(listing, "{}. {}({}): {desc}", i + 1, e.path, args.join(", "));
    }
    let user = prompts::render(
        prompts::FILTER_USER,
        &[("query", query), ("plan", plan), ("tools", listing.trim_end())],
    );
    let mut messages = vec![Message::system(prompts::FILTER_SYSTEM), Message::user(user)];
    let mut reason = String::new();
    for attempt in 0..2 {
        match ctx.ask(tiny, LlmRole::Tiny, "filter", messages.clone()).await {
            Ok(answer) => match parse_filter_answer(&answer, &paths) {
                FilterAnswer::Selected(s) => return BatchResult::Selected(s),
                FilterAnswer::Unparseable => {
                    reason = format!("unparseable answer: {}", answer.chars().take(120).collect::<String>());
                    if attempt == 0 {
                        messages.push(Message::assistant(answer));
                        let example = paths.first().map(String::as_str).unwrap_or("namespace.tool");
                        messages.push(Message::user(prompts::render(
                            prompts::FILTER_RETRY,
                            &[("example", example)],
                        )));
                    }
                }
            },
            Err(e) => {
                if attempt == 1 {
                    return BatchResult::Failed {
                        paths,
                        reason: format!("model error: {e}"),
                        llm_error: Some(e),
                    };
                }
                reason = format!("model error: {e}");
            }
        }
    }
    BatchResult::Failed {
        paths,
        reason,
        llm_error: None,
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn push_timing(report: &mut RunReport, observer: Observer<'_>, step: Step, started: Instant, detail: String) {
    let timing = StepTiming {
        step,
        duration_ms: ms(started),
        detail,
    };
    if let Some(o) = observer {
        o.step_finished(&timing);
    }
    report.timings.push(timing);
}

fn start(observer: Observer<'_>, step: Step) -> Instant {
    if let Some(o) = observer {
        o.step_started(step);
    }
    Instant::now()
}

type Observer<'a> = Option<&'a dyn RunObserver>;

/// Watches a run as it happens (for progress output). Both methods do nothing by default.
pub trait RunObserver: Send + Sync {
    /// A step begins.
    fn step_started(&self, _step: Step) {}
    /// A step ended (successfully or not).
    fn step_finished(&self, _timing: &StepTiming) {}
}

fn fail_llm(report: &mut RunReport, observer: Observer<'_>, step: Step, started: Instant, error: LlmError) {
    push_timing(report, observer, step, started, "failed".into());
    report.result_type = ResultType::LlmError;
    report.error = Some(format!("{step} step: {error}"));
}

fn fail_compile(report: &mut RunReport) {
    report.result_type = ResultType::CompileError;
    let first = report.diagnostics.iter().find(|d| d.severity == Severity::Error);
    report.error = Some(match first {
        Some(d) => format!(
            "the program does not type-check ({} errors); first: {}",
            report.diagnostics.len(),
            d.render("program.ts")
        ),
        None => "the program does not type-check".into(),
    });
}
