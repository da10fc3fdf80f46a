//! `McpToolProvider`: one MCP server (stdio child process or streamable HTTP) as a
//! `ToolProvider`.
//!
//! The connection is watched: a stdio server that exits is named with its exit status and
//! the end of its stderr, and the next call (or the next run, which lists the tools again)
//! starts it anew, at most [`MAX_RESTARTS`] times in a row with a growing pause between
//! attempts. An HTTP server whose connection broke is connected anew the same way; an expired
//! HTTP session (404) is renewed by rmcp itself. A stdio server that writes something other
//! than JSON-RPC on stdout fails the calls in flight after [`GARBAGE_GRACE`] instead of
//! leaving them to their timeout.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use codemode_traits::{ToolError, ToolProvider, ToolSpec};
use rmcp::model::CallToolRequestParams;
use rmcp::service::{MaybeSendFuture, NotificationContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::Value;

use crate::McpServerConfig;
use crate::content::result_to_value;
use crate::listing::{ListError, list_all};
use crate::stdio::StdioProcess;

/// How long a server may take to start and answer `initialize`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// Restarts in a row (without a call answered in between) before the provider gives up.
pub const MAX_RESTARTS: u32 = 3;
/// Pause before the first restart; it doubles with each further one in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// After giving up, how long until one more restart is tried.
const GIVE_UP_FOR: Duration = Duration::from_secs(60);
/// How long a call in flight may still be answered after the server wrote garbage.
pub const GARBAGE_GRACE: Duration = Duration::from_millis(250);
/// How long to wait for a stdio server's exit status once its stream closed.
const EXIT_WAIT: Duration = Duration::from_secs(1);

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

/// One connection to the server: the rmcp client and, for stdio, the process behind it.
struct Connection {
    client: RunningService<RoleClient, Handler>,
    process: Option<StdioProcess>,
    /// Set when a request failed in the transport (e.g. an HTTP server that went away): the
    /// next call connects anew instead of trusting this connection again.
    broken: AtomicBool,
}

impl Connection {
    /// Starts or connects the server described by `config`.
    async fn open(server: &str, config: &McpServerConfig, handler: Handler) -> Result<Self, McpError> {
        let config_error = |message: String| McpError::Config {
            server: server.to_string(),
            message,
        };
        let start_error = |message: String, stderr: String| McpError::Start {
            server: server.to_string(),
            message,
            stderr,
        };
        match (&config.command, &config.url) {
            (Some(command), None) => {
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(&config.args).envs(&config.env);
                if let Some(cwd) = &config.cwd {
                    cmd.current_dir(cwd);
                }
                let (process, transport) = StdioProcess::spawn(cmd)
                    .map_err(|e| start_error(format!("cannot run `{command}`: {e}"), String::new()))?;
                let started = tokio::time::timeout(CONNECT_TIMEOUT, handler.serve(transport)).await;
                let client = match started {
                    Ok(Ok(client)) => client,
                    Ok(Err(e)) => {
                        let mut message = e.to_string();
                        if let Some(status) = process.wait_exit(EXIT_WAIT).await {
                            message = format!("it exited ({status}) during the handshake: {message}");
                        }
                        return Err(start_error(message, process.stderr()));
                    }
                    Err(_) => {
                        let message = format!("no MCP handshake within {} s", CONNECT_TIMEOUT.as_secs());
                        return Err(start_error(message, process.stderr()));
                    }
                };
                Ok(Self {
                    client,
                    process: Some(process),
                    broken: AtomicBool::new(false),
                })
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
                let client = tokio::time::timeout(CONNECT_TIMEOUT, handler.serve(transport))
                    .await
                    .map_err(|_| {
                        start_error(
                            format!("no MCP handshake within {} s", CONNECT_TIMEOUT.as_secs()),
                            String::new(),
                        )
                    })?
                    .map_err(|e| start_error(e.to_string(), String::new()))?;
                Ok(Self {
                    client,
                    process: None,
                    broken: AtomicBool::new(false),
                })
            }
            _ => Err(config_error(
                "set exactly one of `command` (stdio) and `url` (HTTP)".into(),
            )),
        }
    }

    /// Whether calls can still go through: the stream is open and the process runs.
    fn is_alive(&self) -> bool {
        !self.broken.load(Ordering::SeqCst)
            && !self.client.is_transport_closed()
            && self.process.as_ref().is_none_or(|p| p.exit_status().is_none())
    }

    /// Why the connection is gone, as "it exited (exit status: 3)" or "its connection closed",
    /// then `context` (what was under way), then the end of a stdio server's stderr.
    async fn death(&self, context: &str) -> String {
        match &self.process {
            Some(process) => {
                let status = process.wait_exit(EXIT_WAIT).await;
                let what = match status {
                    Some(status) => format!("it exited ({status}){context}"),
                    None => format!("its stdout closed{context}"),
                };
                with_stderr(what, &process.stderr())
            }
            None => format!("its connection closed{context}"),
        }
    }
}

fn with_stderr(message: String, stderr: &str) -> String {
    format!("{message}{}", stderr_suffix(stderr))
}

/// Restarts in a row, for the bound and the backoff.
#[derive(Default)]
struct Restarts {
    in_a_row: u32,
    last_attempt: Option<Instant>,
}

/// One MCP server as a tool provider. Dropping it closes the connection and ends a stdio
/// server's process.
pub struct McpToolProvider {
    server: String,
    config: McpServerConfig,
    /// The current connection; `None` after a restart failed.
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
    restarts: std::sync::Mutex<Restarts>,
    changed: Arc<AtomicBool>,
    /// What the last `tools/list` found wrong (tools left out, schemas replaced).
    listing_warnings: std::sync::Mutex<Vec<String>>,
    /// Who the server says it is (`serverInfo` name and version), else its command line or URL.
    identity: String,
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
    /// streamable HTTP). All its tools are offered: `include_tools` / `exclude_tools` are
    /// applied by [`codemode_traits::registry::create_tool_provider`] for configured servers,
    /// or by `config.tool_filter().apply(...)`.
    pub async fn connect(server: &str, config: &McpServerConfig) -> Result<Self, McpError> {
        let changed = Arc::new(AtomicBool::new(false));
        let handler = Handler {
            changed: changed.clone(),
        };
        let connection = Connection::open(server, config, handler).await?;
        let identity = connection
            .client
            .peer_info()
            .and_then(|info| info.server_info.as_ref().map(|i| format!("{} {}", i.name, i.version)))
            .filter(|id| !id.trim().is_empty())
            .or_else(|| config.url.clone())
            .or_else(|| {
                config.command.as_ref().map(|c| {
                    std::iter::once(c.as_str())
                        .chain(config.args.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
            })
            .unwrap_or_else(|| server.to_string());
        Ok(Self {
            server: server.to_string(),
            config: config.clone(),
            connection: tokio::sync::Mutex::new(Some(Arc::new(connection))),
            restarts: std::sync::Mutex::default(),
            changed,
            listing_warnings: std::sync::Mutex::default(),
            identity,
        })
    }

    /// Closes the connection and waits until it is closed: a stdio server's input ends, an
    /// HTTP session is deleted. (Dropping the provider closes it too, in the background.)
    pub async fn close(self) {
        let Some(connection) = self.connection.into_inner() else {
            return;
        };
        match Arc::try_unwrap(connection) {
            Ok(connection) => {
                if let Err(e) = connection.client.cancel().await {
                    tracing::debug!(server = %self.server, error = %e, "closing the MCP connection");
                }
            }
            Err(_) => tracing::debug!(server = %self.server, "calls still in flight; the connection closes with them"),
        }
    }

    /// The server's name (its namespace).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// What the last listing of the server's tools found wrong, one sentence each: tools left
    /// out (no name, or callable only as an MCP task) and input schemas replaced by a
    /// permissive one. Each is also logged as a warning when the tools are listed.
    pub fn listing_warnings(&self) -> Vec<String> {
        self.listing_warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    fn unavailable(&self, message: String) -> ToolError {
        ToolError::Unavailable {
            provider: self.server.clone(),
            message,
        }
    }

    /// The live connection, starting the server anew when the last one is gone (bounded,
    /// with backoff). Concurrent callers wait for one restart.
    async fn connection(&self) -> Result<Arc<Connection>, ToolError> {
        let mut slot = self.connection.lock().await;
        let why = match slot.as_ref() {
            Some(connection) if connection.is_alive() => return Ok(connection.clone()),
            Some(connection) => connection.death("").await,
            None => "the last restart failed".to_string(),
        };
        let pause = {
            let mut restarts = self
                .restarts
                .lock()
                .map_err(|_| self.unavailable("restart state poisoned".into()))?;
            let cooled_down = restarts.last_attempt.is_some_and(|t| t.elapsed() >= GIVE_UP_FOR);
            if restarts.in_a_row >= MAX_RESTARTS && !cooled_down {
                return Err(self.unavailable(format!(
                    "{why}; gave up after {MAX_RESTARTS} restarts in a row (the next try is at most {} s away)",
                    GIVE_UP_FOR.as_secs()
                )));
            }
            if restarts.in_a_row >= MAX_RESTARTS {
                restarts.in_a_row = MAX_RESTARTS - 1;
            }
            restarts.in_a_row += 1;
            restarts.last_attempt = Some(Instant::now());
            FIRST_BACKOFF * 2u32.pow(restarts.in_a_row - 1)
        };
        tracing::warn!(server = %self.server, reason = %why, "restarting the MCP server in {pause:?}");
        // The old connection goes first, so a stdio server's old process ends.
        *slot = None;
        tokio::time::sleep(pause).await;
        let handler = Handler {
            changed: self.changed.clone(),
        };
        match Connection::open(&self.server, &self.config, handler).await {
            Ok(connection) => {
                let connection = Arc::new(connection);
                *slot = Some(connection.clone());
                // Its tools may differ from the last process's.
                self.changed.store(true, Ordering::SeqCst);
                Ok(connection)
            }
            Err(e) => Err(self.unavailable(format!("{why}, and restarting it failed: {e}"))),
        }
    }

    /// A call got an answer: the server works, the restart count starts over.
    fn answered(&self) {
        if let Ok(mut restarts) = self.restarts.lock() {
            restarts.in_a_row = 0;
        }
    }

    /// What a failed request says: when the connection broke, why (for a stdio server its
    /// exit status and the end of its stderr). A broken connection is not used again.
    async fn failure(&self, connection: &Connection, what: &str, error: rmcp::ServiceError) -> ToolError {
        let broke = matches!(
            error,
            rmcp::ServiceError::TransportClosed | rmcp::ServiceError::TransportSend(_)
        ) || connection.client.is_transport_closed();
        if !broke {
            return self.unavailable(format!("{what} failed: {error}"));
        }
        connection.broken.store(true, Ordering::SeqCst);
        if connection.process.is_some() {
            return self.unavailable(connection.death(&format!(" during {what}")).await);
        }
        self.unavailable(format!(
            "its connection broke during {what}: {}; the next call connects anew",
            transport_cause(&error)
        ))
    }
}

/// The cause of a transport error without rmcp's wrapper (whose text names Rust types).
fn transport_cause(error: &rmcp::ServiceError) -> String {
    let rmcp::ServiceError::TransportSend(inner) = error else {
        return error.to_string();
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(inner);
    while let Some(e) = source {
        causes.push(e.to_string());
        source = e.source();
    }
    if causes.is_empty() {
        inner.to_string()
    } else {
        causes.join(": ")
    }
}

#[async_trait]
impl ToolProvider for McpToolProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        self.changed.store(false, Ordering::SeqCst);
        let connection = self.connection().await?;
        let listing = match list_all(connection.client.peer()).await {
            Ok(listing) => listing,
            Err(ListError::Malformed(message)) => return Err(self.unavailable(message)),
            Err(ListError::Service(e)) => return Err(self.failure(&connection, "tools/list", e).await),
        };
        self.answered();
        for warning in &listing.warnings {
            tracing::warn!(server = %self.server, "{warning}");
        }
        if let Ok(mut kept) = self.listing_warnings.lock() {
            kept.clone_from(&listing.warnings);
        }
        Ok(listing.tools)
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        let arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => {
                return Err(ToolError::Failed(format!("arguments must be an object, got {other}")));
            }
        };
        let connection = self.connection().await?;
        let mut params = CallToolRequestParams::new(name.to_string());
        params.arguments = arguments;
        // Dropping this future (on `tool_call_timeout`, or after garbage) sends
        // `notifications/cancelled`.
        let call = connection.client.call_tool(params);
        let outcome = match &connection.process {
            Some(process) => process.guard(call, GARBAGE_GRACE).await.map_err(|garbage| {
                if garbage.oversized {
                    return ToolError::Failed(format!("tools/call {name}: {}", garbage.last));
                }
                self.unavailable(format!(
                    "it wrote a line that is not JSON-RPC on stdout while tools/call {name} waited for its answer: `{}`",
                    garbage.last
                ))
            })?,
            None => call.await,
        };
        let result = match outcome {
            Ok(result) => result,
            Err(rmcp::ServiceError::McpError(data)) => {
                self.answered();
                return Err(ToolError::Failed(data.message.to_string()));
            }
            Err(e) => return Err(self.failure(&connection, &format!("tools/call {name}"), e).await),
        };
        self.answered();
        let value = serde_json::to_value(&result).map_err(|e| self.unavailable(e.to_string()))?;
        result_to_value(&value).map_err(ToolError::Failed)
    }

    fn identity(&self) -> Option<String> {
        Some(self.identity.clone())
    }

    fn tools_changed(&self) -> bool {
        // A connection that is gone counts as a change: the next run lists the tools again,
        // which restarts the server.
        let gone = self
            .connection
            .try_lock()
            .is_ok_and(|slot| slot.as_ref().is_none_or(|c| !c.is_alive()));
        gone || self.changed.load(Ordering::SeqCst)
    }
}
