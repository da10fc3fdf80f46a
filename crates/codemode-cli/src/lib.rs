//! `codemode`: MCP Code Mode from the command line, as a library.
//!
//! The `codemode` binary is one line, [`main`]; a custom binary (what `cargo xtask dist`
//! assembles) is the same line with other Cargo features or more plugin crates linked, and
//! keeps every subcommand. What a build can use is read from the registry
//! ([`codemode::registry`]) at run time: `codemode doctor` lists it.
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     codemode_cli::main()
//! }
//! ```
//!
//! Features mirror the facade's (`env-local`, `mcp`, `openai`, `openrouter`, `composio`,
//! `pipedream`, `e2b`, `plugins`, `serve`), plus `demo` (`codemode demo`, `codemode eval`:
//! the demo MCP server and the scripted model of the offline demo) and `otlp` (`--otlp`).

mod approve;
mod cli;
mod commands;
#[cfg(feature = "demo")]
mod demo;
#[cfg(feature = "demo")]
mod eval;
mod learned;
mod models;
mod output;
#[cfg(feature = "serve")]
mod serve;
mod setup;
mod tools;
mod trace;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::Layer;

/// Exit code when the run failed (compile error, runtime error, limit, ...).
const EXIT_RUN_FAILED: u8 = 1;
/// Exit code for bad usage or configuration.
const EXIT_USAGE: u8 = 2;

/// What a command ended with.
pub(crate) enum Outcome {
    /// Everything worked.
    Success,
    /// The command ran, and what it ran failed.
    Failed,
}

/// An error of usage or configuration (exit code 2), as opposed to an internal failure.
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Runs the `codemode` command line: parses the arguments, runs the subcommand, and returns
/// the exit code (0 success, 1 the run failed, 2 usage or configuration).
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    #[cfg(feature = "otlp")]
    let otlp = cli.global.otlp.clone().filter(|u| !u.trim().is_empty());
    #[cfg(not(feature = "otlp"))]
    let otlp = None;
    let traces = match trace::Traces::new(cli.global.trace.as_deref(), otlp) {
        Ok(traces) => traces,
        Err(e) => {
            eprintln!("error: --trace: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing(cli.global.verbose, &traces);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = runtime.block_on(commands::dispatch(cli));
    #[cfg(feature = "otlp")]
    if let Err(e) = runtime.block_on(traces.export()) {
        eprintln!("warning: the trace was not exported: {e:#}");
    }
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(EXIT_RUN_FAILED),
        Err(e) => {
            let code = if e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<codemode::CodeModeError>().is_some_and(|c| {
                    matches!(
                        c,
                        codemode::CodeModeError::Config(_)
                            | codemode::CodeModeError::Missing(_)
                            | codemode::CodeModeError::UnknownFactory { .. }
                            | codemode::CodeModeError::Factory { .. }
                            | codemode::CodeModeError::Io { .. }
                    )
                }) {
                EXIT_USAGE
            } else {
                EXIT_RUN_FAILED
            };
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

/// Whether log lines on stderr carry ANSI colour codes.
fn log_colours(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

fn init_tracing(verbose: u8, traces: &trace::Traces) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let default = match verbose {
        0 => "warn",
        1 => "info,codemode=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CODEMODE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Each layer has its own filter: the log on stderr shows warnings by default, while the
    // trace (when asked for) records every span of codemode's.
    // Colours only for a person at a terminal: a log piped to a file or another program
    // (CI, an agent reading `codemode serve`'s stderr) gets plain text; NO_COLOR is honoured.
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(log_colours(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .with_filter(filter);
    let traced = traces.enabled().then(|| traces.layer());
    let _ = tracing_subscriber::registry().with(log).with(traced).try_init();
}
