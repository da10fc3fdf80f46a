//! Registration by name: plugin crates submit factories with `inventory`, and
//! configuration picks them by name. Which crates are linked is decided by the Cargo
//! features of the `codemode` facade crate.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::checker::TypeChecker;
use crate::environment::RunEnvironment;
use crate::error::CodeModeError;
use crate::llm::{Llm, LlmConfig};
use crate::tool::{ToolError, ToolProvider};
use crate::tool_filter::ToolFilter;

/// A future that builds a tool provider.
pub type ProviderFuture = Pin<Box<dyn Future<Output = Result<Arc<dyn ToolProvider>, ToolError>> + Send>>;

/// What every factory is given: the name it builds under, its own settings, and the folder
/// of the configuration file they were read from. Only the factory knows which of its
/// settings are paths; it resolves them with [`FactoryContext::resolve_path`].
#[derive(Debug, Clone, PartialEq)]
pub struct FactoryContext<S = Value> {
    /// The namespace (tool providers), the role (models) or the kind's name (environments,
    /// type checkers).
    pub name: String,
    /// The factory's settings as configured (`null` when none are set).
    pub settings: S,
    /// The folder relative paths in the settings are relative to: the folder of the file
    /// they came from. `None`: the working directory.
    pub config_dir: Option<PathBuf>,
    /// Folders where plugins loaded at run time are looked up by name (`[plugins] dirs`,
    /// already resolved); loaders search `CODEMODE_PLUGIN_PATH` after them.
    pub plugin_dirs: Vec<PathBuf>,
}

impl<S> FactoryContext<S> {
    /// A context for `name` with these settings and no configuration folder.
    pub fn new(name: impl Into<String>, settings: S) -> Self {
        Self {
            name: name.into(),
            settings,
            config_dir: None,
            plugin_dirs: Vec::new(),
        }
    }

    /// Sets the folders plugins are looked up in by name.
    pub fn plugin_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.plugin_dirs = dirs;
        self
    }

    /// Sets the folder relative paths are resolved against.
    pub fn config_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.config_dir = dir;
        self
    }

    /// A path from the settings: relative ones are taken from the configuration's folder.
    pub fn resolve_path(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        match &self.config_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }
}

impl FactoryContext<Value> {
    /// The settings as the factory's own settings type (`null` reads as an empty table).
    pub fn parse_settings<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.settings {
            Value::Null => serde_json::from_value(Value::Object(Default::default())),
            v => serde_json::from_value(v.clone()),
        }
    }

    /// A string setting, when set.
    pub fn str_setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).and_then(Value::as_str)
    }
}

/// What an [`LlmFactory`] is given: its `[llm.*]` table, the role as the name.
pub type LlmContext = FactoryContext<LlmConfig>;

/// Makes an `Llm` from its configuration; the context's name is the role.
pub struct LlmFactory {
    /// The name used in `provider = "..."`.
    pub name: &'static str,
    /// One line for `codemode doctor`.
    pub description: &'static str,
    /// Builds the client.
    pub create: fn(&LlmContext) -> Result<Arc<dyn Llm>, CodeModeError>,
}

/// Makes a `ToolProvider`; the context's name is the namespace.
pub struct ToolProviderFactory {
    /// The provider kind's name (e.g. `mcp`).
    pub name: &'static str,
    /// One line for `codemode doctor`.
    pub description: &'static str,
    /// Checks the settings without connecting: a mistake in them is a configuration error,
    /// not a provider left out. [`accept_settings`] checks nothing.
    pub check: fn(&FactoryContext) -> Result<(), CodeModeError>,
    /// Starts or connects the provider.
    pub create: fn(FactoryContext) -> ProviderFuture,
}

/// A [`ToolProviderFactory::check`] that accepts any settings (the provider checks them
/// when it connects).
pub fn accept_settings(_: &FactoryContext) -> Result<(), CodeModeError> {
    Ok(())
}

/// Makes a `RunEnvironment` from its `[environments.NAME]` settings.
pub struct RunEnvironmentFactory {
    /// The name used in `[run] environment = "..."`.
    pub name: &'static str,
    /// One line for `codemode doctor`.
    pub description: &'static str,
    /// Builds the environment.
    pub create: fn(&FactoryContext) -> Result<Arc<dyn RunEnvironment>, CodeModeError>,
}

/// Makes a `TypeChecker` from its `[type_checkers.NAME]` settings.
pub struct TypeCheckerFactory {
    /// The name used in `[run] type_checker = "..."`.
    pub name: &'static str,
    /// One line for `codemode doctor`.
    pub description: &'static str,
    /// Builds the checker; an error says why it cannot run here (e.g. `tsc` not found).
    pub create: fn(&FactoryContext) -> Result<Arc<dyn TypeChecker>, CodeModeError>,
}

inventory::collect!(LlmFactory);
inventory::collect!(ToolProviderFactory);
inventory::collect!(RunEnvironmentFactory);
inventory::collect!(TypeCheckerFactory);

/// Every registered LLM factory, by name.
pub fn llm_factories() -> Vec<&'static LlmFactory> {
    let mut v: Vec<_> = inventory::iter::<LlmFactory>.into_iter().collect();
    v.sort_by_key(|f| f.name);
    v
}

/// Every registered tool provider factory, by name.
pub fn tool_provider_factories() -> Vec<&'static ToolProviderFactory> {
    let mut v: Vec<_> = inventory::iter::<ToolProviderFactory>.into_iter().collect();
    v.sort_by_key(|f| f.name);
    v
}

/// Every registered run environment factory, by name.
pub fn run_environment_factories() -> Vec<&'static RunEnvironmentFactory> {
    let mut v: Vec<_> = inventory::iter::<RunEnvironmentFactory>.into_iter().collect();
    v.sort_by_key(|f| f.name);
    v
}

/// Every registered type checker factory, by name.
pub fn type_checker_factories() -> Vec<&'static TypeCheckerFactory> {
    let mut v: Vec<_> = inventory::iter::<TypeCheckerFactory>.into_iter().collect();
    v.sort_by_key(|f| f.name);
    v
}

fn unknown(kind: &'static str, name: &str, available: Vec<&'static str>) -> CodeModeError {
    CodeModeError::UnknownFactory {
        kind,
        name: name.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
    }
}

/// Builds an `Llm` with the factory named in `context.settings.provider`.
pub fn create_llm(context: &LlmContext) -> Result<Arc<dyn Llm>, CodeModeError> {
    let factories = llm_factories();
    let provider = &context.settings.provider;
    match factories.iter().find(|f| f.name == provider) {
        Some(f) => (f.create)(context),
        None => Err(unknown(
            "LLM provider",
            provider,
            factories.iter().map(|f| f.name).collect(),
        )),
    }
}

/// Builds the run environment `context.name`.
pub fn create_environment(context: &FactoryContext) -> Result<Arc<dyn RunEnvironment>, CodeModeError> {
    let factories = run_environment_factories();
    match factories.iter().find(|f| f.name == context.name) {
        Some(f) => (f.create)(context),
        None => Err(unknown(
            "run environment",
            &context.name,
            factories.iter().map(|f| f.name).collect(),
        )),
    }
}

/// Builds the type checker `context.name`. `auto` is TypeScript 7 (`tsc`) when it can run
/// here and the built-in checker otherwise; `context.settings` are then the `tsc` settings.
pub fn create_type_checker(context: &FactoryContext) -> Result<Arc<dyn TypeChecker>, CodeModeError> {
    let factories = type_checker_factories();
    let find = |name: &str| factories.iter().find(|f| f.name == name);
    if context.name == "auto" {
        let tsc = find("tsc").map(|f| {
            (f.create)(&FactoryContext {
                name: "tsc".into(),
                ..context.clone()
            })
        });
        match tsc {
            Some(Ok(checker)) => return Ok(checker),
            Some(Err(e)) => tracing::info!(reason = %e, "TypeScript 7 not used; the built-in checker runs"),
            None => tracing::info!("no `tsc` checker is compiled in; the built-in checker runs"),
        }
        let builtin = FactoryContext::new("builtin", Value::Null)
            .config_dir(context.config_dir.clone())
            .plugin_dirs(context.plugin_dirs.clone());
        return create_type_checker(&builtin);
    }
    match find(&context.name) {
        Some(f) => (f.create)(context),
        None => Err(unknown(
            "type checker",
            &context.name,
            std::iter::once("auto")
                .chain(factories.iter().map(|f| f.name))
                .collect(),
        )),
    }
}

/// Checks a provider's settings without connecting: the `include_tools` / `exclude_tools`
/// every provider takes, then the factory's own check of the rest.
pub fn check_tool_provider(factory: &ToolProviderFactory, context: &FactoryContext) -> Result<(), CodeModeError> {
    let (_, context) = tool_filter_apart(context.clone())?;
    (factory.check)(&context)
}

/// Starts or connects a provider with `factory`, offering only the tools its settings'
/// `include_tools` / `exclude_tools` offer: every kind of provider (MCP servers, the cloud
/// providers, plugins) takes them, and the factory sees its settings without them.
pub async fn create_tool_provider(
    factory: &ToolProviderFactory,
    context: FactoryContext,
) -> Result<Arc<dyn ToolProvider>, ToolError> {
    let name = context.name.clone();
    let (filter, context) = tool_filter_apart(context).map_err(|e| ToolError::Unavailable {
        provider: name,
        message: e.to_string(),
    })?;
    Ok(filter.apply((factory.create)(context).await?))
}

/// The filter the settings ask for, and the context without its keys.
fn tool_filter_apart(mut context: FactoryContext) -> Result<(ToolFilter, FactoryContext), CodeModeError> {
    let filter = ToolFilter::from_settings(&context.settings)?;
    if let Value::Object(settings) = &mut context.settings {
        settings.remove("include_tools");
        settings.remove("exclude_tools");
    }
    Ok((filter, context))
}

/// Finds a tool provider factory by name.
pub fn find_tool_provider_factory(name: &str) -> Result<&'static ToolProviderFactory, CodeModeError> {
    let factories = tool_provider_factories();
    factories
        .iter()
        .find(|f| f.name == name)
        .copied()
        .ok_or_else(|| unknown("tool provider", name, factories.iter().map(|f| f.name).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test double of a provider kind whose settings allow only `region`, as the cloud
    /// providers' do (`deny_unknown_fields`).
    fn strict_check(context: &FactoryContext) -> Result<(), CodeModeError> {
        match context.settings.as_object() {
            Some(map) if map.keys().all(|k| k == "region") => Ok(()),
            _ => Err(CodeModeError::Config(format!(
                "unknown setting in {}",
                context.settings
            ))),
        }
    }

    fn three_tools(context: FactoryContext) -> ProviderFuture {
        Box::pin(async move {
            strict_check(&context).map_err(|e| ToolError::Unavailable {
                provider: context.name.clone(),
                message: e.to_string(),
            })?;
            let tools = ["list_items", "get_item", "reset_all"]
                .into_iter()
                .map(|n| crate::tool::ToolSpec::new(n, "", serde_json::json!({"type": "object"})))
                .collect();
            Ok(Arc::new(crate::tool::StaticToolProvider::new(tools)) as Arc<dyn ToolProvider>)
        })
    }

    #[test]
    fn every_provider_kind_takes_include_and_exclude_tools() {
        let factory = ToolProviderFactory {
            name: "strict",
            description: "test double",
            check: strict_check,
            create: three_tools,
        };
        let settings = serde_json::json!({"region": "eu", "exclude_tools": ["reset_*"]});
        let context = FactoryContext::new("shop", settings);
        // The factory's own check never sees the filter's keys.
        assert!(strict_check(&context).is_err());
        check_tool_provider(&factory, &context).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let provider = create_tool_provider(&factory, context).await.unwrap();
            let names: Vec<String> = provider
                .list_tools()
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.name)
                .collect();
            assert_eq!(names, ["list_items", "get_item"]);
            let refused = provider.call_tool("reset_all", Value::Null).await.unwrap_err();
            assert!(matches!(refused, ToolError::NotCallable(_)), "{refused}");

            let only = FactoryContext::new("shop", serde_json::json!({"include_tools": ["get_*"]}));
            let provider = create_tool_provider(&factory, only).await.unwrap();
            assert_eq!(provider.list_tools().await.unwrap().len(), 1);

            let wrong = FactoryContext::new("shop", serde_json::json!({"include_tools": "get_*"}));
            let error = check_tool_provider(&factory, &wrong).unwrap_err().to_string();
            assert!(error.contains("`include_tools` must be a list"), "{error}");
            assert!(create_tool_provider(&factory, wrong).await.is_err());
        });
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let context = FactoryContext::new("x", Value::Null).config_dir(Some(PathBuf::from("/etc/codemode")));
        assert_eq!(
            context.resolve_path("a/b.json"),
            PathBuf::from("/etc/codemode/a/b.json")
        );
        assert_eq!(context.resolve_path("/abs.json"), PathBuf::from("/abs.json"));
        let here = FactoryContext::new("x", Value::Null);
        assert_eq!(here.resolve_path("a.json"), PathBuf::from("a.json"));
    }
}
