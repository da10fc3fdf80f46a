//! `McpToolProvider`: one MCP server (stdio child process or streamable HTTP) as a
//! `ToolProvider`.

use std::collections::HashMap;
use std::future::Future;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use codemode_core::{ToolError, ToolFilter, ToolProvider, ToolSpec};
use rmcp::model::CallToolRequestParams;
use rmcp::service::{MaybeSendFuture, NotificationContext, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::McpServerConfig;
use crate::content::result_to_value;

/// How long a server may take to start and answer `initialize`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of a stdio server's stderr kept for error messages.
const STDERR_TAIL: usize = 2048;

/// Why a server could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The configuration cannot work.
    #[error("MCP server `{server}`: {message}")]
    Config {
        /// The server's name.
        server: String,
        /// What to fix.
        message: String,
    },
    /// The server did not start or did not complete the MCP handshake.
    #[error("MCP server `{server}` failed to start: {message}{}", stderr_suffix(.stderr))]
    Start {
        /// The server's name.
        server: String,
        /// What went wrong.
        message: String,
        /// The end of its stderr, when it wrote any.
        stderr: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends with: {s}")
    }
}

impl From<McpError> for ToolError {
    fn from(e: McpError) -> Self {
        let provider = match &e {
            McpError::Config { server, .. } | McpError::Start { server, .. } => server.clone(),
        };
        ToolError::Unavailable {
            provider,
            message: e.to_string(),
        }
    }
}

/// Receives server notifications: a `tools/list_changed` marks the tool list stale.
#[derive(Clone)]
struct Handler {
    changed: Arc<AtomicBool>,
}

impl ClientHandler for Handler {
    fn on_tool_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        tracing::debug!("tools/list_changed received");
        self.changed.store(true, Ordering::SeqCst);
        std::future::ready(())
    }
}

/// The last bytes a child wrote to stderr.
#[derive(Clone, Default)]
struct StderrTail(Arc<Mutex<Vec<u8>>>);

impl StderrTail {
    fn collect(&self, mut stderr: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
        let tail = self.0.clone();
        tokio::spawn(async move {
            let mut chunk = [0u8; 2048];
            while let Ok(n) = stderr.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = tail.lock() {
                    t.extend_from_slice(&chunk[..n]);
                    let excess = t.len().saturating_sub(STDERR_TAIL);
                    t.drain(..excess);
                }
            }
        });
    }

    fn text(&self) -> String {
        self.0
            .lock()
            .map(|t| String::from_utf8_lossy(&t).trim().to_string())
            .unwrap_or_default()
    }
}

/// One MCP server as a tool provider. Dropping it closes the connection and ends a stdio
/// server's process.
pub struct McpToolProvider {
    server: String,
    /// Which of the server's tools are offered (`include_tools`, `exclude_tools`).
    filter: ToolFilter,
    client: RunningService<RoleClient, Handler>,
    changed: Arc<AtomicBool>,
    stderr: StderrTail,
}

impl std::fmt::Debug for McpToolProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpToolProvider")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl McpToolProvider {
    /// Starts or connects the server described by `config` (`command` for stdio, `url` for
    /// streamable HTTP).
    pub async fn connect(server: &str, config: &McpServerConfig) -> Result<Self, McpError> {
        let config_error = |message: String| McpError::Config {
            server: server.to_string(),
            message,
        };
        let changed = Arc::new(AtomicBool::new(false));
        let handler = Handler {
            changed: changed.clone(),
        };
        let stderr = StderrTail::default();
        let start_error = |message: String, stderr: &StderrTail| McpError::Start {
            server: server.to_string(),
            message,
            stderr: stderr.text(),
        };
        let connecting = async {
            match (&config.command, &config.url) {
                (Some(command), None) => {
                    let mut cmd = tokio::process::Command::new(command);
                    cmd.args(&config.args).envs(&config.env);
                    if let Some(cwd) = &config.cwd {
                        cmd.current_dir(cwd);
                    }
                    let (transport, child_stderr) = TokioChildProcess::builder(cmd)
                        .stderr(Stdio::piped())
                        .spawn()
                        .map_err(|e| start_error(format!("cannot run `{command}`: {e}"), &stderr))?;
                    if let Some(s) = child_stderr {
                        stderr.collect(s);
                    }
                    handler
                        .serve(transport)
                        .await
                        .map_err(|e| start_error(e.to_string(), &stderr))
                }
                (None, Some(url)) => {
                    let mut http = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                    if let Some(var) = &config.bearer_token_env {
                        let token = std::env::var(var)
                            .map_err(|_| config_error(format!("bearer_token_env names `{var}`, which is not set")))?;
                        http = http.auth_header(token);
                    }
                    let mut headers = HashMap::new();
                    for (k, v) in &config.headers {
                        let name = http::HeaderName::try_from(k.as_str())
                            .map_err(|e| config_error(format!("header name `{k}`: {e}")))?;
                        let value = http::HeaderValue::try_from(v.as_str())
                            .map_err(|e| config_error(format!("header `{k}` value: {e}")))?;
                        headers.insert(name, value);
                    }
                    let client = codemode_rest::http_client()
                        .build()
                        .map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
                    let transport = StreamableHttpClientTransport::with_client(client, http.custom_headers(headers));
                    handler
                        .serve(transport)
                        .await
                        .map_err(|e| start_error(e.to_string(), &stderr))
                }
                _ => Err(config_error(
                    "set exactly one of `command` (stdio) and `url` (HTTP)".into(),
                )),
            }
        };
        let client = tokio::time::timeout(CONNECT_TIMEOUT, connecting).await.map_err(|_| {
            start_error(
                format!("no MCP handshake within {} s", CONNECT_TIMEOUT.as_secs()),
                &stderr,
            )
        })??;
        Ok(Self {
            server: server.to_string(),
            filter: config.tool_filter(),
            client,
            changed,
            stderr,
        })
    }

    /// Closes the connection and waits until it is closed: a stdio server's input ends, an
    /// HTTP session is deleted. (Dropping the provider closes it too, in the background.)
    pub async fn close(self) {
        if let Err(e) = self.client.cancel().await {
            tracing::debug!(server = %self.server, error = %e, "closing the MCP connection");
        }
    }

    /// The server's name (its namespace).
    pub fn server(&self) -> &str {
        &self.server
    }

    fn unavailable(&self, message: String) -> ToolError {
        let tail = self.stderr.text();
        let message = if tail.is_empty() {
            message
        } else {
            format!("{message}; its stderr ends with: {tail}")
        };
        ToolError::Unavailable {
            provider: self.server.clone(),
            message,
        }
    }
}

#[async_trait]
impl ToolProvider for McpToolProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        self.changed.store(false, Ordering::SeqCst);
        let tools = self
            .client
            .list_all_tools()
            .await
            .map_err(|e| self.unavailable(format!("tools/list failed: {e}")))?;
        tools
            .into_iter()
            .filter(|tool| self.filter.offers(&tool.name))
            .map(|tool| {
                let value = serde_json::to_value(&tool).map_err(|e| self.unavailable(e.to_string()))?;
                serde_json::from_value::<ToolSpec>(value)
                    .map_err(|e| self.unavailable(format!("a tool description is malformed: {e}")))
            })
            .collect()
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        if !self.filter.offers(name) {
            return Err(ToolError::NotCallable(format!(
                "`{name}` of MCP server `{}` is not offered (include_tools / exclude_tools)",
                self.server
            )));
        }
        let arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => {
                return Err(ToolError::Failed(format!("arguments must be an object, got {other}")));
            }
        };
        let mut params = CallToolRequestParams::new(name.to_string());
        params.arguments = arguments;
        // Dropping this future (on `tool_call_timeout`) sends `notifications/cancelled`.
        let result = self.client.call_tool(params).await.map_err(|e| match e {
            rmcp::ServiceError::McpError(data) => ToolError::Failed(data.message.to_string()),
            other => self.unavailable(format!("tools/call {name} failed: {other}")),
        })?;
        let value = serde_json::to_value(&result).map_err(|e| self.unavailable(e.to_string()))?;
        result_to_value(&value).map_err(ToolError::Failed)
    }

    fn tools_changed(&self) -> bool {
        self.changed.load(Ordering::SeqCst)
    }
}
