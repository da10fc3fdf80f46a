//! From arguments and configuration files to a ready `CodeMode`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use codemode::config::{CodeModeConfig, load_mcp_servers_json};
use codemode::learned::{LearnedTypes, ShapeStore};
use codemode::registry::{
    FactoryContext, check_tool_provider, create_environment, create_llm, create_tool_provider, create_type_checker,
    find_tool_provider_factory,
};
use codemode::{CodeMode, Llm, LlmRole, RunEnvironment, RunOptions, ToolCatalog, ToolProvider, TypeChecker};

use crate::models::RoleModels;

use crate::UsageError;
use crate::cli::GlobalArgs;

/// The default configuration file, used when present.
pub const DEFAULT_CONFIG: &str = "codemode.toml";

/// Configuration after merging files and flags.
pub struct Setup {
    pub config: CodeModeConfig,
    pub config_path: Option<PathBuf>,
    pub options: RunOptions,
    /// Every MCP server, from codemode.toml and the `mcpServers` files, each relative to
    /// the file it came from.
    pub mcp_servers: BTreeMap<String, FactoryContext>,
    pub record_llm: Option<PathBuf>,
    /// Budget of the printed report (`--report-tokens`); 0: whole.
    pub report_tokens: usize,
    /// `--yes`: approve every tool call that needs approval.
    pub yes: bool,
}

/// Who decides on tool calls that need approval: `--yes` approves them; on a terminal
/// (when `ask`) the user is asked; otherwise they are denied with a message saying how to
/// allow them.
pub fn approver(setup: &Setup, ask: bool) -> std::sync::Arc<dyn codemode::Approver> {
    use std::io::IsTerminal;
    if setup.yes {
        return std::sync::Arc::new(codemode::ApproveAll);
    }
    if ask && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        return std::sync::Arc::new(crate::approve::TerminalApprover);
    }
    let how = if ask {
        "pass --yes, or --approval never (or [run] approval = \"never\"), or run on a terminal to be asked"
    } else {
        "start it with --yes, or --approval never (or [run] approval = \"never\")"
    };
    std::sync::Arc::new(codemode::DenyAll::new(how))
}

/// What a command needs built.
#[derive(Clone, Copy)]
pub struct Needs {
    pub llms: bool,
    pub environment: bool,
    /// Listing tools and printing types need no checker (and no TypeScript install).
    pub checker: bool,
    /// Whether a tool call that needs approval may be asked about on the terminal (when
    /// stdin and stderr are one); `serve` may not, its stdin is MCP.
    pub ask: bool,
}

pub fn load(global: &GlobalArgs) -> Result<Setup> {
    let config_path = match &global.config {
        Some(p) => {
            if !p.is_file() {
                return Err(UsageError(format!("config file {} does not exist", p.display())).into());
            }
            Some(p.clone())
        }
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()),
    };
    let mut config = match &config_path {
        Some(p) => CodeModeConfig::load(p)?,
        None => CodeModeConfig::default(),
    };
    if let Some(c) = &global.catalog {
        config.catalog = Some(c.clone());
    }
    let mut mcp_servers: BTreeMap<String, FactoryContext> = config
        .mcp_servers
        .iter()
        .map(|(name, settings)| (name.clone(), config.context(name.clone(), settings.clone())))
        .collect();
    for file in [config.mcp_config.clone(), global.mcp_config.clone()]
        .into_iter()
        .flatten()
    {
        mcp_servers.extend(load_mcp_servers_json(&file)?);
    }
    if !mcp_servers.is_empty()
        && let Ok(factory) = find_tool_provider_factory("mcp")
    {
        for server in mcp_servers.values() {
            check_tool_provider(factory, server)?;
        }
    }
    if let Some(name) = config.tool_providers.keys().find(|n| mcp_servers.contains_key(*n)) {
        return Err(UsageError(format!(
            "`{name}` is both an MCP server and a [tool_providers.{name}]: each namespace needs its own name"
        ))
        .into());
    }
    let mut options = RunOptions::default();
    config.run.apply(&mut options);
    global.limits.0.apply(&mut options);
    if let Some(v) = &global.log_dir {
        options.log_dir = Some(v.clone());
    }
    options
        .validate()
        .map_err(|e| UsageError(format!("invalid limit: {e}")))?;
    Ok(Setup {
        config,
        config_path,
        options,
        mcp_servers,
        record_llm: global.record_llm.clone(),
        report_tokens: global.report_tokens,
        yes: global.yes,
    })
}

/// Reads the static catalog file, when one is configured.
pub fn static_catalog(path: &Path) -> Result<ToolCatalog> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read catalog {}", path.display()))
        .map_err(|e| UsageError(format!("{e:#}")))?;
    ToolCatalog::from_static_json(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())).into())
}

/// Starts every MCP server; the ones that fail are reported on stderr and left out.
async fn mcp_providers(servers: &BTreeMap<String, FactoryContext>) -> Result<Vec<(String, Arc<dyn ToolProvider>)>> {
    if servers.is_empty() {
        return Ok(Vec::new());
    }
    let factory = find_tool_provider_factory("mcp").map_err(|_| {
        UsageError(
            "MCP servers are configured, but this build of codemode has no MCP support (the codemode-mcp crate)".into(),
        )
    })?;
    let started = futures::future::join_all(
        servers
            .iter()
            .map(|(name, server)| async move { (name.clone(), create_tool_provider(factory, server.clone()).await) }),
    )
    .await;
    let mut providers = Vec::new();
    for (name, result) in started {
        match result {
            Ok(p) => providers.push((name, p)),
            Err(e) => eprintln!("warning: MCP server `{name}` is left out: {e}"),
        }
    }
    Ok(providers)
}

/// Connects every `[tool_providers.NAME]`; the ones that fail are reported on stderr and
/// left out, as MCP servers are. A provider kind this build lacks is a usage error.
async fn other_providers(setup: &Setup) -> Result<Vec<(String, Arc<dyn ToolProvider>)>> {
    let mut pending = Vec::new();
    for (name, config) in &setup.config.tool_providers {
        let factory = find_tool_provider_factory(&config.provider)
            .map_err(|e| UsageError(format!("[tool_providers.{name}]: {e}")))?;
        let Some(context) = setup.config.tool_provider_context(name) else {
            continue;
        };
        check_tool_provider(factory, &context)
            .map_err(|e| UsageError(format!("[tool_providers.{name}]: {}", chain(&e))))?;
        let name = name.clone();
        pending.push(async move { (name, create_tool_provider(factory, context).await) });
    }
    let mut providers = Vec::new();
    for (name, result) in futures::future::join_all(pending).await {
        match result {
            Ok(p) => providers.push((name, p)),
            Err(e) => eprintln!("warning: tool provider `{name}` is left out: {e}"),
        }
    }
    Ok(providers)
}

pub async fn build(setup: &Setup, needs: Needs) -> Result<CodeMode> {
    let mut builder = CodeMode::builder();
    if let Some(path) = &setup.config.catalog {
        builder = builder.catalog(static_catalog(path)?);
    }
    for (name, provider) in mcp_providers(&setup.mcp_servers).await? {
        builder = builder.tool_provider(name, provider);
    }
    for (name, provider) in other_providers(setup).await? {
        builder = builder.tool_provider(name, provider);
    }
    if needs.llms {
        let mut models = configured_models(setup)?.ok_or_else(|| {
            UsageError("no models are configured: add [llm.main] (and optionally [llm.strategy], [llm.tiny]) to codemode.toml; see docs/configuration.md".into())
        })?;
        if let Some(path) = &setup.record_llm {
            models = models.recorded(path)?;
        }
        builder = builder
            .strategy_llm(models.strategy)
            .tiny_llm(models.tiny)
            .main_llm(models.main);
    }
    if needs.environment {
        builder = builder.environment(environment(setup)?);
    }
    if needs.checker {
        builder = type_checker(setup)?.apply(builder);
    }
    builder = builder.approver(approver(setup, needs.ask));
    if let Some(learned) = learned_types(setup) {
        builder = builder.learned_types(learned);
    }
    let codemode = builder.build().await?;
    for failure in codemode.provider_failures() {
        eprintln!(
            "warning: tools of `{}` are left out: {}",
            failure.namespace, failure.error
        );
    }
    Ok(codemode)
}

/// Where learned output types are kept, when they are on: `$CODEMODE_LEARNED_TYPES` (a file,
/// `on` for the default file, or `off`), else `[run] learned_types_file` (which turns them on
/// unless `learned_types = false`), else the cache directory's `learned-types.json` when
/// `[run] learned_types = true`. Off by default: measured on the demo eval, the changed
/// declarations cost two tasks (docs/status.md).
pub fn learned_types_file(setup: &Setup) -> Option<PathBuf> {
    match std::env::var_os("CODEMODE_LEARNED_TYPES") {
        Some(v) if ["off", "0", "false", "no"].contains(&v.to_string_lossy().trim()) => return None,
        Some(v) if ["on", "1", "true", "yes"].contains(&v.to_string_lossy().trim()) => {
            return codemode::learned::default_store_path();
        }
        Some(v) if !v.is_empty() => return Some(PathBuf::from(v)),
        _ => {}
    }
    match (setup.config.run.learned_types, &setup.config.run.learned_types_file) {
        (Some(false), _) | (None, None) => None,
        (_, Some(file)) => Some(match (&setup.config.config_dir, file.is_relative()) {
            (Some(dir), true) => dir.join(file),
            _ => file.clone(),
        }),
        (Some(true), None) => codemode::learned::default_store_path(),
    }
}

/// The learned output types of [`learned_types_file`], learning and applied; `None` when
/// they are off or the store cannot be read (said on stderr: the file is left as it is).
pub fn learned_types(setup: &Setup) -> Option<Arc<LearnedTypes>> {
    let path = learned_types_file(setup)?;
    match ShapeStore::open(&path) {
        Ok(store) => Some(Arc::new(LearnedTypes::new(store))),
        Err(e) => {
            eprintln!(
                "warning: learned output types are off for this run: {e} (`codemode tools shapes --clear` removes the file)"
            );
            None
        }
    }
}

/// The models of `[llm.strategy]`, `[llm.tiny]` and `[llm.main]`; a role without its own
/// table uses the first one configured (main, strategy, tiny). `None` when there is none.
pub fn configured_models(setup: &Setup) -> Result<Option<RoleModels>> {
    let Some(fallback) = [LlmRole::Main, LlmRole::Strategy, LlmRole::Tiny]
        .into_iter()
        .find_map(|role| setup.config.llm_context(role))
    else {
        return Ok(None);
    };
    let mut described = Vec::new();
    let mut create = |role: LlmRole| -> Result<Arc<dyn Llm>> {
        let context = setup.config.llm_context(role).unwrap_or_else(|| fallback.clone());
        described.push(format!(
            "{role} {}/{}",
            context.settings.provider, context.settings.model
        ));
        create_llm(&context).map_err(|e| UsageError(format!("[llm.{role}]: {}", chain(&e))).into())
    };
    let strategy = create(LlmRole::Strategy)?;
    let tiny = create(LlmRole::Tiny)?;
    let main = create(LlmRole::Main)?;
    Ok(Some(RoleModels {
        description: format!("configured: {}", described.join(", ")),
        strategy,
        tiny,
        main,
    }))
}

/// The name of the run environment `[run] environment` asks for; by default `wasm` when this
/// build links it, else `node`, else the first one it links (a build with `env-process` only
/// runs `node`).
pub fn environment_name(setup: &Setup) -> String {
    if let Some(name) = &setup.config.run.environment {
        return name.clone();
    }
    let linked = codemode::registry::run_environment_factories();
    let preferred = ["wasm", "node"]
        .iter()
        .find_map(|name| linked.iter().find(|f| f.name == *name));
    match preferred.or_else(|| linked.first()) {
        Some(f) => f.name.to_string(),
        None => "wasm".to_string(),
    }
}

/// The run environment `[run] environment` names (see [`environment_name`]).
pub fn environment(setup: &Setup) -> Result<Arc<dyn RunEnvironment>> {
    let name = environment_name(setup);
    create_environment(&setup.config.environment_context(&name))
        .map_err(|e| UsageError(format!("[run] environment: {}", chain(&e))).into())
}

/// The type checker `[run] type_checker` asks for (`auto`: TypeScript 7 when found or
/// installed, else the built-in checker, said loudly on stderr).
pub fn type_checker(setup: &Setup) -> Result<CheckerChoice> {
    let (checker, builtin_because) = chosen_type_checker(setup)?;
    let warning = builtin_because.map(|reason| {
        format!(
            "the built-in checker runs, not TypeScript 7 ({reason}). It catches fewer of the mistakes \
             models make (wrong argument shapes, iterating a non-iterable, missing properties). Install it with \
             `npm install -g typescript@7` or set [run] tsc_path / CODEMODE_TSC; `codemode doctor` says what was found."
        )
    });
    if let Some(warning) = &warning {
        eprintln!("warning: {warning}");
    }
    Ok(CheckerChoice { checker, warning })
}

/// The type checker a command uses, and the warning its reports carry when it is the
/// built-in one standing in for TypeScript 7.
#[derive(Clone)]
pub struct CheckerChoice {
    /// The checker.
    pub checker: Arc<dyn TypeChecker>,
    /// Why the weaker built-in checker runs, when `auto` found no TypeScript 7.
    pub warning: Option<String>,
}

impl CheckerChoice {
    /// `builder` with this checker, and with the warning for its reports.
    pub fn apply(&self, builder: codemode::CodeModeBuilder) -> codemode::CodeModeBuilder {
        let builder = builder.type_checker(self.checker.clone());
        match &self.warning {
            Some(warning) => builder.warning(warning.clone()),
            None => builder,
        }
    }
}

/// The checker, and for `auto` without a usable TypeScript 7, why the built-in one runs.
pub fn chosen_type_checker(setup: &Setup) -> Result<(Arc<dyn TypeChecker>, Option<String>)> {
    let kind = setup.config.run.type_checker.as_deref().unwrap_or("auto");
    let create = |name: &str| {
        let context = FactoryContext {
            name: name.into(),
            ..setup.config.type_checker_context(kind)
        };
        create_type_checker(&context)
    };
    if kind != "auto" {
        let checker = create(kind).map_err(|e| UsageError(format!("[run] type_checker: {}", chain(&e))))?;
        return Ok((checker, None));
    }
    match create("tsc") {
        Ok(checker) => Ok((checker, None)),
        Err(e) => {
            let builtin = create_type_checker(&setup.config.type_checker_context("builtin"))
                .map_err(|e| UsageError(format!("[run] type_checker: {}", chain(&e))))?;
            Ok((builtin, Some(chain(&e))))
        }
    }
}

/// An error with its sources, `outer: cause: cause's cause`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
