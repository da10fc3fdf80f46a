//! `codemode demo`: the seed query through all six steps against the demo MCP server.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use codemode::config::LlmConfig;
use codemode::mcp::McpServerConfig;
use codemode::testing::ScriptedLlm;
use codemode::{CodeMode, Llm, RunObserver, RunOptions, Step, StepTiming};

use crate::Outcome;
use crate::output::{out, outln};
use crate::setup::{self, Setup};

/// The seed's example query.
pub const SEED_QUERY: &str = "Get all channels, send a message to every channel that starts with 'test', \
     and set an emoji on each message in channels that start with the letter 'e'.";

/// The scripted answers the offline demo ships with.
const OFFLINE_SCRIPT: &str = include_str!("../demo/script.json");

/// Which models the demo uses.
pub struct DemoModels {
    pub description: String,
    pub strategy: Arc<dyn Llm>,
    pub tiny: Arc<dyn Llm>,
    pub main: Arc<dyn Llm>,
}

/// Options of `codemode demo`.
pub struct DemoArgs {
    pub llm_base_url: Option<String>,
    pub model: Option<String>,
    pub tiny_model: Option<String>,
    pub offline: bool,
}

fn llm(provider: &str, model: &str, base_url: Option<&str>) -> Result<Arc<dyn Llm>> {
    let config = LlmConfig {
        provider: provider.into(),
        model: model.into(),
        base_url: base_url.map(str::to_string),
        api_key_env: None,
        settings: Default::default(),
    };
    let context = codemode::registry::FactoryContext::new("demo", config);
    Ok(codemode::registry::create_llm(&context)?)
}

/// Live models when a key or a local server is given, the shipped script otherwise.
pub fn pick_models(args: &DemoArgs) -> Result<DemoModels> {
    let live = |provider: &str, main: &str, tiny: &str, base: Option<&str>, label: String| -> Result<DemoModels> {
        let main_model = args.model.clone().unwrap_or_else(|| main.to_string());
        let tiny_model = args.tiny_model.clone().unwrap_or_else(|| tiny.to_string());
        let main = llm(provider, &main_model, base)?;
        Ok(DemoModels {
            description: format!("{label}: strategy and main {main_model}, tiny {tiny_model}"),
            strategy: main.clone(),
            tiny: llm(provider, &tiny_model, base)?,
            main,
        })
    };
    if !args.offline {
        if let Some(url) = &args.llm_base_url {
            let model = args.model.clone().unwrap_or_else(|| "llama3.2".into());
            return live(
                "openai",
                &model,
                &model,
                Some(url),
                format!("live, OpenAI-compatible server at {url}"),
            );
        }
        if std::env::var_os("OPENROUTER_API_KEY").is_some() {
            return live(
                "openrouter",
                "anthropic/claude-sonnet-4.5",
                "google/gemini-2.5-flash",
                None,
                "live, OpenRouter".into(),
            );
        }
        if std::env::var_os("OPENAI_API_KEY").is_some() {
            return live("openai", "gpt-5", "gpt-5-mini", None, "live, OpenAI".into());
        }
    }
    let scripted: Arc<dyn Llm> = Arc::new(ScriptedLlm::from_script_json(OFFLINE_SCRIPT)?);
    Ok(DemoModels {
        description: "OFFLINE: no OPENROUTER_API_KEY, OPENAI_API_KEY or --llm-base-url, so a scripted model \
             (a test double whose answers ship with the demo) stands in for the three LLMs; \
             everything else runs for real"
            .into(),
        strategy: scripted.clone(),
        tiny: scripted.clone(),
        main: scripted,
    })
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
    let exe = std::env::current_exe().context("cannot find the codemode binary to start the demo server")?;
    let server = McpServerConfig {
        command: Some(exe.to_string_lossy().into_owned()),
        args: vec!["demo-server".into()],
        ..McpServerConfig::default()
    };
    let provider = codemode::mcp::McpToolProvider::connect("workspace", &server).await?;
    let codemode = CodeMode::builder()
        .strategy_llm(models.strategy)
        .tiny_llm(models.tiny)
        .main_llm(models.main)
        .tool_provider("workspace", Arc::new(provider))
        .environment(setup::environment(setup)?)
        .type_checker(setup::type_checker(setup)?)
        .build()
        .await?;
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
    setup::warn_if_builtin_checker(setup, &codemode);
    let report = codemode
        .run_observed(
            RunOptions {
                query: SEED_QUERY.into(),
                ..setup.options.clone()
            },
            Some(&Progress),
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
    crate::commands::print_report(&report, false);
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
