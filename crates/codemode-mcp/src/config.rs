//! `McpServerConfig`: how to reach one MCP server, as `[mcp_servers.NAME]` in
//! `codemode.toml` or an entry of a Claude Desktop / Cursor `{"mcpServers": {...}}` file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use codemode_traits::registry::FactoryContext;
use codemode_traits::{CodeModeError, ToolFilter};
use serde::{Deserialize, Serialize};

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
    /// Its working directory (relative to the configuration file).
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
    /// Only these of the server's tools are offered (names; `*` matches any run of
    /// characters, as in `get_*`). Empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_tools: Vec<String>,
    /// These of the server's tools are never offered or called, e.g. admin or test tools a
    /// model should not see (same patterns as `include_tools`; applied after it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_tools: Vec<String>,
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

    /// Which of the server's tools are offered: `include_tools` and `exclude_tools`
    /// ([`ToolFilter::apply`] wraps a provider with it).
    pub fn tool_filter(&self) -> ToolFilter {
        ToolFilter::new(self.include_tools.clone(), self.exclude_tools.clone())
    }

    /// The server the context describes, checked, with `cwd` resolved against the
    /// configuration file's folder.
    pub fn from_context(context: &FactoryContext) -> Result<Self, CodeModeError> {
        let mut config: Self = context
            .parse_settings()
            .map_err(|e| CodeModeError::Config(format!("MCP server `{}`: invalid settings: {e}", context.name)))?;
        config.validate(&context.name)?;
        if let Some(cwd) = &config.cwd {
            config.cwd = Some(context.resolve_path(cwd));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_server_needs_exactly_one_transport_and_its_cwd_follows_the_file() {
        let context = |settings| FactoryContext::new("fs", settings).config_dir(Some(PathBuf::from("/etc/cm")));
        let both = McpServerConfig::from_context(&context(json!({"command": "x", "url": "http://h"})));
        assert!(both.unwrap_err().to_string().contains("sets both"));
        let neither = McpServerConfig::from_context(&context(json!({"args": ["a"]})));
        assert!(neither.unwrap_err().to_string().contains("needs `command`"));
        let typo = McpServerConfig::from_context(&context(json!({"command": "x", "args": "not-a-list"})));
        assert!(
            typo.unwrap_err()
                .to_string()
                .contains("MCP server `fs`: invalid settings")
        );
        let ok =
            McpServerConfig::from_context(&context(json!({"command": "npx", "cwd": "data", "type": "stdio"}))).unwrap();
        assert_eq!(ok.cwd, Some(PathBuf::from("/etc/cm/data")));
    }
}
