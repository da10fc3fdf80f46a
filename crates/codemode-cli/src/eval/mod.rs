//! `codemode eval`: the pipeline measured with real models.
//!
//! - Demo tasks ([`tasks::TASKS`]): each runs the whole pipeline against a fresh demo MCP
//!   server (stdio, as `codemode demo` starts it) and is judged by the workspace the run
//!   leaves behind, read back with the server's `get_workspace_state`.
//! - Real-server tasks ([`server_tasks::SERVER_TASKS`], `--suite servers`): six MCP servers
//!   from npm and PyPI over fixtures laid fresh per task ([`servers`]), judged by the files,
//!   commits, rows and knowledge graph the run leaves, or by the returned value.
//! - LiveMCPBench dev tasks ([`recall`]): plan and filter over the 527-tool catalog, and
//!   the share of the gold tools the filter kept.
//!
//! Per task: result type, compile and runtime repairs, model calls and tokens per role, time
//! per step. A table on stdout and a JSON file. `--record` keeps every model call so that
//! `--replay` runs the same eval offline.

mod agent;
mod compare;
mod direct;
pub mod fixture_data;
mod recall;
mod results;
pub mod server_tasks;
pub mod servers;
mod task_result;
pub mod tasks;
mod turns;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use codemode::learned::{LearnedTypes, ShapeStore};
use codemode::mcp::McpToolProvider;
use codemode::record::ReplayLlm;
use codemode::serve::ServeOptions;
use codemode::{CodeMode, FilteredToolProvider, RunEnvironment, RunOptions, ToolFilter, ToolProvider};
use codemode_demo_server::WorkspaceState;
use serde_json::{Value, json};

use crate::cli::{EvalArgs, EvalMode, EvalSuite, FunctionCalls};
use crate::demo::{demo_harness_tools, demo_server_config};
use crate::models::{RoleModels, live_models};
use crate::output::{out, outln};
use crate::setup::{self, Setup};
use crate::{Outcome, UsageError};

use self::results::{record_agent, record_report, summarize, table, write_results};
use self::server_tasks::{SERVER_TASKS, ServerTask};
use self::servers::{Fixture, Installed};
use self::task_result::TaskResult;
use self::tasks::{EvalTask, TASKS};

/// What the eval builds once and every task shares.
struct Harness {
    models: RoleModels,
    environment: Arc<dyn RunEnvironment>,
    checker: setup::CheckerChoice,
    options: RunOptions,
    /// `--learned-types*`: the learned output types every task shares, and how they are used.
    learned: Option<Arc<LearnedTypes>>,
    learned_description: String,
    /// `--function-calls`: how the agent loops offer functions.
    function_calls: FunctionCalls,
}

impl Harness {
    fn builder(&self) -> codemode::CodeModeBuilder {
        let mut builder = CodeMode::builder()
            .strategy_llm(self.models.strategy.clone())
            .tiny_llm(self.models.tiny.clone())
            .main_llm(self.models.main.clone())
            .environment(self.environment.clone());
        if let Some(learned) = &self.learned {
            builder = builder.learned_types(learned.clone());
        }
        self.checker.apply(builder)
    }
}

/// The learned output types of `--learned-types`, `--learned-types-from` or
/// `--learned-types-to`, and a description for the results; none by default, so that an
/// eval does not depend on what earlier runs on this machine learned.
fn eval_learned_types(args: &EvalArgs) -> Result<(Option<Arc<LearnedTypes>>, String)> {
    let open = |path: &std::path::Path| {
        ShapeStore::open(path).map_err(|e| anyhow::Error::from(UsageError(format!("learned types: {e}"))))
    };
    if let Some(path) = &args.learned_types {
        let learned = LearnedTypes::new(open(path)?);
        return Ok((Some(Arc::new(learned)), format!("used and learned: {}", path.display())));
    }
    if let Some(path) = &args.learned_types_from {
        if !path.is_file() {
            return Err(UsageError(format!("--learned-types-from: {} does not exist", path.display())).into());
        }
        let learned = LearnedTypes::new(open(path)?).learning(false);
        return Ok((
            Some(Arc::new(learned)),
            format!("used as they were: {}", path.display()),
        ));
    }
    if let Some(path) = &args.learned_types_to {
        let learned = LearnedTypes::new(open(path)?).applying(false);
        return Ok((
            Some(Arc::new(learned)),
            format!("learned, not used: {}", path.display()),
        ));
    }
    Ok((None, "off".into()))
}

/// The models of the eval: `--replay`, `--llm-base-url`, `[llm.*]`, or an API key; none
/// when `needed` is false and none is given (an eval that asks no model).
fn pick_models(args: &EvalArgs, setup: &Setup, needed: bool) -> Result<RoleModels> {
    let models = if let Some(path) = &args.replay {
        let replay = ReplayLlm::from_file(path).map_err(|e| UsageError(format!("--replay: {e}")))?;
        RoleModels::same(format!("replay of {}", path.display()), Arc::new(replay))
    } else if args.models.llm_base_url.is_some() {
        live_models(&args.models.clone().into())?.context("--llm-base-url gives live models")?
    } else if let Some(configured) = setup::configured_models(setup)? {
        configured
    } else if let Some(live) = live_models(&args.models.clone().into())? {
        live
    } else if !needed {
        RoleModels::same("none (no task asks a model)".into(), Arc::new(NoModel))
    } else {
        return Err(UsageError(
            "codemode eval needs models: --llm-base-url URL (e.g. `cargo xtask local-model`), [llm.*] in codemode.toml, \
             OPENROUTER_API_KEY or OPENAI_API_KEY, or --replay FILE"
                .into(),
        )
        .into());
    };
    match &args.record {
        Some(path) => {
            std::fs::write(path, "").map_err(|e| UsageError(format!("--record {}: {e}", path.display())))?;
            models.recorded(path)
        }
        None => Ok(models),
    }
}

/// The model of an eval that asks none (direct tool calling's recall alone).
struct NoModel;

#[async_trait::async_trait]
impl codemode::Llm for NoModel {
    async fn complete(&self, _: &codemode::LlmRequest) -> Result<codemode::LlmResponse, codemode::LlmError> {
        Err(codemode::LlmError::Other("this eval has no model".into()))
    }
}

/// A task of either suite.
#[derive(Clone, Copy)]
enum AnyTask {
    Demo(&'static EvalTask),
    Server(&'static ServerTask),
}

impl AnyTask {
    fn id(&self) -> &'static str {
        match self {
            Self::Demo(t) => t.id,
            Self::Server(t) => t.id,
        }
    }
}

fn selected_tasks(suite: EvalSuite, ids: &[String]) -> Result<Vec<AnyTask>> {
    let demo = TASKS.iter().map(AnyTask::Demo);
    let servers = SERVER_TASKS.iter().map(AnyTask::Server);
    let in_suite: Vec<AnyTask> = match suite {
        EvalSuite::Demo => demo.collect(),
        EvalSuite::Servers => servers.collect(),
        EvalSuite::All => demo.chain(servers).collect(),
    };
    if ids.is_empty() {
        return Ok(in_suite);
    }
    if ids.iter().any(|id| id == "none") {
        return Ok(Vec::new());
    }
    ids.iter()
        .map(|id| {
            in_suite.iter().find(|t| t.id() == id).copied().ok_or_else(|| {
                let known: Vec<_> = in_suite.iter().map(AnyTask::id).collect();
                UsageError(format!(
                    "no eval task `{id}` in --suite {}; its tasks are: {}",
                    format!("{suite:?}").to_lowercase(),
                    known.join(", ")
                ))
                .into()
            })
        })
        .collect()
}

/// What the real-server suite shares across its tasks: the installed servers and the pages.
struct ServerSuite {
    installed: Installed,
    url: String,
}

pub async fn run(args: EvalArgs, setup: &Setup, json: bool) -> Result<Outcome> {
    let tasks = selected_tasks(args.suite, &args.tasks)?;
    let server_suite = if tasks.iter().any(|t| matches!(t, AnyTask::Server(_))) {
        let installed = Installed::find(args.servers_dir.as_deref()).map_err(|e| UsageError(format!("{e:#}")))?;
        Some(ServerSuite {
            installed,
            url: servers::serve_pages()?,
        })
    } else {
        None
    };
    let recall_data = match args.recall {
        0 => None,
        n => Some(recall::Data::load(args.livemcpbench.as_deref(), n)?),
    };
    let (learned, learned_description) = eval_learned_types(&args)?;
    let modes: Vec<EvalMode> = if args.agent {
        vec![EvalMode::Agent]
    } else {
        args.modes.clone()
    };
    let harness = Harness {
        models: pick_models(
            &args,
            setup,
            !tasks.is_empty() || (recall_data.is_some() && modes.contains(&EvalMode::Pipeline)),
        )?,
        environment: setup::environment(setup)?,
        checker: setup::type_checker(setup)?,
        options: setup.options.clone(),
        learned,
        learned_description,
        function_calls: args.function_calls,
    };
    let started = Instant::now();
    eprintln!(
        "codemode eval: {} tasks, {} LiveMCPBench recall tasks ({} tools); models: {}; checker: {}",
        tasks.len(),
        recall_data.as_ref().map_or(0, |d| d.tasks.len()),
        recall_data.as_ref().map_or(0, |d| d.tools),
        harness.models.description,
        harness.checker.checker.name()
    );
    let mut results = Vec::new();
    let runs: Vec<(EvalMode, &AnyTask)> = modes
        .iter()
        .flat_map(|mode| tasks.iter().map(move |task| (*mode, task)))
        .collect();
    for (i, (mode, task)) in runs.iter().enumerate() {
        let label = if modes.len() > 1 {
            format!("{} {}", mode.name(), task.id())
        } else {
            task.id().to_string()
        };
        eprint!("[{}/{}] {:<20} ", i + 1, runs.len(), label);
        let result = match (task, &server_suite) {
            (AnyTask::Demo(task), _) => run_task(&harness, *mode, task).await,
            (AnyTask::Server(task), Some(suite)) => run_server_task(&harness, *mode, suite, task).await,
            (AnyTask::Server(_), None) => unreachable!("the server suite is set up when a server task is selected"),
        };
        eprintln!(
            "{} ({}, {:.0} s){}",
            if result.passed { "pass" } else { "FAIL" },
            result.result_type,
            result.total_ms / 1000.0,
            result.why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
        );
        results.push(result);
        // An eval stopped half-way (a slow model, Ctrl-C) keeps what it measured.
        write_results(
            &args.output,
            &summarize(&harness, results.iter().collect(), Vec::new(), started),
        )?;
    }
    let mut recall = Vec::new();
    if let Some(data) = &recall_data {
        if modes.contains(&EvalMode::Pipeline) {
            recall.extend(recall::measure(&harness, data, args.recall_programs).await?);
        }
        if modes.contains(&EvalMode::Direct) {
            recall.extend(recall::measure_direct(data)?);
        }
    }
    let eval = summarize(&harness, results.iter().collect(), recall, started);
    write_results(&args.output, &eval)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&eval)?);
    } else {
        out!("{}", table(&eval));
        outln!("results: {}", args.output.display());
    }
    Ok(if eval.passed == eval.tasks.len() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// One real-server task on a fresh fixture, with all six servers offered.
async fn run_server_task(harness: &Harness, mode: EvalMode, suite: &ServerSuite, task: &ServerTask) -> TaskResult {
    let started = Instant::now();
    let mut result = TaskResult::new("servers", mode, task.id, task.kind, task.query);
    let judged = async {
        let fixture = Fixture::lay(&suite.installed, task.id, &suite.url)?;
        let query = fixture.request(task.query);
        result.query.clone_from(&query);
        // The user asked for the task, on a fixture laid for it: the calls that would need
        // approval (writes, commits) are approved, as `--yes` would, and listed in the report.
        let mut builder = harness.builder().approver(Arc::new(codemode::ApproveAll));
        for (name, provider) in suite.installed.start(&fixture).await? {
            builder = builder.tool_provider(name, provider);
        }
        let output = harness
            .attempt(mode, builder.build().await?, &query, &mut result)
            .await?;
        anyhow::Ok((task.check)(&fixture, &output))
    }
    .await;
    result.conclude(judged, started);
    result
}

/// One task on a fresh workspace.
async fn run_task(harness: &Harness, mode: EvalMode, task: &EvalTask) -> TaskResult {
    let started = Instant::now();
    let mut result = TaskResult::new("demo", mode, task.id, task.kind, task.query);
    let judged = async {
        let (provider, codemode) = fresh_workspace(harness).await?;
        let output = harness.attempt(mode, codemode, task.query, &mut result).await?;
        anyhow::Ok((task.check)(&workspace_state(&provider).await?, &output))
    }
    .await;
    result.conclude(judged, started);
    result
}

impl Harness {
    /// Runs `query` on `codemode` as `mode` says (the pipeline, the main model driving
    /// `codemode serve`, or the main model calling the tools directly) and fills `result`;
    /// the value a question is judged by.
    async fn attempt(&self, mode: EvalMode, codemode: CodeMode, query: &str, result: &mut TaskResult) -> Result<Value> {
        match mode {
            EvalMode::Pipeline => {
                let report = codemode
                    .run(RunOptions {
                        query: query.into(),
                        ..self.options.clone()
                    })
                    .await?;
                Ok(record_report(result, &report))
            }
            EvalMode::Agent => {
                let options = ServeOptions {
                    run: self.options.clone(),
                    ..ServeOptions::default()
                };
                let (run, last_program) =
                    agent::run(codemode, options, self.models.main.as_ref(), self.function_calls, query).await?;
                result.code = last_program;
                Ok(record_agent(result, run, json!({})))
            }
            EvalMode::Direct => {
                let direct = direct::run(
                    &codemode,
                    &self.options,
                    self.models.main.as_ref(),
                    self.function_calls,
                    query,
                )
                .await;
                let offered = json!({
                    "offered_tools": direct.offered,
                    "catalog_tools": direct.catalog,
                    "definition_tokens": direct.definition_tokens,
                });
                Ok(record_agent(result, direct.run, offered))
            }
        }
    }
}

/// A fresh demo server, and a pipeline over it without the harness tools: the model sees the
/// workspace tools, the eval alone reads the state back.
async fn fresh_workspace(harness: &Harness) -> Result<(Arc<McpToolProvider>, CodeMode)> {
    let provider = Arc::new(McpToolProvider::connect("workspace", &demo_server_config()?).await?);
    let offered = FilteredToolProvider::new(provider.clone(), ToolFilter::new(Vec::new(), demo_harness_tools()));
    let codemode = harness
        .builder()
        .tool_provider("workspace", Arc::new(offered))
        .build()
        .await?;
    Ok((provider, codemode))
}

async fn workspace_state(provider: &McpToolProvider) -> Result<WorkspaceState> {
    let state = provider
        .call_tool("get_workspace_state", json!({}))
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the demo workspace back: {e}"))?;
    let state: WorkspaceState = serde_json::from_value(state).context("the demo workspace's state")?;
    Ok(state)
}

impl Harness {
    /// A pipeline over a static catalog (no callable tools), for the filter.
    async fn over_catalog(&self, catalog: codemode::ToolCatalog) -> Result<CodeMode> {
        Ok(self.builder().catalog(catalog).build().await?)
    }
}
