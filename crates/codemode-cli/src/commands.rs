//! The subcommands.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use codemode::typescript::generate_declarations;
use codemode::{CatalogEntry, RunReport, Severity, ToolCatalog};
use serde_json::json;

use crate::cli::{Cli, Command, ToolsCommand};
use crate::output::{out, outln};
use crate::setup::{self, Needs, Setup};
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
        Command::Tools(ToolsCommand::List { namespace }) => tools_list(&setup, namespace.as_deref(), json).await,
        Command::Tools(ToolsCommand::Show { path }) => tools_show(&setup, &path, json).await,
        Command::Tools(ToolsCommand::Search { text, limit }) => tools_search(&setup, &text, limit, json).await,
        Command::Tools(ToolsCommand::Shapes { clear }) => crate::learned::shapes(&setup, clear, json).await,
        Command::Tools(ToolsCommand::Learn { namespace }) => {
            crate::learned::learn(&setup, namespace.as_deref(), json).await
        }
        Command::Types { tools } => types(&setup, &tools).await,
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

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
        .execute_program(&program, &setup.options)
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

pub(crate) fn print_report(report: &RunReport, full: bool) {
    if full {
        if let Some(plan) = &report.pseudocode {
            outln!("── plan ──\n{}\n", plan.trim_end());
        }
        let selected = if report.selected_tools.is_empty() {
            "(none)".to_string()
        } else {
            report.selected_tools.join("\n")
        };
        outln!("── selected tools ({}) ──\n{selected}\n", report.selected_tools.len());
        if !report.tools_declared_by_check.is_empty() {
            outln!(
                "── declared by the check ({}): the program called them ──\n{}\n",
                report.tools_declared_by_check.len(),
                report.tools_declared_by_check.join("\n")
            );
        }
        if let Some(code) = &report.code {
            outln!(
                "── code ({} repairs, checker: {}) ──\n{}\n",
                report.repairs,
                report.checker.as_deref().unwrap_or("-"),
                code.trim_end()
            );
        }
        for f in &report.filter_failures {
            outln!(
                "note: filter batch {} failed ({}); its {} tools were kept",
                f.batch,
                f.reason,
                f.tools.len()
            );
        }
    }
    for (i, attempt) in report.runtime_attempts.iter().enumerate() {
        outln!(
            "note: program {} failed at run time ({}: {}) after {} tool calls; the main model wrote a new one (runtime repair {})",
            i + 1,
            attempt.result_type,
            truncate(&attempt.error, 160),
            attempt.tool_calls.len(),
            i + 1
        );
    }
    if !report.tool_calls.is_empty() {
        outln!("── tool calls ({}) ──", report.tool_calls.len());
        for c in &report.tool_calls {
            let outcome = match (&c.result, &c.error) {
                (_, Some(e)) => format!("error: {e}"),
                (Some(r), None) => truncate(&r.to_string(), 100),
                (None, None) => String::new(),
            };
            outln!(
                "{:>8.1} ms  {}({})  -> {}",
                c.duration_ms,
                c.path,
                truncate(&c.arguments.to_string(), 80),
                outcome
            );
        }
        outln!();
    }
    if !report.console.is_empty() {
        outln!("── console ──\n{}\n", report.console.join("\n"));
    }
    for a in &report.approvals {
        outln!(
            "approval: tools.{} {} by {} ({})",
            a.path,
            if a.approved { "approved" } else { "denied" },
            a.by,
            a.reason
        );
    }
    for cut in &report.cuts {
        outln!("note: {cut} (--report-tokens)");
    }
    match &report.error {
        Some(e) => outln!("── {} ──\n{e}\n", report.result_type),
        None => outln!(
            "── {} ──\n{}\n",
            report.result_type,
            serde_json::to_string_pretty(&report.output).unwrap_or_default()
        ),
    }
    if full {
        out!("{}", report.timing_table());
    }
}

/// `s` cut to `max` characters, with `…` after the cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

async fn catalog(setup: &Setup) -> Result<std::sync::Arc<ToolCatalog>> {
    Ok(tools_only(setup).await?.catalog())
}

/// The configured tools, without models, run environment or checker.
pub(crate) async fn tools_only(setup: &Setup) -> Result<codemode::CodeMode> {
    setup::build(
        setup,
        Needs {
            llms: false,
            environment: false,
            checker: false,
            ask: false,
        },
    )
    .await
}

/// Whether `entry` is in namespace `ns` (its configured name or its path's first segment);
/// every entry when `ns` is `None`.
pub(crate) fn in_namespace(entry: &CatalogEntry, ns: Option<&str>) -> bool {
    ns.is_none_or(|ns| entry.namespace == ns || entry.path.split('.').next() == Some(ns))
}

async fn tools_list(setup: &Setup, namespace: Option<&str>, json: bool) -> Result<Outcome> {
    let catalog = catalog(setup).await?;
    let entries: Vec<_> = catalog.entries().filter(|e| in_namespace(e, namespace)).collect();
    if json {
        let list: Vec<_> = entries
            .iter()
            .map(|e| json!({"path": e.path, "name": e.spec.name, "namespace": e.namespace, "description": e.spec.description}))
            .collect();
        print_json(&list)?;
        return Ok(Outcome::Success);
    }
    if entries.is_empty() {
        eprintln!(
            "no tools: configure [mcp_servers.NAME] or [tool_providers.NAME] in codemode.toml, or pass --mcp-config FILE or --catalog FILE"
        );
    }
    let width = entries.iter().map(|e| e.path.len()).max().unwrap_or(0);
    for e in entries {
        outln!("{:<width$}  {}", e.path, truncate(first_line(e), 100));
    }
    Ok(Outcome::Success)
}

/// The first line of a tool's description, for one-line listings.
fn first_line(entry: &CatalogEntry) -> &str {
    entry
        .spec
        .description
        .as_deref()
        .and_then(|d| d.lines().next())
        .unwrap_or("")
}

async fn tools_search(setup: &Setup, text: &str, limit: usize, json: bool) -> Result<Outcome> {
    let catalog = catalog(setup).await?;
    let hits = catalog.search(text, limit);
    if json {
        let list: Vec<_> = hits
            .iter()
            .filter_map(|h| catalog.tool(&h.path).map(|e| (h, e)))
            .map(|(h, e)| json!({"path": h.path, "score": h.score, "name": e.spec.name, "description": e.spec.description}))
            .collect();
        print_json(&list)?;
        return Ok(Outcome::Success);
    }
    if hits.is_empty() {
        eprintln!(
            "none of the {} tools shares a word with `{text}` (stop words such as `the` and `get` do not count)",
            catalog.len()
        );
    }
    let width = hits.iter().map(|h| h.path.len()).max().unwrap_or(0);
    for h in &hits {
        let desc = catalog.tool(&h.path).map_or("", first_line);
        outln!("{:>6.2}  {:<width$}  {}", h.score, h.path, truncate(desc, 90));
    }
    Ok(Outcome::Success)
}

async fn tools_show(setup: &Setup, path: &str, json: bool) -> Result<Outcome> {
    let catalog = catalog(setup).await?;
    let entry = catalog
        .resolve(path)
        .ok_or_else(|| UsageError(format!("no tool `{path}`: `codemode tools list` shows the paths")))?;
    let declaration = generate_declarations(&[entry.signature()]).text;
    if json {
        print_json(&json!({
            "path": entry.path,
            "name": entry.spec.name,
            "namespace": entry.namespace,
            "description": entry.spec.description,
            "input_schema": entry.spec.input_schema,
            "output_schema": entry.spec.output_schema,
            "learned_output": entry.learned_output().map(|l| json!({"schema": l.schema, "calls": l.calls, "type": l.summary})),
            "annotations": entry.spec.annotations,
            "typescript": declaration,
        }))?;
        return Ok(Outcome::Success);
    }
    outln!("path:        tools.{}", entry.path);
    outln!("name:        {} (in `{}`)", entry.spec.name, entry.namespace);
    if let Some(d) = &entry.spec.description {
        outln!("description: {}", d.trim());
    }
    outln!(
        "\ninput schema:\n{}",
        serde_json::to_string_pretty(&entry.spec.input_schema)?
    );
    if let Some(o) = &entry.spec.output_schema {
        outln!("\noutput schema:\n{}", serde_json::to_string_pretty(o)?);
    }
    if let Some(learned) = entry.learned_output() {
        outln!(
            "\noutput type learned from {} results (the tool declares none): {}\n{}",
            learned.calls,
            learned.summary,
            serde_json::to_string_pretty(&learned.schema)?
        );
    }
    outln!("\nTypeScript:\n{declaration}");
    Ok(Outcome::Success)
}

async fn types(setup: &Setup, only: &[String]) -> Result<Outcome> {
    let catalog = catalog(setup).await?;
    let text = if only.is_empty() {
        catalog.declarations()
    } else {
        let mut paths = Vec::new();
        for p in only {
            let entry = catalog
                .resolve(p)
                .ok_or_else(|| UsageError(format!("no tool `{p}`: `codemode tools list` shows the paths")))?;
            paths.push(entry.path.clone());
        }
        catalog.subset(paths.iter().map(String::as_str)).declarations()
    };
    out!("{text}");
    Ok(Outcome::Success)
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
