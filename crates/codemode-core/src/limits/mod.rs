//! The run limits, defined once.
//!
//! `run_limits!` is the only list of limits. From it come the fields, defaults, setters
//! and validation of [`RunOptions`], the keys of `[run]` in
//! `codemode.toml` ([`RunSection`]), the overrides a command line
//! gives ([`LimitOverrides`], one flag per [`LIMITS`] row) and the table `codemode doctor`
//! prints. Adding a limit is one entry here.

mod options;

use std::fmt::Display;

/// One run limit: what the table says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSpec {
    /// The key in `RunOptions`, in `[run]` and in reports (`max_tool_calls`).
    pub name: &'static str,
    /// The command-line flag without its dashes (`max-tool-calls`).
    pub flag: &'static str,
    /// What the value means, in one line.
    pub doc: &'static str,
    /// The default, as it is written in the table.
    pub default: &'static str,
    /// The kind of value (`N`, `SECS`, `MIB`), for help texts.
    pub unit: &'static str,
}

/// A value a limit can hold: parsed from a flag, shown by `doctor`.
pub trait LimitValue: Sized {
    /// Parses the text of a command-line flag.
    fn parse_limit(text: &str) -> Result<Self, String>;
    /// The value as `doctor` shows it.
    fn show_limit(&self) -> String;
}

macro_rules! integer_limit {
    ($($t:ty),*) => {$(
        impl LimitValue for $t {
            fn parse_limit(text: &str) -> Result<Self, String> {
                text.trim()
                    .parse()
                    .map_err(|_| format!("expected a whole number, got `{text}`"))
            }
            fn show_limit(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
integer_limit!(u32, u64, usize);

impl LimitValue for f64 {
    fn parse_limit(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("expected a number of seconds, got `{text}`"))
    }
    fn show_limit(&self) -> String {
        format!("{self}s")
    }
}

impl LimitValue for Option<f64> {
    fn parse_limit(text: &str) -> Result<Self, String> {
        f64::parse_limit(text).map(Some)
    }
    fn show_limit(&self) -> String {
        self.map_or_else(|| "unset".to_string(), |v| v.show_limit())
    }
}

/// When a program that failed at run time may be run again after a runtime repair, and how
/// the calls the failed attempt made are treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RerunPolicy {
    /// Always, without repeating a call: a call the repaired program makes with the same
    /// tool and arguments as a successful call of an earlier attempt is answered from that
    /// call's record (each record once); other calls are made. Most real MCP tools carry no
    /// annotations, so `read_only` refused almost every repair.
    #[default]
    Replay,
    /// Only when every call it made was to a tool annotated `readOnlyHint: true` (a tool
    /// without the annotation counts as not read-only); the calls are made again.
    ReadOnly,
    /// Whatever it called.
    Always,
    /// Never: a runtime error ends the run.
    Never,
}

impl RerunPolicy {
    /// The name used in `[run]` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RerunPolicy::Replay => "replay",
            RerunPolicy::ReadOnly => "read_only",
            RerunPolicy::Always => "always",
            RerunPolicy::Never => "never",
        }
    }
}

impl LimitValue for RerunPolicy {
    fn parse_limit(text: &str) -> Result<Self, String> {
        match text.trim() {
            "replay" => Ok(RerunPolicy::Replay),
            "read_only" => Ok(RerunPolicy::ReadOnly),
            "always" => Ok(RerunPolicy::Always),
            "never" => Ok(RerunPolicy::Never),
            other => Err(format!("expected replay, read_only, always or never, got `{other}`")),
        }
    }
    fn show_limit(&self) -> String {
        self.as_str().to_string()
    }
}

/// Which tool calls need a decision before they run (see [`crate::approval`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// No call needs approval.
    Never,
    /// Calls of tools annotated `destructiveHint: true` (and not `readOnlyHint: true`).
    #[default]
    Destructive,
    /// Every call.
    All,
}

impl ApprovalPolicy {
    /// The name used in `[run]` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalPolicy::Never => "never",
            ApprovalPolicy::Destructive => "destructive",
            ApprovalPolicy::All => "all",
        }
    }
}

impl LimitValue for ApprovalPolicy {
    fn parse_limit(text: &str) -> Result<Self, String> {
        match text.trim() {
            "never" => Ok(ApprovalPolicy::Never),
            "destructive" => Ok(ApprovalPolicy::Destructive),
            "all" => Ok(ApprovalPolicy::All),
            other => Err(format!("expected never, destructive or all, got `{other}`")),
        }
    }
    fn show_limit(&self) -> String {
        self.as_str().to_string()
    }
}

/// How the filter step picks the tools a request needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterMode {
    /// The tiny model sees every tool of the catalog, in batches of `max_tools_per_prompt`.
    Llm,
    /// No model: the catalog's search index keeps the best `retrieval_candidates` tools for
    /// the request and the plan.
    Retrieval,
    /// The search index keeps the best `retrieval_candidates` tools, and the tiny model picks
    /// among those in batches. A catalog of at most `retrieval_candidates` tools goes to the
    /// tiny model whole, as in `llm`.
    #[default]
    Hybrid,
}

impl FilterMode {
    /// The name used in `[run]` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterMode::Llm => "llm",
            FilterMode::Retrieval => "retrieval",
            FilterMode::Hybrid => "hybrid",
        }
    }
}

impl LimitValue for FilterMode {
    fn parse_limit(text: &str) -> Result<Self, String> {
        match text.trim() {
            "llm" => Ok(FilterMode::Llm),
            "retrieval" => Ok(FilterMode::Retrieval),
            "hybrid" => Ok(FilterMode::Hybrid),
            other => Err(format!("expected llm, retrieval or hybrid, got `{other}`")),
        }
    }
    fn show_limit(&self) -> String {
        self.as_str().to_string()
    }
}

impl LimitValue for bool {
    fn parse_limit(text: &str) -> Result<Self, String> {
        match text.trim() {
            "true" | "yes" | "on" => Ok(true),
            "false" | "no" | "off" => Ok(false),
            other => Err(format!("expected true or false, got `{other}`")),
        }
    }
    fn show_limit(&self) -> String {
        self.to_string()
    }
}

/// What a setter of [`RunOptions`] accepts for a limit of type `T`: the
/// value itself, or a plain number for an optional one (`cpu_time_limit(5.0)`).
pub trait IntoLimit<T> {
    /// The limit's value.
    fn into_limit(self) -> T;
}

impl<T> IntoLimit<T> for T {
    fn into_limit(self) -> T {
        self
    }
}

impl IntoLimit<Option<f64>> for f64 {
    fn into_limit(self) -> Option<f64> {
        Some(self)
    }
}

fn positive_seconds(v: &f64) -> Result<(), String> {
    if v.is_finite() && *v > 0.0 {
        Ok(())
    } else {
        Err(format!("must be a positive number of seconds, got {v}"))
    }
}

fn optional_positive_seconds(v: &Option<f64>) -> Result<(), String> {
    v.as_ref().map_or(Ok(()), positive_seconds)
}

fn at_least<T: PartialOrd + Display + From<u8>>(min: u8) -> impl Fn(&T) -> Result<(), String> {
    move |v| {
        if *v >= T::from(min) {
            Ok(())
        } else {
            Err(format!("must be at least {min}, got {v}"))
        }
    }
}

fn any<T>(_: &T) -> Result<(), String> {
    Ok(())
}

macro_rules! run_limits {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $ty:ty = $default:expr, flag $flag:literal, unit $unit:literal, check $check:expr;
    )+) => {
        /// Every run limit, in the order of the table.
        pub const LIMITS: &[LimitSpec] = &[$(
            LimitSpec {
                name: stringify!($name),
                flag: $flag,
                doc: concat!($($doc),+),
                default: stringify!($default),
                unit: $unit,
            },
        )+];

        /// The query and limits of a run. Times are in seconds, as in the configuration file.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct RunOptions {
            /// What the user asked.
            pub query: String,
            $(
                $(#[doc = $doc])+
                pub $name: $ty,
            )+
            /// Where to write every prompt and response (API keys and tokens redacted).
            pub log_dir: Option<std::path::PathBuf>,
        }

        impl Default for RunOptions {
            fn default() -> Self {
                Self {
                    query: String::new(),
                    $($name: $default,)+
                    log_dir: None,
                }
            }
        }

        impl RunOptions {
            $(
                #[doc = concat!("Sets `", stringify!($name), "`.")]
                pub fn $name(mut self, value: impl IntoLimit<$ty>) -> Self {
                    self.$name = value.into_limit();
                    self
                }
            )+

            /// Checks that every limit is usable; the message names the limit to fix.
            pub fn validate(&self) -> Result<(), String> {
                $(
                    ($check)(&self.$name).map_err(|m| format!("{} {m}", stringify!($name)))?;
                )+
                Ok(())
            }

            /// Every limit with its value as `doctor` shows it, in the order of [`LIMITS`].
            pub fn limit_values(&self) -> Vec<(&'static LimitSpec, String)> {
                let values = [$(self.$name.show_limit()),+];
                LIMITS.iter().zip(values).collect()
            }
        }

        /// Limits to change, each unset by default: the command line's flags.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct LimitOverrides {
            $(
                $(#[doc = $doc])+
                pub $name: Option<$ty>,
            )+
        }

        impl LimitOverrides {
            /// Sets the limit `name` (a [`LIMITS`] name) from text.
            pub fn set(&mut self, name: &str, text: &str) -> Result<(), String> {
                match name {
                    $(stringify!($name) => {
                        self.$name = Some(<$ty as LimitValue>::parse_limit(text)?);
                    })+
                    other => return Err(format!("no run limit is named `{other}`")),
                }
                Ok(())
            }

            /// Writes the limits set here into `options`.
            pub fn apply(&self, options: &mut RunOptions) {
                $(
                    if let Some(v) = &self.$name {
                        options.$name = v.clone();
                    }
                )+
            }
        }

        /// The `[run]` table: environment, checker, prompt logs and the limits. Unset limits
        /// keep their defaults.
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RunSection {
            /// Registered run environment name (`wasm` by default; `node` for a Node.js subprocess).
            pub environment: Option<String>,
            /// A registered type checker (`tsc`, `builtin`), or `auto` (default: TypeScript 7
            /// when found, else the built-in checker).
            pub type_checker: Option<String>,
            /// Path of the TypeScript 7 `tsc` (else `CODEMODE_TSC`, `./node_modules/.bin/tsc`, `PATH`).
            pub tsc_path: Option<std::path::PathBuf>,
            /// Where to write prompt logs.
            pub log_dir: Option<std::path::PathBuf>,
            /// Whether output types are learned from tool results and given to tools that
            /// declare none (default false; setting `learned_types_file` turns them on).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub learned_types: Option<bool>,
            /// Where learned output types are kept (default `learned-types.json` in the
            /// cache directory: `$CODEMODE_CACHE_DIR`, `$XDG_CACHE_HOME/codemode` or
            /// `~/.cache/codemode`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub learned_types_file: Option<std::path::PathBuf>,
            $(
                $(#[doc = $doc])+
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<$ty>,
            )+
        }

        impl RunSection {
            /// The limits this table sets.
            pub fn limits(&self) -> LimitOverrides {
                LimitOverrides { $($name: self.$name.clone(),)+ }
            }

            /// Applies the limits and the log folder set here to `options`.
            pub fn apply(&self, options: &mut RunOptions) {
                self.limits().apply(options);
                if let Some(v) = &self.log_dir {
                    options.log_dir = Some(v.clone());
                }
            }
        }
    };
}

run_limits! {
    /// Most tool calls one program may make.
    max_tool_calls: usize = 100, flag "max-tool-calls", unit "N", check any;
    /// Wall-clock limit for executing the program, in seconds.
    total_execution_timeout: f64 = 60.0, flag "timeout", unit "SECS", check positive_seconds;
    /// Limit for each tool call, in seconds.
    tool_call_timeout: f64 = 30.0, flag "tool-timeout", unit "SECS", check positive_seconds;
    /// Seconds of computing the program may use; waiting for tool calls is not charged.
    /// Unset: the same as `total_execution_timeout`.
    cpu_time_limit: Option<f64> = None, flag "cpu-time", unit "SECS", check optional_positive_seconds;
    /// Most repair rounds after failed type checks (per program the model writes).
    max_repairs: u32 = 2, flag "max-repairs", unit "N", check any;
    /// Most times a program that failed at run time goes back to the main model for a new one.
    max_runtime_repairs: u32 = 1, flag "max-runtime-repairs", unit "N", check any;
    /// When a program that failed at run time may run again: replay (its successful calls
    /// are answered from their record, not made again), read_only, always or never.
    rerun_policy: RerunPolicy = RerunPolicy::Replay, flag "rerun-policy", unit "POLICY", check any;
    /// Which tool calls need approval before they run: never, destructive (tools annotated
    /// `destructiveHint: true`) or all.
    approval: ApprovalPolicy = ApprovalPolicy::Destructive, flag "approval", unit "POLICY", check any;
    /// Tools shown to the tiny model per filter prompt.
    max_tools_per_prompt: usize = 20, flag "max-tools-per-prompt", unit "N", check at_least(1);
    /// How the filter picks tools: llm (the tiny model sees every tool), retrieval (the
    /// search index alone, no model) or hybrid (the index keeps `retrieval_candidates`, the
    /// tiny model picks among them).
    filter_mode: FilterMode = FilterMode::Hybrid, flag "filter-mode", unit "MODE", check any;
    /// Tools the search index keeps (catalogs larger than this): all but the last
    /// `max_tools_per_prompt` are kept and the tiny model judges the rest (hybrid), or all
    /// are the selection (retrieval).
    retrieval_candidates: usize = 50, flag "retrieval-candidates", unit "N", check at_least(1);
    /// Tools the search index ranks best for the request and the plan that are kept whatever
    /// the tiny model answers (hybrid): a small tiny model drops tools a task needs. 0: the
    /// tiny model's answer alone.
    retrieval_keep: usize = 3, flag "retrieval-keep", unit "N", check any;
    /// Whether the strategy model writes search keywords for the request (the kind of tools
    /// it needs, in words their descriptions use) before the search over a catalog larger
    /// than `retrieval_candidates`: one short model call that finds tools sharing no word
    /// with the request.
    search_keywords: bool = true, flag "search-keywords", unit "BOOL", check any;
    /// Whether filter prompts show tool descriptions; false lists names and parameters only.
    include_descriptions_in_filter: bool = true, flag "include-descriptions-in-filter", unit "BOOL", check any;
    /// Filter prompts in flight at once.
    max_concurrent_threads: usize = 5, flag "max-concurrent-threads", unit "N", check at_least(1);
    /// Memory cap for the program, in MiB.
    memory_limit_mb: u64 = 256, flag "memory-limit-mb", unit "MIB", check at_least(16);
}

#[cfg(test)]
mod tests;
