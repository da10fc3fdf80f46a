//! `codemode.toml`: models, MCP servers, the run environment and limits.
//! Every key is documented in `docs/configuration.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CodeModeError;
use crate::llm::LlmRole;
use crate::options::RunOptions;

/// One model: which provider serves it and how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmConfig {
    /// Registered provider name (`openai`, `openrouter`, `scripted`, ...).
    pub provider: String,
    /// Model name as the provider knows it.
    #[serde(default)]
    pub model: String,
    /// Base URL of an OpenAI-compatible server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Name of the environment variable holding the API key (never the key itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Provider-specific settings (temperature, max_tokens, script, ...).
    #[serde(flatten)]
    pub settings: BTreeMap<String, Value>,
}

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

/// One MCP server: a command to start (stdio) or a URL (streamable HTTP).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct McpServerConfig {
    /// Program to start for a stdio server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment variables for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Its working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// URL of a streamable HTTP server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Extra HTTP headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Environment variable holding a bearer token for HTTP servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
    /// Transport hint from Claude Desktop / Cursor files (`stdio`, `http`, `sse`); informative.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
}

impl McpServerConfig {
    /// Checks that exactly one of `command` and `url` is set.
    pub fn validate(&self, name: &str) -> Result<(), CodeModeError> {
        match (&self.command, &self.url) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            (Some(_), Some(_)) => Err(CodeModeError::Config(format!(
                "MCP server `{name}` sets both `command` and `url`: keep one"
            ))),
            (None, None) => Err(CodeModeError::Config(format!(
                "MCP server `{name}` needs `command` (stdio) or `url` (HTTP)"
            ))),
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

/// The `[run]` table: environment, checker and limits. Unset limits keep their defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Registered run environment name (`wasm` by default; `node` for a Node.js subprocess).
    pub environment: Option<String>,
    /// `auto` (default: TypeScript 7 when found, else the built-in checker), `tsc` or `builtin`.
    pub type_checker: Option<String>,
    /// Path of the TypeScript 7 `tsc` (else `CODEMODE_TSC`, `./node_modules/.bin/tsc`, `PATH`).
    pub tsc_path: Option<PathBuf>,
    /// Most tool calls per program.
    pub max_tool_calls: Option<usize>,
    /// Seconds a program may run.
    pub total_execution_timeout: Option<f64>,
    /// Seconds each tool call may take.
    pub tool_call_timeout: Option<f64>,
    /// Seconds of computing a program may use (waiting for tools is not charged).
    pub cpu_time_limit: Option<f64>,
    /// Repair rounds after failed checks.
    pub max_repairs: Option<u32>,
    /// Tools per filter prompt.
    pub max_tools_per_prompt: Option<usize>,
    /// Filter prompts in flight at once.
    pub max_concurrent_threads: Option<usize>,
    /// Memory cap for programs, in MiB.
    pub memory_limit_mb: Option<u64>,
    /// Where to write prompt logs.
    pub log_dir: Option<PathBuf>,
}

impl RunSection {
    /// Applies the limits set here to `options`.
    pub fn apply(&self, options: &mut RunOptions) {
        if let Some(v) = self.max_tool_calls {
            options.max_tool_calls = v;
        }
        if let Some(v) = self.total_execution_timeout {
            options.total_execution_timeout = v;
        }
        if let Some(v) = self.tool_call_timeout {
            options.tool_call_timeout = v;
        }
        if let Some(v) = self.cpu_time_limit {
            options.cpu_time_limit = Some(v);
        }
        if let Some(v) = self.max_repairs {
            options.max_repairs = v;
        }
        if let Some(v) = self.max_tools_per_prompt {
            options.max_tools_per_prompt = v;
        }
        if let Some(v) = self.max_concurrent_threads {
            options.max_concurrent_threads = v;
        }
        if let Some(v) = self.memory_limit_mb {
            options.memory_limit_mb = v;
        }
        if let Some(v) = &self.log_dir {
            options.log_dir = Some(v.clone());
        }
    }
}

/// The whole `codemode.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeModeConfig {
    /// The three models.
    #[serde(default)]
    pub llm: LlmSection,
    /// MCP servers by name (the name becomes the namespace).
    #[serde(default)]
    pub mcp_servers: BTreeMap<String, McpServerConfig>,
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
}

impl CodeModeConfig {
    /// The settings of the run environment `name` as JSON (`null` when none are set).
    pub fn environment_settings(&self, name: &str) -> Value {
        self.environments
            .get(name)
            .map_or(Value::Null, |s| Value::Object(s.clone().into_iter().collect()))
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
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut config.mcp_config, &mut config.catalog, &mut config.run.log_dir]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for llm in [&mut config.llm.strategy, &mut config.llm.main, &mut config.llm.tiny]
            .into_iter()
            .flatten()
        {
            if let Some(Value::String(script)) = llm.settings.get_mut("script")
                && Path::new(script.as_str()).is_relative()
            {
                *script = base.join(script.as_str()).to_string_lossy().into_owned();
            }
        }
        // A plugin's library path is relative to the file, like the other paths.
        for provider in config.tool_providers.values_mut() {
            if provider.provider == "plugin"
                && let Some(Value::String(library)) = provider.settings.get_mut("path")
                && Path::new(library.as_str()).is_relative()
            {
                *library = base.join(library.as_str()).to_string_lossy().into_owned();
            }
        }
        for server in config.mcp_servers.values_mut() {
            if let Some(cwd) = &mut server.cwd
                && cwd.is_relative()
            {
                *cwd = base.join(&*cwd);
            }
        }
        Ok(config)
    }
}

/// Reads a Claude Desktop / Cursor `{"mcpServers": {...}}` file.
pub fn load_mcp_servers_json(path: &Path) -> Result<BTreeMap<String, McpServerConfig>, CodeModeError> {
    #[derive(Deserialize)]
    struct File {
        #[serde(rename = "mcpServers")]
        mcp_servers: BTreeMap<String, McpServerConfig>,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| CodeModeError::io(format!("cannot read MCP config {}", path.display()), e))?;
    let file: File = serde_json::from_str(&text)
        .map_err(|e| CodeModeError::Config(format!("{}: expected {{\"mcpServers\": {{...}}}}: {e}", path.display())))?;
    Ok(file.mcp_servers)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(c.mcp_servers["fs"].args.len(), 3);
        c.mcp_servers["remote"].validate("remote").unwrap();
        assert_eq!(
            c.environment_settings("e2b"),
            serde_json::json!({"template": "my-node-template"})
        );
        assert_eq!(c.environment_settings("node"), Value::Null);
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
        assert!(McpServerConfig::default().validate("x").is_err());
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let dir = std::env::temp_dir().join(format!("codemode-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("codemode.toml");
        std::fs::write(
            &file,
            "catalog = \"tools.json\"\n[tool_providers.text]\nprovider = \"plugin\"\npath = \"lib/libtext.so\"\n[tool_providers.gh]\nprovider = \"composio\"\npath = \"not-a-path-setting\"\n",
        )
        .unwrap();
        let c = CodeModeConfig::load(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(c.catalog, Some(dir.join("tools.json")));
        assert_eq!(
            c.tool_providers["text"].settings["path"],
            serde_json::json!(dir.join("lib/libtext.so").to_string_lossy())
        );
        // Only the plugin provider's `path` is a file path.
        assert_eq!(c.tool_providers["gh"].settings["path"], "not-a-path-setting");
    }
}
