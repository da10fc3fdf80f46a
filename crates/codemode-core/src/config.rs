//! `codemode.toml`: models, MCP servers, the run environment and limits.
//! Every key is documented in `docs/configuration.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use codemode_traits::{CodeModeError, LlmRole, registry::FactoryContext};

pub use codemode_traits::LlmConfig;

/// The `[llm.*]` tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSection {
    /// `[llm.strategy]`: writes the plan.
    pub strategy: Option<LlmConfig>,
    /// `[llm.main]`: writes the code.
    pub main: Option<LlmConfig>,
    /// `[llm.tiny]`: filters tools.
    pub tiny: Option<LlmConfig>,
}

impl LlmSection {
    /// The model configured for a role.
    pub fn for_role(&self, role: LlmRole) -> Option<&LlmConfig> {
        match role {
            LlmRole::Strategy => self.strategy.as_ref(),
            LlmRole::Tiny => self.tiny.as_ref(),
            LlmRole::Main => self.main.as_ref(),
        }
    }
}

/// A tool provider of a registered kind other than MCP: a `[tool_providers.NAME]` table.
/// The name becomes the namespace; the other keys are the provider's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolProviderConfig {
    /// Registered tool provider name (`composio`, ...; `codemode doctor` lists them).
    pub provider: String,
    /// The provider's settings (e.g. `toolkits` and `user_id` for Composio).
    #[serde(flatten)]
    pub settings: BTreeMap<String, Value>,
}

pub use crate::limits::RunSection;

/// `[plugins]`: where shared-library plugins are looked up when a configuration names one
/// (`name = "..."`) instead of giving its `path`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsSection {
    /// Folders to search, relative to this file; `CODEMODE_PLUGIN_PATH` is searched after
    /// them.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
}

/// The whole `codemode.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeModeConfig {
    /// The three models.
    #[serde(default)]
    pub llm: LlmSection,
    /// MCP servers by name (the name becomes the namespace). Their settings belong to the
    /// `mcp` tool provider (`codemode_mcp::McpServerConfig`).
    #[serde(default)]
    pub mcp_servers: BTreeMap<String, Value>,
    /// Other tool providers by name (the name becomes the namespace).
    #[serde(default)]
    pub tool_providers: BTreeMap<String, ToolProviderConfig>,
    /// A Claude Desktop style `{"mcpServers": {...}}` file to load as well.
    pub mcp_config: Option<PathBuf>,
    /// A static catalog file (namespace to `{"tools": [...]}`).
    pub catalog: Option<PathBuf>,
    /// Environment, checker and limits.
    #[serde(default)]
    pub run: RunSection,
    /// Settings of run environments by name (`[environments.e2b]`, `[environments.node]`),
    /// passed to the environment's factory.
    #[serde(default)]
    pub environments: BTreeMap<String, BTreeMap<String, Value>>,
    /// Settings of type checkers by name (`[type_checkers.tsc] path = ...`).
    #[serde(default)]
    pub type_checkers: BTreeMap<String, BTreeMap<String, Value>>,
    /// Where plugins loaded at run time are found by name.
    #[serde(default)]
    pub plugins: PluginsSection,
    /// The folder of the file this was read from: relative paths in it are relative to
    /// this folder. `None` for text parsed without a file.
    #[serde(skip)]
    pub config_dir: Option<PathBuf>,
}

fn table(settings: Option<&BTreeMap<String, Value>>) -> Value {
    settings.map_or(Value::Null, |s| Value::Object(s.clone().into_iter().collect()))
}

impl CodeModeConfig {
    /// A factory context for `name` with these settings, relative to this file's folder.
    pub fn context<S>(&self, name: impl Into<String>, settings: S) -> FactoryContext<S> {
        let context = FactoryContext::new(name, settings).config_dir(self.config_dir.clone());
        let dirs = self.plugins.dirs.iter().map(|d| context.resolve_path(d)).collect();
        context.plugin_dirs(dirs)
    }

    /// The context of the run environment `name`: its `[environments.NAME]` settings.
    pub fn environment_context(&self, name: &str) -> FactoryContext {
        self.context(name, table(self.environments.get(name)))
    }

    /// The context of the type checker `name` (`auto`, `tsc`, `builtin`, ...): its
    /// `[type_checkers.NAME]` settings; `[run] tsc_path` is the `tsc` checker's `path`.
    pub fn type_checker_context(&self, name: &str) -> FactoryContext {
        let own = if name == "auto" { "tsc" } else { name };
        let mut settings = table(self.type_checkers.get(own));
        if own == "tsc"
            && let Some(path) = &self.run.tsc_path
        {
            let path = Value::String(path.to_string_lossy().into_owned());
            match &mut settings {
                Value::Object(map) => {
                    map.insert("path".into(), path);
                }
                other => *other = serde_json::json!({ "path": path }),
            }
        }
        self.context(name, settings)
    }

    /// The context of the model for `role`, when one is configured.
    pub fn llm_context(&self, role: LlmRole) -> Option<FactoryContext<LlmConfig>> {
        self.llm
            .for_role(role)
            .map(|config| self.context(role.to_string(), config.clone()))
    }

    /// The context of `[tool_providers.NAME]`: the namespace and the provider's settings.
    pub fn tool_provider_context(&self, name: &str) -> Option<FactoryContext> {
        self.tool_providers
            .get(name)
            .map(|p| self.context(name, Value::Object(p.settings.clone().into_iter().collect())))
    }
}

impl CodeModeConfig {
    /// Parses TOML text. Relative paths in it stay relative; see [`Self::load`].
    pub fn from_toml(text: &str) -> Result<Self, CodeModeError> {
        toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    CodeModeConfig::error_at(line, column, &message)
                }
                None => CodeModeError::Config(message),
            }
        })
    }

    fn error_at(line: usize, column: usize, message: &str) -> CodeModeError {
        CodeModeError::Config(format!("line {line}, column {column}: {message}"))
    }

    /// Reads a file; relative paths inside it are resolved against its directory.
    pub fn load(path: &Path) -> Result<Self, CodeModeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CodeModeError::io(format!("cannot read config {}", path.display()), e))?;
        let mut config = Self::from_toml(&text).map_err(|e| {
            CodeModeError::Config(format!(
                "{}: {}",
                path.display(),
                e.to_string().trim_start_matches("configuration error: ")
            ))
        })?;
        // Only the paths core owns are resolved here; a factory resolves its own settings'
        // paths against `config_dir` (see `FactoryContext::resolve_path`).
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut config.mcp_config, &mut config.catalog, &mut config.run.log_dir]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        config.config_dir = Some(base.to_path_buf());
        Ok(config)
    }
}

/// Reads a Claude Desktop / Cursor `{"mcpServers": {...}}` file: each server's settings
/// for the `mcp` tool provider, as contexts relative to the file's folder.
pub fn load_mcp_servers_json(path: &Path) -> Result<BTreeMap<String, FactoryContext>, CodeModeError> {
    #[derive(Deserialize)]
    struct File {
        #[serde(rename = "mcpServers")]
        mcp_servers: BTreeMap<String, Value>,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| CodeModeError::io(format!("cannot read MCP config {}", path.display()), e))?;
    let file: File = serde_json::from_str(&text)
        .map_err(|e| CodeModeError::Config(format!("{}: expected {{\"mcpServers\": {{...}}}}: {e}", path.display())))?;
    let dir = path.parent().map(Path::to_path_buf);
    Ok(file
        .mcp_servers
        .into_iter()
        .map(|(name, settings)| {
            let context = FactoryContext::new(name.clone(), settings).config_dir(dir.clone());
            (name, context)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::RunOptions;

    #[test]
    fn parses_every_section() {
        let c = CodeModeConfig::from_toml(
            r#"
            mcp_config = "mcp.json"
            [llm.strategy]
            provider = "openrouter"
            model = "anthropic/claude-sonnet-4"
            temperature = 0.2
            [llm.main]
            provider = "openai"
            model = "gpt-5"
            base_url = "http://localhost:11434/v1"
            api_key_env = "MY_KEY"
            [mcp_servers.fs]
            command = "npx"
            args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
            [mcp_servers.remote]
            url = "http://localhost:8080/mcp"
            headers = { "X-Team" = "a" }
            [tool_providers.github]
            provider = "composio"
            toolkits = ["github"]
            user_id = "user-1"
            [environments.e2b]
            template = "my-node-template"
            [run]
            environment = "node"
            max_tool_calls = 5
            total_execution_timeout = 2.5
            "#,
        )
        .unwrap();
        assert_eq!(
            c.llm.strategy.as_ref().unwrap().settings["temperature"],
            serde_json::json!(0.2)
        );
        assert_eq!(c.llm.main.as_ref().unwrap().api_key_env.as_deref(), Some("MY_KEY"));
        assert!(c.llm.tiny.is_none());
        assert_eq!(c.mcp_servers["fs"]["args"].as_array().map(Vec::len), Some(3));
        assert_eq!(c.mcp_servers["remote"]["url"], "http://localhost:8080/mcp");
        assert_eq!(
            c.environment_context("e2b").settings,
            serde_json::json!({"template": "my-node-template"})
        );
        assert_eq!(c.environment_context("node").settings, Value::Null);
        let github = &c.tool_providers["github"];
        assert_eq!(github.provider, "composio");
        assert_eq!(github.settings["toolkits"], serde_json::json!(["github"]));
        assert_eq!(github.settings["user_id"], serde_json::json!("user-1"));
        assert!(!github.settings.contains_key("provider"));
        let mut o = RunOptions::default();
        c.run.apply(&mut o);
        assert_eq!((o.max_tool_calls, o.total_execution_timeout), (5, 2.5));
    }

    #[test]
    fn rejects_unknown_keys_with_the_key_name() {
        let e = CodeModeConfig::from_toml("[run]\nmax_tool_call = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_tool_call"), "{e}");
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("codemode.toml");
        std::fs::write(
            &file,
            "catalog = \"tools.json\"\n[run]\ntsc_path = \"bin/tsc\"\n[tool_providers.text]\nprovider = \"plugin\"\npath = \"lib/libtext.so\"\n[plugins]\ndirs = [\"plugins\", \"/opt/codemode/plugins\"]\n",
        )
        .unwrap();
        let c = CodeModeConfig::load(&file).unwrap();
        // Plugin folders reach every factory, resolved like every other path.
        assert_eq!(
            c.environment_context("plugin").plugin_dirs,
            [dir.path().join("plugins"), PathBuf::from("/opt/codemode/plugins")]
        );
        assert_eq!(c.catalog, Some(dir.path().join("tools.json")));
        assert_eq!(c.config_dir.as_deref(), Some(dir.path()));
        // A provider's settings stay as written; its factory resolves the ones that are paths.
        let text = c.tool_provider_context("text").unwrap();
        assert_eq!(text.settings["path"], "lib/libtext.so");
        assert_eq!(text.resolve_path("lib/libtext.so"), dir.path().join("lib/libtext.so"));
        let tsc = c.type_checker_context("auto");
        assert_eq!(tsc.settings["path"], "bin/tsc");
        assert_eq!(tsc.resolve_path("bin/tsc"), dir.path().join("bin/tsc"));
        assert_eq!(c.type_checker_context("builtin").settings, Value::Null);
    }
}
