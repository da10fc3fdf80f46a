//! Command-line arguments.

use std::path::PathBuf;

use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use codemode::{LIMITS, LimitOverrides};

/// MCP Code Mode: turn MCP tools into a typed TypeScript API, let a model write one program
/// against it, check it, and run it in a sandbox.
#[derive(Debug, Parser)]
#[command(name = "codemode", version, propagate_version = true, max_term_width = 100)]
#[command(
    after_help = "Exit codes: 0 success, 1 the run failed (compile error, runtime error, limit), 2 bad usage or configuration.\nConfiguration keys: docs/configuration.md"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file [default: ./codemode.toml when present]
    #[arg(long, global = true, value_name = "FILE", env = "CODEMODE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Claude Desktop style MCP server file ({"mcpServers": {...}})
    #[arg(long, global = true, value_name = "FILE")]
    pub mcp_config: Option<PathBuf>,
    /// Static catalog: JSON object mapping namespace to a tools/list result; typed and checked, not callable
    #[arg(long, global = true, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Print the report or listing as JSON
    #[arg(long, global = true)]
    pub json: bool,
    /// Cut the printed report's long values (returned value, tool arguments and results,
    /// console) to about this many tokens in all, saying what was cut; 0 prints them whole
    #[arg(long, global = true, value_name = "TOKENS", default_value_t = 4000)]
    pub report_tokens: usize,
    /// Write the spans of the command (run, step, model_call, tool_call) to FILE as JSON lines
    #[arg(long, global = true, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Send the spans to an OpenTelemetry collector (OTLP/HTTP JSON, POST URL/v1/traces)
    /// when the command ends; default OTEL_EXPORTER_OTLP_ENDPOINT when set
    #[cfg(feature = "otlp")]
    #[arg(long, global = true, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp: Option<String>,
    /// Approve every tool call that needs approval (see --approval) without asking
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    #[command(flatten)]
    pub limits: LimitFlags,
    /// Write every prompt and response here (keys and tokens redacted)
    #[arg(long, global = true, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Record every model call to this JSON-lines file (replay it with provider = "replay")
    #[arg(long, global = true, value_name = "FILE")]
    pub record_llm: Option<PathBuf>,
    /// More diagnostics on stderr (-v, -vv); CODEMODE_LOG takes a tracing filter
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline for a request: plan, filter, types, implement, check, execute
    Run {
        /// What you want done, in plain language
        query: String,
    },
    /// Check and run a TypeScript program against the tools (no model needed)
    Exec {
        /// The program file, or - for stdin
        file: PathBuf,
    },
    /// List or inspect the tools
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// Print the TypeScript declarations of the tools
    Types {
        /// Only these tool paths (comma-separated), e.g. chat.send_message,mail.send
        #[arg(long, value_delimiter = ',', value_name = "PATHS")]
        tools: Vec<String>,
    },
    /// Type-check a program; print FILE:LINE:COL: CODE message per diagnostic
    Check {
        /// The program file, or - for stdin
        file: PathBuf,
    },
    /// Show what is configured and found: models, servers, environment, checker
    Doctor,
    #[cfg(feature = "demo")]
    /// Run the seed query through all six steps against the demo MCP server
    ///
    /// Uses live models when OPENROUTER_API_KEY or OPENAI_API_KEY is set, or with
    /// --llm-base-url; otherwise says so and uses a scripted model shipped with the demo.
    Demo {
        #[command(flatten)]
        models: ModelFlags,
        /// Use the scripted model even when a key is set
        #[arg(long)]
        offline: bool,
    },
    #[cfg(feature = "demo")]
    /// Measure the pipeline with real models: tasks against the demo MCP server, each judged
    /// by the workspace it leaves, and the filter's recall on LiveMCPBench
    ///
    /// Models: --replay, else --llm-base-url, else [llm.*] of codemode.toml, else
    /// OPENROUTER_API_KEY / OPENAI_API_KEY. Prints a table and writes a JSON file.
    Eval(Box<EvalArgs>),
    #[cfg(feature = "serve")]
    /// Serve code mode as an MCP server in front of the configured tools: search_tools,
    /// describe_tools, execute_code, and run_task when models are configured
    ///
    /// MCP over stdio by default (what Claude Desktop and Cursor start); --http serves
    /// streamable HTTP at http://ADDR/mcp. Logs go to stderr. docs/serve.md has the client
    /// snippets.
    Serve(ServeArgs),
    #[cfg(feature = "demo")]
    /// Serve the demo MCP server on stdio (used by `codemode demo`)
    #[command(hide = true)]
    DemoServer,
}

#[cfg(feature = "demo")]
/// Which live models to use.
#[derive(Debug, Clone, Args)]
pub struct ModelFlags {
    /// An OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio), e.g. http://localhost:11434/v1
    #[arg(long, value_name = "URL")]
    pub llm_base_url: Option<String>,
    /// Model for the strategy and main roles
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Model for the strategy role [default: --model]
    #[arg(long, value_name = "NAME")]
    pub strategy_model: Option<String>,
    /// Model for the tiny (filter) role
    #[arg(long, value_name = "NAME")]
    pub tiny_model: Option<String>,
}

#[cfg(feature = "demo")]
impl From<ModelFlags> for crate::models::LiveModelArgs {
    fn from(flags: ModelFlags) -> Self {
        Self {
            llm_base_url: flags.llm_base_url,
            model: flags.model,
            strategy_model: flags.strategy_model,
            tiny_model: flags.tiny_model,
        }
    }
}

#[cfg(feature = "demo")]
/// Options of `codemode eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub models: ModelFlags,
    /// Which tasks: `demo` (the demo MCP server), `servers` (real MCP servers from npm and
    /// PyPI on fresh fixtures; `cargo xtask servers` installs them) or `all`
    #[arg(long, value_enum, default_value_t = EvalSuite::Demo)]
    pub suite: EvalSuite,
    /// Only these tasks of the suite (comma-separated ids; `none` for none) [default: all]
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub tasks: Vec<String>,
    /// Where `cargo xtask servers` installed the real servers [default: $CODEMODE_SERVERS_DIR or ~/.cache/codemode/servers]
    #[arg(long, value_name = "DIR")]
    pub servers_dir: Option<PathBuf>,
    /// Also measure the filter's recall on the first N LiveMCPBench dev tasks (527 tools each)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub recall: usize,
    /// With --recall: also write and check a program for each task (its tools come from a
    /// static catalog: typed and checked, never called) and report the gold tools declared
    /// after the check's second chance and those the program calls
    #[arg(long)]
    pub recall_programs: bool,
    /// The LiveMCPBench data (tools.json, tasks_dev.json) [default: $CODEMODE_SHARED_DIR/data/livemcpbench or ../shared/data/livemcpbench]
    #[arg(long, value_name = "DIR")]
    pub livemcpbench: Option<PathBuf>,
    /// Write every model call to this JSON-lines file (replaced), for --replay
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Answer from a recording made with --record instead of live models (offline, seconds)
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// How the tasks are run; several (`--modes pipeline,direct`) run one after the other and
    /// are compared in one table: `pipeline` (code mode's six steps), `agent` (the main model
    /// driving `codemode serve`), `direct` (the main model calling the tools one JSON call at
    /// a time, the classic agent loop)
    #[arg(
        long = "modes",
        visible_alias = "mode",
        value_enum,
        value_delimiter = ',',
        value_name = "MODES",
        default_value = "pipeline"
    )]
    pub modes: Vec<EvalMode>,
    /// Same as `--mode agent`
    #[arg(long, conflicts_with = "modes")]
    pub agent: bool,
    /// How the agent and direct modes offer functions and read calls: `text` (signatures in
    /// the system prompt, calls written as `<tool_call>` JSON, read leniently: for any chat
    /// server, and the format Qwen-style models are trained on) or `native` (OpenAI `tools`
    /// and `tool_calls`, for models and servers with native function calling)
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub function_calls: FunctionCalls,
    /// Learned output types in FILE, used and added to task by task as a user's runs would
    /// [default: none: the eval neither reads nor writes learned types]
    #[arg(long, value_name = "FILE", group = "learned")]
    pub learned_types: Option<PathBuf>,
    /// Learned output types from FILE, used as they are (a warm run that does not change
    /// from task to task)
    #[arg(long, value_name = "FILE", group = "learned")]
    pub learned_types_from: Option<PathBuf>,
    /// Learn output types from every call into FILE without using them (a cold run that
    /// leaves the shapes for a warm one)
    #[arg(long, value_name = "FILE", group = "learned")]
    pub learned_types_to: Option<PathBuf>,
    /// Where to write the results as JSON
    #[arg(long, value_name = "FILE", default_value = "codemode-eval.json")]
    pub output: PathBuf,
}

/// How `codemode eval` runs a task.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalMode {
    /// The pipeline: plan, filter, types, program, check, sandbox.
    Pipeline,
    /// The main model as the agent of `codemode serve` (search_tools, describe_tools, execute_code).
    Agent,
    /// The main model calling the tools themselves, one JSON call at a time (the baseline).
    Direct,
}

#[cfg(feature = "demo")]
impl EvalMode {
    /// The name `--modes` takes and the results use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pipeline => "pipeline",
            Self::Agent => "agent",
            Self::Direct => "direct",
        }
    }
}

/// How `codemode eval`'s agent loops talk functions with the model.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FunctionCalls {
    /// Signatures in the system prompt, calls as `<tool_call>` JSON in the answer's text.
    Text,
    /// The API's own function calling (`tools` in the request, `tool_calls` in the answer).
    Native,
}

/// The task suites of `codemode eval`.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalSuite {
    /// 18 tasks against the demo MCP server, judged by its workspace.
    Demo,
    /// Tasks against six real MCP servers from npm and PyPI, judged by their fixtures.
    Servers,
    /// Both.
    All,
}

#[cfg(feature = "serve")]
/// Options of `codemode serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8931) instead of stdio
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Require `Authorization: Bearer <token>`, the token read from this environment
    /// variable (required when --http binds beyond loopback)
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Also accept this Host header (besides localhost, 127.0.0.1, ::1), e.g. the machine's name
    #[arg(long, value_name = "HOST")]
    pub allowed_host: Vec<String>,
    /// About how many tokens of value, console and tool calls an answer carries; longer ones are cut
    #[arg(long, value_name = "N", default_value_t = codemode::serve::DEFAULT_MAX_RESULT_TOKENS)]
    pub max_result_tokens: usize,
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// List every tool path with its description
    List {
        /// Only this namespace
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
    },
    /// Show one tool: its real name, description, schemas and TypeScript declaration
    Show {
        /// The tool path (namespace.tool), or a unique tool name
        path: String,
    },
    /// Rank the tools for a text with the search index the filter uses, best first
    Search {
        /// What to look for: a request, a plan, keywords
        text: String,
        /// How many tools to show
        #[arg(long, short = 'n', default_value_t = 10, value_name = "N")]
        limit: usize,
    },
    /// Show the output types learned from tool results (tools that declare none), or forget them
    ///
    /// Off by default: [run] learned_types = true (or learned_types_file, or
    /// CODEMODE_LEARNED_TYPES=on|FILE) turns them on. Then every successful call of `run`,
    /// `exec` and `serve` adds to them, and the declarations of a tool with no output schema
    /// use them. Kept in that file, else ~/.cache/codemode/learned-types.json.
    Shapes {
        /// Forget every learned type (removes the file)
        #[arg(long)]
        clear: bool,
    },
    /// Learn output types ahead of the first run: call each read-only tool that needs no
    /// arguments once (readOnlyHint, no required input) and keep the shape of its result
    Learn {
        /// Only this namespace
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
    },
}

/// The run limits as flags: one global flag per row of [`codemode::LIMITS`], so a limit added
/// to that table gets its flag here without a change.
#[derive(Debug, Clone, Default)]
pub struct LimitFlags(pub LimitOverrides);

impl FromArgMatches for LimitFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for limit in LIMITS {
            if let Some(text) = matches.get_one::<String>(limit.name) {
                self.0.set(limit.name, text).map_err(|e| {
                    clap::Error::raw(
                        clap::error::ErrorKind::ValueValidation,
                        format!("invalid value for --{}: {e}", limit.flag),
                    )
                })?;
            }
        }
        Ok(())
    }
}

impl Args for LimitFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let defaults = codemode::RunOptions::default().limit_values();
        defaults.into_iter().fold(cmd, |cmd, (limit, value)| {
            let default = match value.as_str() {
                "unset" => String::new(),
                v => format!(" [default: {v}]"),
            };
            cmd.arg(
                Arg::new(limit.name)
                    .long(limit.flag)
                    .global(true)
                    .value_name(limit.unit)
                    .help_heading("Run limits")
                    .help(format!(
                        "{} ({}){default}",
                        limit.doc.trim().trim_end_matches('.'),
                        limit.name
                    )),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}
