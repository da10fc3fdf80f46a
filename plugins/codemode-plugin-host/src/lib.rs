//! Loads codemode plugins at run time: shared libraries that implement the versioned C ABI
//! of [`codemode_plugin_abi`], as a tool provider, a language model or a run environment.
//!
//! Each kind is the provider `plugin` of its section; a plugin is given by `path`, or by
//! `name` and found in the plugin folders (`[plugins] dirs`, then `CODEMODE_PLUGIN_PATH`):
//!
//! ```toml
//! [plugins]
//! dirs = ["plugins"]                 # relative to this file
//!
//! [tool_providers.text]
//! provider = "plugin"
//! name = "text"                      # or: path = "plugins/libcodemode_example_plugin.so"
//! config = { shout = true }          # given to the plugin as JSON
//!
//! [llm.main]
//! provider = "plugin"
//! name = "openai-http"
//! model = "qwen2.5-coder-1.5b"       # given to the plugin in its config
//! base_url = "http://127.0.0.1:8089/v1"
//!
//! [run]
//! environment = "plugin"
//! [environments.plugin]
//! name = "node-subprocess"
//! ```
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode_plugin_host::PluginToolProvider;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let text = PluginToolProvider::load("text", "target/debug/libcodemode_example_plugin.so", serde_json::json!({}))?;
//! let codemode = codemode_core::CodeMode::builder()
//!     .tool_provider("text", Arc::new(text))
//!     .build()
//!     .await?;
//! println!("{}", codemode.declarations());
//! # Ok(()) }
//! ```
//!
//! Loading a library runs its code: load only plugins you trust, as you would link a crate.
//! The host checks the ABI version and the plugin's kind before using it; calls run on
//! tokio's blocking pool, so a slow plugin does not stall the runtime; a panicking plugin
//! built with the ABI's macros answers with an error instead of unwinding.

mod environment;
mod library;
mod llm;
mod tools;

use std::path::PathBuf;
use std::sync::Arc;

use codemode_plugin_abi::ABI_VERSION;
use codemode_traits::CodeModeError;
use codemode_traits::registry::{FactoryContext, LlmFactory, RunEnvironmentFactory, ToolProviderFactory};
use serde_json::Value;

pub use environment::PluginEnvironment;
pub use library::{PLUGIN_PATH_ENV, PluginKind, plugin_search_path};
pub use llm::PluginLlm;
pub use tools::PluginToolProvider;

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The library could not be opened.
    #[error("cannot load plugin {path}: {message}")]
    Open {
        /// The library's path.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// The library does not export the entry point.
    #[error("{path} is not a codemode plugin: it does not export `codemode_plugin`")]
    NotAPlugin {
        /// The library's path.
        path: PathBuf,
    },
    /// The plugin was built for another ABI version.
    #[error("{path} implements plugin ABI version {found}; this codemode needs version {ABI_VERSION}: rebuild the plugin against codemode-plugin-abi {}", env!("CARGO_PKG_VERSION"))]
    AbiVersion {
        /// The library's path.
        path: PathBuf,
        /// The version it implements.
        found: u32,
    },
    /// The plugin's description is unreadable.
    #[error("{path}: {message}")]
    Description {
        /// The library's path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The plugin is of another kind than the section that loads it.
    #[error("{path}: plugin `{name}` is a {found} plugin, not a {expected} plugin")]
    WrongKind {
        /// The library's path.
        path: PathBuf,
        /// The plugin's name.
        name: String,
        /// Its kind.
        found: String,
        /// The kind the configuration needs.
        expected: PluginKind,
    },
    /// No library in the plugin folders is the plugin named.
    #[error(
        "no {kind} plugin named `{name}` in the plugin folders [{}] (set them with [plugins] dirs or {}){}",
        searched.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
        library::PLUGIN_PATH_ENV,
        if seen.is_empty() { String::new() } else { format!("; found: {}", seen.join("; ")) }
    )]
    NotFound {
        /// The name asked for.
        name: String,
        /// The kind asked for.
        kind: PluginKind,
        /// The folders searched.
        searched: Vec<PathBuf>,
        /// The libraries seen there, and what they are.
        seen: Vec<String>,
    },
    /// The plugin refused its configuration.
    #[error("plugin {name} refused its configuration: {message}")]
    Create {
        /// The plugin's name.
        name: String,
        /// Its message.
        message: String,
    },
    /// The configuration that loads the plugin is wrong.
    #[error("{0}")]
    Config(String),
}

/// Where a plugin comes from: a file, or a name to look up in the plugin folders.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginSource {
    /// A library file.
    Path(PathBuf),
    /// A plugin's name (from its description), looked up in these folders in order.
    Name {
        /// The plugin's name.
        name: String,
        /// The folders to search.
        dirs: Vec<PathBuf>,
    },
}

impl PluginSource {
    /// The plugin named `name`, searched in `dirs` and then `CODEMODE_PLUGIN_PATH`.
    pub fn named(name: impl Into<String>, dirs: &[PathBuf]) -> Self {
        PluginSource::Name {
            name: name.into(),
            dirs: plugin_search_path(dirs),
        }
    }

    /// Opens the library and checks that it is a plugin of `kind`.
    fn open(&self, kind: PluginKind) -> Result<library::Library, PluginError> {
        let library = match self {
            PluginSource::Path(path) => library::Library::open(path)?,
            PluginSource::Name { name, dirs } => library::find(name, kind, dirs)?,
        };
        library.expect_kind(kind)?;
        Ok(library)
    }

    /// Opens the plugin, checks its kind and makes its instance for `config`.
    fn instantiate(&self, kind: PluginKind, config: &Value) -> Result<library::Instance, PluginError> {
        self.open(kind)?.instantiate(config)
    }
}

impl From<PathBuf> for PluginSource {
    fn from(path: PathBuf) -> Self {
        PluginSource::Path(path)
    }
}

impl From<&std::path::Path> for PluginSource {
    fn from(path: &std::path::Path) -> Self {
        PluginSource::Path(path.to_path_buf())
    }
}

impl From<&str> for PluginSource {
    fn from(path: &str) -> Self {
        PluginSource::Path(path.into())
    }
}

/// The `path` or `name` of a plugin section, and its `config`; any other key is an error
fn plugin_settings(context: &FactoryContext, section: &str) -> Result<(PluginSource, Value), PluginError> {
    let settings = &context.settings;
    if let Some(key) = settings
        .as_object()
        .and_then(|o| o.keys().find(|k| !["path", "name", "config"].contains(&k.as_str())))
    {
        return Err(PluginError::Config(format!(
            "{section}: unknown key `{key}` for a plugin: it takes `path` or `name`, and `config`"
        )));
    }
    let text = |key: &str| settings.get(key).and_then(Value::as_str);
    let source = match (text("path"), text("name")) {
        (Some(path), None) => PluginSource::Path(context.resolve_path(path)),
        (None, Some(name)) => PluginSource::named(name, &context.plugin_dirs),
        (Some(_), Some(_)) => {
            return Err(PluginError::Config(format!(
                "{section}: give a plugin's `path` or its `name`, not both"
            )));
        }
        (None, None) => {
            return Err(PluginError::Config(format!(
                "{section}: a plugin needs `path` (the shared library) or `name` (looked up in [plugins] dirs and {})",
                library::PLUGIN_PATH_ENV
            )));
        }
    };
    Ok((source, settings.get("config").cloned().unwrap_or(Value::Null)))
}

fn create_tools(context: FactoryContext) -> codemode_traits::registry::ProviderFuture {
    Box::pin(async move {
        let namespace = context.name.clone();
        let unavailable = |message: String| codemode_traits::ToolError::Unavailable {
            provider: namespace.clone(),
            message,
        };
        let (source, config) = plugin_settings(&context, &format!("[tool_providers.{namespace}]"))
            .map_err(|e| unavailable(e.to_string()))?;
        let provider = tokio::task::spawn_blocking({
            let namespace = namespace.clone();
            move || PluginToolProvider::load(namespace, source, config)
        })
        .await
        .map_err(|e| unavailable(format!("loading the plugin failed: {e}")))?
        .map_err(|e| unavailable(e.to_string()))?;
        Ok(Arc::new(provider) as Arc<dyn codemode_traits::ToolProvider>)
    })
}

inventory::submit! {
    ToolProviderFactory {
        name: "plugin",
        description: "tools from a plugin loaded at run time (a shared library implementing the codemode plugin ABI)",
        check: codemode_traits::registry::accept_settings,
        create: create_tools,
    }
}

fn create_llm(context: &codemode_traits::registry::LlmContext) -> Result<Arc<dyn codemode_traits::Llm>, CodeModeError> {
    let config = &context.settings;
    let section = format!("[llm.{}]", context.name);
    let settings = FactoryContext {
        name: context.name.clone(),
        settings: Value::Object(config.settings.clone().into_iter().collect()),
        config_dir: context.config_dir.clone(),
        plugin_dirs: context.plugin_dirs.clone(),
    };
    let (source, mut plugin_config) =
        plugin_settings(&settings, &section).map_err(|e| CodeModeError::factory("LLM provider", "plugin", e))?;
    // The section's own keys go to the plugin with its config.
    let mut own = serde_json::Map::new();
    if !config.model.is_empty() {
        own.insert("model".into(), Value::String(config.model.clone()));
    }
    if let Some(url) = &config.base_url {
        own.insert("base_url".into(), Value::String(url.clone()));
    }
    if !own.is_empty() {
        match &mut plugin_config {
            Value::Object(map) => {
                for (k, v) in own {
                    map.entry(k).or_insert(v);
                }
            }
            Value::Null => plugin_config = Value::Object(own),
            other => {
                return Err(CodeModeError::Config(format!(
                    "{section}: a plugin's `config` must be a table, not {other}"
                )));
            }
        }
    }
    let model =
        PluginLlm::load(source, plugin_config).map_err(|e| CodeModeError::factory("LLM provider", "plugin", e))?;
    Ok(Arc::new(model))
}

inventory::submit! {
    LlmFactory {
        name: "plugin",
        description: "a model from a plugin loaded at run time (a shared library implementing the codemode plugin ABI)",
        create: create_llm,
    }
}

fn create_environment(context: &FactoryContext) -> Result<Arc<dyn codemode_traits::RunEnvironment>, CodeModeError> {
    let (source, config) = plugin_settings(context, &format!("[environments.{}]", context.name))
        .map_err(|e| CodeModeError::factory("run environment", "plugin", e))?;
    let environment =
        PluginEnvironment::load(source, config).map_err(|e| CodeModeError::factory("run environment", "plugin", e))?;
    Ok(Arc::new(environment))
}

inventory::submit! {
    RunEnvironmentFactory {
        name: "plugin",
        description: "a run environment from a plugin loaded at run time ([environments.plugin] path or name)",
        create: create_environment,
    }
}
