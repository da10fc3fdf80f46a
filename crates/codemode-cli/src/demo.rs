//! `codemode demo`: the seed query through all six steps against the demo MCP server.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use codemode::mcp::McpServerConfig;
use codemode::testing::ScriptedLlm;
use codemode::{CodeMode, Llm, RunObserver, RunOptions, Step, StepTiming};

use crate::Outcome;
use crate::models::{LiveModelArgs, RoleModels, live_models};
use crate::output::{out, outln};
use crate::setup::{self, Setup};

/// The seed's example query.
pub const SEED_QUERY: &str = "Get all channels, send a message to every channel that starts with 'test', \
     and set an emoji on each message in channels that start with the letter 'e'.";

/// The scripted answers the offline demo ships with.
const OFFLINE_SCRIPT: &str = include_str!("../demo/script.json");

/// Options of `codemode demo`.
pub struct DemoArgs {
    pub models: LiveModelArgs,
    pub offline: bool,
}

/// Live models when a key or a local server is given, the shipped script otherwise.
pub fn pick_models(args: &DemoArgs) -> Result<RoleModels> {
    if !args.offline
        && let Some(models) = live_models(&args.models)?
    {
        return Ok(models);
    }
    let scripted: Arc<dyn Llm> = Arc::new(ScriptedLlm::from_script_json(OFFLINE_SCRIPT)?);
    Ok(RoleModels::same(
        "OFFLINE: no OPENROUTER_API_KEY, OPENAI_API_KEY or --llm-base-url, so a scripted model \
             (a test double whose answers ship with the demo) stands in for the three LLMs; \
             everything else runs for real"
            .into(),
        scripted,
    ))
}

/// The demo MCP server as a stdio MCP server: this binary's hidden `demo-server` command,
/// a fresh workspace per start. All of its tools, the test harness's among them.
pub fn demo_server_config() -> Result<McpServerConfig> {
    let exe = std::env::current_exe().context("cannot find the codemode binary to start the demo server")?;
    Ok(McpServerConfig {
        command: Some(exe.to_string_lossy().into_owned()),
        args: vec!["demo-server".into()],
        ..McpServerConfig::default()
    })
}

/// The demo server's tools for tests and evaluations, not for a model: reading the whole
/// state back and resetting it (seen in the eval: a model ended its program with
/// `reset_workspace()`, undoing its own work, and the run reported success).
pub fn demo_harness_tools() -> Vec<String> {
    vec!["get_workspace_state".into(), "reset_workspace".into()]
}

struct Progress;

impl RunObserver for Progress {
    fn step_started(&self, step: Step) {
        let what = match step {
            Step::Plan => "the strategy model writes pseudocode",
            Step::Filter => "the tiny model picks the relevant tools",
            Step::Types => "TypeScript declarations for the chosen tools",
            Step::Implement => "the main model writes TypeScript",
            Step::Check => "type-check (errors go back to the model)",
            Step::Execute => "run the program in the sandbox",
        };
        outln!("  ▸ {:<9} {what}", step.as_str());
    }

    fn step_finished(&self, timing: &StepTiming) {
        outln!(
            "  ✓ {:<9} {:>8.1} ms  {}",
            timing.step.as_str(),
            timing.duration_ms,
            timing.detail
        );
    }
}

pub async fn run(args: DemoArgs, setup: &Setup) -> Result<Outcome> {
    let models = pick_models(&args)?;
    outln!("codemode demo\n");
    outln!("query:  {SEED_QUERY}");
    outln!("models: {}\n", models.description);
    let started = Instant::now();
    let config = McpServerConfig {
        exclude_tools: demo_harness_tools(),
        ..demo_server_config()?
    };
    let provider = config.tool_filter().apply(Arc::new(
        codemode::mcp::McpToolProvider::connect("workspace", &config).await?,
    ));
    let builder = CodeMode::builder()
        .strategy_llm(models.strategy)
        .tiny_llm(models.tiny)
        .main_llm(models.main)
        .tool_provider("workspace", provider)
        .environment(setup::environment(setup)?);
    let codemode = setup::type_checker(setup)?.apply(builder).build().await?;
    outln!(
        "started the demo MCP server (stdio): {} tools in namespace `workspace` ({:.0} ms)\n",
        codemode.catalog().len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    outln!(
        "checker: {}; run environment: {}\n",
        codemode.checker_name(),
        codemode.environment_name().unwrap_or("none")
    );
    let report = codemode
        .run(
            codemode::RunRequest::query(RunOptions {
                query: SEED_QUERY.into(),
                ..setup.options.clone()
            })
            .observer(&Progress),
        )
        .await?;
    outln!();
    if let Some(code) = &report.code {
        outln!(
            "── generated code ({} repairs) ──\n{}\n",
            report.repairs,
            code.trim_end()
        );
    }
    crate::output::print_report(&report.fitted(setup.report_tokens), false);
    out!("{}", report.timing_table());
    Ok(if report.is_success() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// Serves the demo MCP server on stdio (what `codemode demo` starts).
pub async fn serve_demo_server() -> Result<Outcome> {
    codemode_demo_server::serve_stdio()
        .await
        .map_err(|e| anyhow::anyhow!("demo server: {e}"))?;
    Ok(Outcome::Success)
}
