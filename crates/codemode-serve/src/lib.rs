//! Code mode as an MCP server: one server in front of every configured tool provider that
//! gives an agent search and a typed program runner instead of hundreds of tool definitions.
//!
//! [`CodeModeServer`] is an rmcp [`ServerHandler`] with four tools:
//! - `search_tools`: text in, the best-matching tool paths with one-line descriptions and
//!   signatures out (the catalog's search index, the one the filter step uses);
//! - `describe_tools`: paths in, their TypeScript declarations out;
//! - `execute_code`: a TypeScript program in; it is type-checked (diagnostics come back as a
//!   tool error at program lines), then run in the configured environment under the
//!   configured limits; the value, the console and the tool calls come back, cut to
//!   [`ServeOptions::max_result_tokens`];
//! - `run_task`: the whole six-step pipeline for a request, listed only when the
//!   [`CodeMode`] has models.
//!
//! [`serve_stdio`] and [`http::serve`] put it on a transport; every `execute_code` call gets a
//! sandbox of its own, sessions and calls run concurrently, and a client's cancellation
//! stops the run.
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode_core::{CodeMode, StaticToolProvider};
//! use codemode_serve::{CodeModeServer, ServeOptions};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let codemode = CodeMode::builder()
//!     .tool_provider("chat", Arc::new(StaticToolProvider::new(Vec::new())))
//!     .build()
//!     .await?;
//! let server = CodeModeServer::new(Arc::new(codemode), ServeOptions::default());
//! codemode_serve::serve_stdio(server).await?;
//! # Ok(())
//! # }
//! ```

mod answer;
mod approve;
pub mod http;
mod signature;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use codemode_core::{CodeMode, RunOptions, ToolCatalog};
use rmcp::handler::server::tool::schema_for_type;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, schemars};
use serde::Deserialize;

/// The default of [`ServeOptions::max_result_tokens`].
pub const DEFAULT_MAX_RESULT_TOKENS: usize = 6_000;
/// How many tools `search_tools` lists when the agent gives no limit.
const DEFAULT_SEARCH_LIMIT: usize = 10;
/// The most `search_tools` lists.
const MAX_SEARCH_LIMIT: usize = 50;
/// Namespaces named in `search_tools`' description; the rest are counted.
const NAMESPACES_LISTED: usize = 40;

const INSTRUCTIONS: &str = include_str!("descriptions/instructions.md");
const SEARCH_TOOLS: &str = include_str!("descriptions/search_tools.md");
const DESCRIBE_TOOLS: &str = include_str!("descriptions/describe_tools.md");
const EXECUTE_CODE: &str = include_str!("descriptions/execute_code.md");
const RUN_TASK: &str = include_str!("descriptions/run_task.md");

/// Errors of serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An address beyond loopback needs a bearer token.
    #[error(
        "{addr} is reachable beyond this machine: set a bearer token (--token-env VAR, with the token in VAR) to serve on it"
    )]
    TokenRequired {
        /// The address asked for.
        addr: String,
    },
    /// The MCP transport failed.
    #[error("MCP transport: {0}")]
    Transport(String),
}

/// How the server answers.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Limits and settings of every `execute_code` and `run_task` call.
    pub run: RunOptions,
    /// About how many tokens of value, console and tool calls an answer carries; longer
    /// answers are cut, keeping valid JSON and saying what was cut.
    pub max_result_tokens: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            run: RunOptions::default(),
            max_result_tokens: DEFAULT_MAX_RESULT_TOKENS,
        }
    }
}

/// The MCP server: search, describe and run programs against a [`CodeMode`]'s catalog.
/// Clones share the pipeline and the list of connected clients.
#[derive(Clone)]
pub struct CodeModeServer {
    codemode: Arc<CodeMode>,
    options: Arc<ServeOptions>,
    /// Connected clients, told when the catalog changes.
    peers: Arc<Mutex<Vec<Peer<RoleServer>>>>,
    /// Values of secret-looking environment variables, redacted from every answer.
    secrets: Arc<Vec<String>>,
}

/// Arguments of `search_tools`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct SearchToolsInput {
    /// What the tools should do, in words their names and descriptions would use.
    query: String,
    /// How many tools to list (default 10, at most 50).
    #[serde(default)]
    limit: Option<usize>,
}

/// Arguments of `describe_tools`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct DescribeToolsInput {
    /// Tool paths as `search_tools` lists them, e.g. `["chat.send_message"]`.
    paths: Vec<String>,
}

/// Arguments of `execute_code`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ExecuteCodeInput {
    /// The TypeScript program: the body of an async function (top-level `await`, `return`).
    code: String,
}

/// Arguments of `run_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct RunTaskInput {
    /// The task, in plain language.
    task: String,
}

impl CodeModeServer {
    /// A server over `codemode`'s catalog, run environment and checker.
    pub fn new(codemode: Arc<CodeMode>, options: ServeOptions) -> Self {
        Self {
            codemode,
            options: Arc::new(options),
            peers: Arc::default(),
            secrets: Arc::new(codemode_core::redact::secret_values_from_env()),
        }
    }

    /// The tools this server lists: `run_task` only when the pipeline has models.
    pub fn tools(&self) -> Vec<Tool> {
        let catalog = self.codemode.catalog();
        let run = &self.options.run;
        let read_only = ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .open_world(false);
        let mut tools = vec![
            Tool::new(
                "search_tools",
                fill(
                    SEARCH_TOOLS,
                    &[
                        ("tools", catalog.len().to_string()),
                        ("namespaces", namespace_list(&catalog)),
                    ],
                ),
                schema_for_type::<SearchToolsInput>(),
            )
            .with_annotations(read_only.clone()),
            Tool::new(
                "describe_tools",
                DESCRIBE_TOOLS,
                schema_for_type::<DescribeToolsInput>(),
            )
            .with_annotations(read_only),
            Tool::new(
                "execute_code",
                fill(
                    EXECUTE_CODE,
                    &[
                        ("max_tool_calls", run.max_tool_calls.to_string()),
                        ("timeout_s", seconds(run.total_execution_timeout)),
                        ("tool_timeout_s", seconds(run.tool_call_timeout)),
                        ("max_result_tokens", self.options.max_result_tokens.to_string()),
                    ],
                ),
                schema_for_type::<ExecuteCodeInput>(),
            )
            .with_annotations(ToolAnnotations::new().open_world(true)),
        ];
        if self.codemode.has_models() {
            tools.push(
                Tool::new("run_task", RUN_TASK, schema_for_type::<RunTaskInput>())
                    .with_annotations(ToolAnnotations::new().open_world(true)),
            );
        }
        tools
    }

    /// Watches the providers every `every`: when one reports that its tools changed, lists
    /// the tools again and tells every connected client (`notifications/tools/list_changed`,
    /// since `search_tools`' description counts the tools). Ends when the runtime does.
    pub fn watch_catalog(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let server = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                if server.codemode.refresh_if_changed().await {
                    server.notify_tools_changed().await;
                }
            }
        })
    }

    /// Sends `notifications/tools/list_changed` to every connected client and forgets
    /// the ones that are gone.
    pub async fn notify_tools_changed(&self) {
        let peers: Vec<Peer<RoleServer>> = self.peers.lock().map(|p| p.clone()).unwrap_or_default();
        let mut gone = Vec::new();
        for (i, peer) in peers.iter().enumerate() {
            if let Err(e) = peer.notify_tool_list_changed().await {
                tracing::debug!(error = %e, "a client is gone");
                gone.push(i);
            }
        }
        if !gone.is_empty()
            && let Ok(mut list) = self.peers.lock()
        {
            let mut i = 0;
            list.retain(|_| {
                let keep = !gone.contains(&i);
                i += 1;
                keep
            });
        }
    }

    fn search_tools(&self, input: SearchToolsInput) -> CallToolResult {
        let catalog = self.codemode.catalog();
        let limit = input.limit.unwrap_or(DEFAULT_SEARCH_LIMIT).clamp(1, MAX_SEARCH_LIMIT);
        let hits = catalog.search(&input.query, limit);
        if hits.is_empty() {
            return text_result(format!(
                "No tool matches `{}` (common words such as `the` and `get` do not count). Namespaces: {}",
                input.query,
                namespace_list(&catalog)
            ));
        }
        let lines: Vec<String> = hits
            .iter()
            .filter_map(|h| catalog.tool(&h.path))
            .map(signature::listing_line)
            .collect();
        text_result(format!(
            "{}\n\n{} of {} tools. `describe_tools` gives the declarations of the ones you use.",
            lines.join("\n"),
            lines.len(),
            catalog.len()
        ))
    }

    fn describe_tools(&self, input: DescribeToolsInput) -> CallToolResult {
        let catalog = self.codemode.catalog();
        let mut paths = Vec::new();
        let mut unknown = Vec::new();
        for asked in &input.paths {
            let name = asked.trim().trim_start_matches("tools.");
            match catalog.resolve(name) {
                Some(entry) => paths.push(entry.path.clone()),
                None => unknown.push(asked.as_str()),
            }
        }
        if !unknown.is_empty() {
            let suggestions: Vec<String> = unknown
                .iter()
                .flat_map(|u| catalog.search(&u.replace(['.', '_'], " "), 3))
                .map(|h| h.path)
                .collect();
            return error_result(format!(
                "no tool {}: `search_tools` lists the paths{}",
                unknown.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", "),
                if suggestions.is_empty() {
                    String::new()
                } else {
                    format!(" (close matches: {})", suggestions.join(", "))
                }
            ));
        }
        if paths.is_empty() {
            return error_result("give at least one tool path in `paths`".into());
        }
        text_result(catalog.subset(paths.iter().map(String::as_str)).declarations())
    }

    async fn execute_code(&self, input: ExecuteCodeInput, context: &RequestContext<RoleServer>) -> CallToolResult {
        let approver = Arc::new(approve::ElicitingApprover::new(
            context.peer.clone(),
            self.codemode.approver(),
        ));
        let run = self
            .codemode
            .run(codemode_core::RunRequest::program(&input.code, self.options.run.clone()).approver(approver));
        let report = tokio::select! {
            report = run => report,
            () = context.ct.cancelled() => return error_result("cancelled by the client; the run was stopped".into()),
        };
        match report {
            Ok(report) => answer::program_answer(
                &report,
                self.options.max_result_tokens,
                &namespace_list(&self.codemode.catalog()),
            ),
            Err(e) => error_result(e.to_string()),
        }
    }

    async fn run_task(&self, input: RunTaskInput, context: &RequestContext<RoleServer>) -> CallToolResult {
        let mut options = self.options.run.clone();
        options.query = input.task;
        let approver = Arc::new(approve::ElicitingApprover::new(
            context.peer.clone(),
            self.codemode.approver(),
        ));
        let run = self
            .codemode
            .run(codemode_core::RunRequest::query(options).approver(approver));
        let report = tokio::select! {
            report = run => report,
            () = context.ct.cancelled() => return error_result("cancelled by the client; the run was stopped".into()),
        };
        match report {
            Ok(report) => answer::task_answer(&report, self.options.max_result_tokens),
            Err(e) => error_result(e.to_string()),
        }
    }
}

impl ServerHandler for CodeModeServer {
    fn get_info(&self) -> ServerConfig {
        let catalog = self.codemode.catalog();
        let namespaces = catalog.namespace_summaries(0).len();
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_instructions(fill(
            INSTRUCTIONS,
            &[
                ("tools", catalog.len().to_string()),
                ("namespaces", namespaces.to_string()),
            ],
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let result = match request.name.as_ref() {
            "search_tools" => self.search_tools(parse(arguments)?),
            "describe_tools" => self.describe_tools(parse(arguments)?),
            "execute_code" => self.execute_code(parse(arguments)?, &context).await,
            "run_task" if self.codemode.has_models() => self.run_task(parse(arguments)?, &context).await,
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool `{other}`: this server has search_tools, describe_tools, execute_code"),
                    None,
                ));
            }
        };
        Ok(redacted(result, &self.secrets).into())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        if let Ok(mut peers) = self.peers.lock() {
            peers.retain(|p| !p.is_transport_closed());
            peers.push(context.peer);
        }
    }
}

/// Serves `server` on stdin and stdout until the client disconnects, watching the catalog.
pub async fn serve_stdio(server: CodeModeServer) -> Result<(), ServeError> {
    use rmcp::ServiceExt;
    let watch = server.watch_catalog(Duration::from_secs(1));
    let service = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| ServeError::Transport(e.to_string()))?;
    let ended = service.waiting().await;
    watch.abort();
    ended.map(|_| ()).map_err(|e| ServeError::Transport(e.to_string()))
}

/// The arguments as `T`, or the invalid-params error that says what is wrong.
fn parse<T: serde::de::DeserializeOwned>(arguments: serde_json::Value) -> Result<T, ErrorData> {
    serde_json::from_value(arguments).map_err(|e| ErrorData::invalid_params(format!("invalid arguments: {e}"), None))
}

/// `result` with secrets replaced by `[REDACTED]` in its text and structured content: an
/// upstream error or a program's console may echo a key the server holds.
fn redacted(mut result: CallToolResult, secrets: &[String]) -> CallToolResult {
    use codemode_core::redact::{redact, redact_json};
    for block in &mut result.content {
        if let ContentBlock::Text(text) = block {
            text.text = redact(&text.text, secrets);
        }
    }
    if let Some(value) = &mut result.structured_content {
        redact_json(value, secrets);
    }
    result
}

fn text_result(text: String) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

fn error_result(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// `template` with each `{name}` replaced by its value.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(template.trim().to_string(), |text, (name, value)| {
        text.replace(&format!("{{{name}}}"), value)
    })
}

/// `12.5` as `12.5`, `60.0` as `60`.
fn seconds(s: f64) -> String {
    format!("{s}")
}

/// The namespaces with their tool counts, the largest first, at most [`NAMESPACES_LISTED`].
fn namespace_list(catalog: &ToolCatalog) -> String {
    let mut summaries = catalog.namespace_summaries(0);
    if summaries.is_empty() {
        return "none (no tools are configured)".into();
    }
    summaries.sort_by(|a, b| b.tool_count.cmp(&a.tool_count).then_with(|| a.name.cmp(&b.name)));
    let mut list: Vec<String> = summaries
        .iter()
        .take(NAMESPACES_LISTED)
        .map(|s| format!("{} ({})", s.name, s.tool_count))
        .collect();
    if summaries.len() > NAMESPACES_LISTED {
        list.push(format!("and {} more", summaries.len() - NAMESPACES_LISTED));
    }
    list.join(", ")
}
