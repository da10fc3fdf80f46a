//! The subcommands.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use codemode::{RunReport, Severity};
use serde_json::json;

use crate::cli::{Cli, Command, ToolsCommand};
use crate::output::{outln, print_json, print_report};
use crate::setup::{self, Needs, Setup};
use crate::tools;
use crate::{Outcome, UsageError};

pub async fn dispatch(cli: Cli) -> Result<Outcome> {
    #[cfg(feature = "demo")]
    if let Command::DemoServer = cli.command {
        return crate::demo::serve_demo_server().await;
    }
    let setup = setup::load(&cli.global)?;
    let json = cli.global.json;
    match cli.command {
        Command::Run { query } => run(&setup, query, json).await,
        Command::Exec { file } => exec(&setup, &file, json).await,
        Command::Tools(ToolsCommand::List { namespace }) => tools::tools_list(&setup, namespace.as_deref(), json).await,
        Command::Tools(ToolsCommand::Show { path }) => tools::tools_show(&setup, &path, json).await,
        Command::Tools(ToolsCommand::Search { text, limit }) => tools::tools_search(&setup, &text, limit, json).await,
        Command::Tools(ToolsCommand::Shapes { clear }) => crate::learned::shapes(&setup, clear, json).await,
        Command::Tools(ToolsCommand::Learn { namespace }) => {
            crate::learned::learn(&setup, namespace.as_deref(), json).await
        }
        Command::Types { tools } => tools::types(&setup, &tools).await,
        Command::Check { file } => check(&setup, &file, json).await,
        Command::Doctor => doctor(&setup, json).await,
        #[cfg(feature = "demo")]
        Command::Demo { models, offline } => {
            let args = crate::demo::DemoArgs {
                models: models.into(),
                offline,
            };
            crate::demo::run(args, &setup).await
        }
        #[cfg(feature = "demo")]
        Command::Eval(args) => crate::eval::run(*args, &setup, json).await,
        #[cfg(feature = "serve")]
        Command::Serve(args) => crate::serve::run(args, &setup).await,
        #[cfg(feature = "demo")]
        Command::DemoServer => crate::demo::serve_demo_server().await,
    }
}

fn read_program(file: &Path) -> Result<(String, String)> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the program from stdin")?;
        return Ok(("<stdin>".into(), text));
    }
    let text = std::fs::read_to_string(file).map_err(|e| UsageError(format!("cannot read {}: {e}", file.display())))?;
    Ok((file.display().to_string(), text))
}

fn outcome(report: &RunReport) -> Outcome {
    if report.is_success() {
        Outcome::Success
    } else {
        Outcome::Failed
    }
}

async fn run(setup: &Setup, query: String, json: bool) -> Result<Outcome> {
    let codemode = setup::build(
        setup,
        Needs {
            llms: true,
            environment: true,
            checker: true,
            ask: true,
        },
    )
    .await?;
    if codemode.catalog().is_empty() {
        eprintln!(
            "warning: no tools are configured; add [mcp_servers.NAME] or [tool_providers.NAME] to codemode.toml or pass --mcp-config/--catalog"
        );
    }
    let mut options = setup.options.clone();
    options.query = query;
    let report = codemode.run(options).await?.fitted(setup.report_tokens);
    if json {
        print_json(&report)?;
    } else {
        print_report(&report, true);
    }
    Ok(outcome(&report))
}

async fn exec(setup: &Setup, file: &Path, json: bool) -> Result<Outcome> {
    let (name, program) = read_program(file)?;
    let codemode = setup::build(
        setup,
        Needs {
            llms: false,
            environment: true,
            checker: true,
            ask: true,
        },
    )
    .await?;
    let report = codemode
        .run(codemode::RunRequest::program(&program, setup.options.clone()))
        .await?
        .fitted(setup.report_tokens);
    if json {
        print_json(&report)?;
    } else {
        for d in &report.diagnostics {
            eprintln!("{}", d.render(&name));
        }
        print_report(&report, false);
    }
    Ok(outcome(&report))
}

async fn check(setup: &Setup, file: &Path, json: bool) -> Result<Outcome> {
    let (name, program) = read_program(file)?;
    let codemode = setup::build(
        setup,
        Needs {
            llms: false,
            environment: false,
            checker: true,
            ask: false,
        },
    )
    .await?;
    let result = codemode.check_program(&program).await?;
    if json {
        print_json(&json!({"checker": result.checker, "diagnostics": result.diagnostics}))?;
    } else {
        for d in &result.diagnostics {
            outln!("{}", d.render(&name));
        }
        let errors = result
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        eprintln!("{errors} error(s) (checker: {})", result.checker);
    }
    Ok(if result.has_errors() {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// What `doctor` says of the factories of one kind this build links.
fn linked(names: &[impl AsRef<str>]) -> String {
    if names.is_empty() {
        return "none compiled in".into();
    }
    names.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

async fn doctor(setup: &Setup, json: bool) -> Result<Outcome> {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: String| lines.push((k.to_string(), v));
    push(
        "config",
        setup
            .config_path
            .as_ref()
            .map_or("none (no ./codemode.toml; using defaults)".into(), |p| {
                p.display().to_string()
            }),
    );
    let llm = &setup.config.llm;
    for role in codemode::LlmRole::ALL {
        let value = match llm.for_role(role) {
            None => "not configured".to_string(),
            Some(c) => {
                let registered = codemode::registry::llm_factories().iter().any(|f| f.name == c.provider);
                let key = c.api_key_env.as_deref().map(|var| {
                    if std::env::var_os(var).is_some() {
                        format!(", {var} is set")
                    } else {
                        format!(", {var} is NOT set")
                    }
                });
                format!(
                    "{} / {}{}{}",
                    c.provider,
                    if c.model.is_empty() { "-" } else { &c.model },
                    if registered { "" } else { " (provider not compiled in)" },
                    key.unwrap_or_default()
                )
            }
        };
        push(&format!("llm.{role}"), value);
    }
    let llms: Vec<_> = codemode::registry::llm_factories().iter().map(|f| f.name).collect();
    push("llm providers", llms.join(", "));
    let providers: Vec<_> = codemode::registry::tool_provider_factories()
        .iter()
        .map(|f| f.name)
        .collect();
    push("tool providers", linked(&providers));
    push(
        "mcp servers",
        format!(
            "{} configured: {}",
            setup.mcp_servers.len(),
            setup.mcp_servers.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    );
    for (name, config) in &setup.config.tool_providers {
        let registered = codemode::registry::tool_provider_factories()
            .iter()
            .any(|f| f.name == config.provider);
        push(
            &format!("tool_providers.{name}"),
            format!(
                "{}{}",
                config.provider,
                if registered { "" } else { " (provider not compiled in)" }
            ),
        );
    }
    if let Some(c) = &setup.config.catalog {
        push("static catalog", c.display().to_string());
    }
    // Each compiled-in environment, and whether it can start here (Node/Deno installed...).
    let envs: Vec<_> = codemode::registry::run_environment_factories()
        .iter()
        .map(
            |f| match codemode::registry::create_environment(&setup.config.environment_context(f.name)) {
                Ok(_) => format!("{} (ready)", f.name),
                Err(_) => format!("{} (unavailable)", f.name),
            },
        )
        .collect();
    push("environments", linked(&envs));
    let env_name = setup::environment_name(setup);
    push(
        "environment",
        match codemode::registry::create_environment(&setup.config.environment_context(&env_name)) {
            Ok(e) => format!("{} (ready)", e.name()),
            Err(e) => format!("{env_name}: {}", setup::chain(&e)),
        },
    );
    let checkers: Vec<_> = codemode::registry::type_checker_factories()
        .iter()
        .map(|f| f.name)
        .collect();
    push("type checkers", format!("auto, {}", checkers.join(", ")));
    let tsc_context = setup.config.type_checker_context("tsc");
    let tsc_path = tsc_context.str_setting("path").map(|p| tsc_context.resolve_path(p));
    let checker_kind = setup.config.run.type_checker.as_deref().unwrap_or("auto");
    push(
        "checker",
        match setup::chosen_type_checker(setup) {
            Ok((c, None)) => format!("{} (type_checker = \"{checker_kind}\")", c.name()),
            Ok((c, Some(reason))) => format!(
                "{} (type_checker = \"{checker_kind}\"): WARNING, the weaker built-in checker runs because TypeScript 7 cannot: {reason}",
                c.name()
            ),
            Err(e) => format!("{e:#}"),
        },
    );
    push(
        "typescript 7",
        match codemode::typescript::TscChecker::discover(tsc_path.as_deref()) {
            Ok(t) => format!(
                "found {} at {} (checks reuse one warm `tsc --lsp` process)",
                t.version(),
                t.path().display()
            ),
            Err(e) => e.to_string(),
        },
    );
    push(
        "learned types",
        match setup::learned_types_file(setup) {
            None => "off ([run] learned_types = true turns them on)".into(),
            Some(path) => match codemode::learned::ShapeStore::open(&path) {
                Ok(store) => format!("on: {} tools in {}", store.len(), path.display()),
                Err(e) => format!("on, but {e}"),
            },
        },
    );
    let limits: Vec<String> = setup
        .options
        .limit_values()
        .into_iter()
        .map(|(limit, value)| format!("{}={value}", limit.name))
        .collect();
    push("limits", limits.join(" "));
    if json {
        let map: serde_json::Map<String, serde_json::Value> = lines.into_iter().map(|(k, v)| (k, v.into())).collect();
        print_json(&map)?;
    } else {
        let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in lines {
            outln!("{k:<width$}  {v}");
        }
    }
    Ok(Outcome::Success)
}
