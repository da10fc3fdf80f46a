//! The JSON messages that cross the plugin boundary, as serde types the host and the plugins
//! share. Their JSON Schema (for plugins not written in Rust) is `messages.schema.json` beside
//! this crate's manifest, generated from these types with the `schema` feature
//! (`messages_schema`).
//!
//! Every request to [`PluginVTable::call`](crate::PluginVTable::call) is a [`Request`]; every
//! answer an [`Answer`]. A run environment's tool calls go back to the host as a
//! [`ToolCallRequest`] and are answered with a [`ToolCallAnswer`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a plugin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// Tools (`list_tools`, `call_tool`).
    ToolProvider,
    /// A language model (`complete`).
    Llm,
    /// Runs JavaScript (`execute`), its tool calls through the host.
    RunEnvironment,
}

impl PluginKind {
    /// The name used in descriptions and configurations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ToolProvider => "tool_provider",
            Self::Llm => "llm",
            Self::RunEnvironment => "run_environment",
        }
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `describe()` returns: a static description of the plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Description {
    /// The ABI version the plugin was built for ([`ABI_VERSION`](crate::ABI_VERSION)).
    pub abi_version: u32,
    /// What the plugin is.
    pub kind: PluginKind,
    /// The name configurations load it by.
    pub name: String,
    /// One line for `codemode doctor`.
    #[serde(default)]
    pub description: String,
    /// The plugin's own version.
    #[serde(default)]
    pub plugin_version: String,
}

/// One request to a plugin instance, by its `method`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Request {
    /// A tool provider's tools; answered with a list of [`ToolDescription`].
    ListTools,
    /// Calls one of a tool provider's tools; answered with its result.
    CallTool {
        /// The tool's name, as listed.
        name: String,
        /// Its arguments.
        #[serde(default)]
        arguments: Value,
    },
    /// One completion of a language model; answered with a [`Completion`].
    Complete {
        /// The conversation and what it is for.
        request: CompleteRequest,
    },
    /// Runs a program in a run environment; answered with an [`ExecuteAnswer`].
    Execute(ExecuteRequest),
}

impl Request {
    /// The method's name, for error messages.
    pub fn method(&self) -> &'static str {
        match self {
            Self::ListTools => "list_tools",
            Self::CallTool { .. } => "call_tool",
            Self::Complete { .. } => "complete",
            Self::Execute(_) => "execute",
        }
    }
}

/// A plugin's answer to one request: `{"ok": value}` or `{"error": "message"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// The request's answer (its type depends on the method).
    Ok(Value),
    /// Why the request failed.
    Error(String),
}

/// A tool as MCP describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ToolDescription {
    /// The tool's name (the host turns it into an identifier for the `tools` tree).
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments (an object schema; `{"type": "object"}` when absent).
    #[serde(rename = "inputSchema", default = "object_schema")]
    pub input_schema: Value,
    /// JSON Schema of its result, when it declares one.
    #[serde(rename = "outputSchema", default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// MCP's hints about the tool (`readOnlyHint`, `destructiveHint`, ...); approvals read
    /// them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
}

fn object_schema() -> Value {
    serde_json::json!({"type": "object"})
}

impl ToolDescription {
    /// A tool with a name, a description and an input schema.
    pub fn new(name: impl Into<String>, description: impl Into<String>, input_schema: Value) -> Self {
        Self {
            name: name.into(),
            description: Some(description.into()),
            input_schema,
            output_schema: None,
            annotations: None,
        }
    }
}

/// Who wrote a message of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    /// Instructions.
    System,
    /// The request, or what the host says back.
    User,
    /// The model.
    Assistant,
    /// A function's result (native function calling), answering `call_id`.
    Tool,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Message {
    /// Who wrote it.
    pub role: MessageRole,
    /// Its text.
    pub content: String,
    /// The functions an assistant message called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<FunctionCall>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

/// A function the model may call (native function calling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Function {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Value,
}

/// A function the model called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FunctionCall {
    /// The call's id (a `tool` message answers it).
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The arguments, as a JSON text.
    pub arguments: String,
}

/// The `complete` request: the conversation and what it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CompleteRequest {
    /// Which model of the pipeline asks: `strategy`, `tiny` or `main`.
    pub role: String,
    /// Which step: `plan`, `filter`, `implement`, ...
    pub step: String,
    /// The conversation, oldest first.
    pub messages: Vec<Message>,
    /// At most this many tokens in the answer.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// `varied` when the host wants an answer other than the likeliest one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<String>,
    /// Functions offered for native function calling; a plugin that does not support it
    /// answers with text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<Function>,
}

/// Tokens a completion used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Usage {
    /// Tokens of the prompt.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    #[serde(default)]
    pub completion_tokens: u64,
}

/// The answer to `complete`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Completion {
    /// The model's text.
    pub text: String,
    /// Tokens used, when the model counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// True when the answer stopped at `max_output_tokens`.
    #[serde(default)]
    pub truncated: bool,
    /// The functions the model called, when functions were offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<FunctionCall>,
}

impl Completion {
    /// An answer of text only.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// The limits of one `execute`; the host enforces `total_timeout_ms` and the tool-call
/// limits too, the plugin the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExecuteLimits {
    /// Wall-clock time for the whole program.
    pub total_timeout_ms: u64,
    /// CPU time the program may spend computing.
    pub cpu_time_ms: u64,
    /// Memory the program may use.
    pub memory_limit_bytes: u64,
    /// Console output kept.
    pub max_console_bytes: u64,
    /// Size of the returned value.
    pub max_value_bytes: u64,
}

/// The `execute` request: a program and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExecuteRequest {
    /// The program, already JavaScript (an async function body: `await` and `return` work).
    pub javascript: String,
    /// Every tool path the program may call as `tools.a.b(...)`.
    #[serde(default)]
    pub tool_paths: Vec<String>,
    /// Its limits.
    #[serde(default)]
    pub limits: ExecuteLimits,
}

/// How a program failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// It threw.
    Runtime,
    /// It ran out of time.
    Timeout,
    /// It made too many tool calls.
    ToolCallLimit,
    /// It used too much memory.
    MemoryLimit,
    /// A tool call failed and the program did not handle it.
    Tool,
    /// The environment itself failed.
    Environment,
}

/// A failed program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExecuteFailure {
    /// How it failed.
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
    /// The JavaScript line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The JavaScript column, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

/// How a program ended: its value, or its failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecuteEnd {
    /// What it returned.
    Value(Value),
    /// How it failed.
    Failure(ExecuteFailure),
}

/// The answer to `execute`: `{"value": ..., "console": [...]}` or `{"failure": {...},
/// "console": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExecuteAnswer {
    /// How it ended.
    #[serde(flatten)]
    pub end: ExecuteEnd,
    /// What it printed, line by line (a line that is not a string is read as its JSON text).
    #[serde(default, deserialize_with = "lines")]
    pub console: Vec<String>,
}

fn lines<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let values = Vec::<Value>::deserialize(deserializer)?;
    Ok(values
        .into_iter()
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect())
}

/// A program's tool call, from a run environment to the host (`HostCallbacks::call_tool`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ToolCallRequest {
    /// The tool's path, `namespace.tool`.
    pub path: String,
    /// Its arguments.
    #[serde(default)]
    pub arguments: Value,
}

/// The host's answer to a tool call: `{"ok": value}` or `{"error": "message", "ends_run":
/// bool}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum ToolCallAnswer {
    /// The tool's result.
    Ok {
        /// The result.
        ok: Value,
    },
    /// The call failed.
    Error {
        /// The bridge's message (what the program's `catch` sees).
        error: String,
        /// True when the run must stop (the tool-call limit was reached).
        #[serde(default)]
        ends_run: bool,
    },
}

/// The JSON Schema of every message: one definition per type under `$defs`, referring to
/// each other (what `messages.schema.json` holds).
#[cfg(feature = "schema")]
pub fn messages_schema() -> Value {
    let mut generator = schemars::SchemaGenerator::default();
    macro_rules! define {
        ($($t:ty),*) => {$(
            let _ = generator.subschema_for::<$t>();
        )*};
    }
    define!(
        Description,
        Request,
        Answer,
        ToolDescription,
        Completion,
        ExecuteAnswer,
        ToolCallRequest,
        ToolCallAnswer
    );
    let definitions = generator.take_definitions(true);
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "codemode plugin messages",
        "description": format!(
            "The JSON messages of codemode's plugin C ABI, version {}: requests to a plugin (Request) and its answers (Answer; the ok value of list_tools is a list of ToolDescription, of complete a Completion, of execute an ExecuteAnswer), the description describe() returns, and a run environment's tool calls to the host (ToolCallRequest, ToolCallAnswer).",
            crate::ABI_VERSION
        ),
        "$defs": definitions,
    })
}
