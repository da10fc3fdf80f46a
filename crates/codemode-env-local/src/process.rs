//! The subprocess environment: Node.js, or Deno when installed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use codemode_traits::registry::{FactoryContext, RunEnvironmentFactory};
use codemode_traits::{
    CodeModeError, ExecutionRequest, FailureKind, RunEnvironment, RunFailure, RunOutcome, ToolBridge,
};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::console::ConsoleCapture as Session;
use crate::runner::{self, DriveEnd, StderrTail};

/// Why the environment could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// Node.js was not found.
    #[error("Node.js was not found: install Node.js 20 or newer, or set CODEMODE_NODE to its path")]
    NodeNotFound,
    /// Deno was not found.
    #[error(
        "Deno was not found: install Deno 2 (https://deno.com, or `npm install deno`), or set CODEMODE_DENO to its path"
    )]
    DenoNotFound,
    /// The program at the path is not a usable Node.js or Deno.
    #[error("`{path}` is not a usable JavaScript runtime: {message}")]
    BadNode {
        /// The path tried.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Which JavaScript runtime the subprocess is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessRuntime {
    /// Node.js (20 or newer), with its permission model.
    Node,
    /// Deno 2, with no permissions but reading its own working directory.
    Deno,
}

/// Runs programs in a fresh Node.js or Deno subprocess each time.
#[derive(Debug, Clone)]
pub struct ProcessEnvironment {
    /// The Node.js or Deno binary.
    exe: PathBuf,
    major: u32,
    runtime: ProcessRuntime,
}

impl ProcessEnvironment {
    /// Finds Deno: `CODEMODE_DENO`, then `deno` on `PATH`.
    pub fn deno() -> Result<Self, EnvError> {
        let path = match std::env::var_os("CODEMODE_DENO") {
            Some(p) => PathBuf::from(p),
            None => find_on_path("deno").ok_or(EnvError::DenoNotFound)?,
        };
        Self::with_deno(path)
    }

    /// Uses the Deno at `path` (version 2 or newer). The npm package's wrapper script
    /// (`node_modules/.bin/deno`) is resolved to the binary it runs.
    pub fn with_deno(path: impl Into<PathBuf>) -> Result<Self, EnvError> {
        let given = path.into();
        Self::checked(native_deno(&given).unwrap_or(given), ProcessRuntime::Deno)
    }

    /// Which runtime this environment starts.
    pub fn runtime(&self) -> ProcessRuntime {
        self.runtime
    }

    /// Finds Node.js: `CODEMODE_NODE`, then `node` on `PATH`.
    pub fn node() -> Result<Self, EnvError> {
        let path = match std::env::var_os("CODEMODE_NODE") {
            Some(p) => PathBuf::from(p),
            None => find_on_path("node").ok_or(EnvError::NodeNotFound)?,
        };
        Self::with_node(path)
    }

    /// Uses the Node.js at `path` (its version is checked: 20 or newer).
    pub fn with_node(path: impl Into<PathBuf>) -> Result<Self, EnvError> {
        Self::checked(path.into(), ProcessRuntime::Node)
    }

    /// Runs `exe --version` and checks it is `runtime` at its minimum major version
    /// (`v22.1.0` for Node.js, `deno 2.9.6 (...)` for Deno).
    fn checked(exe: PathBuf, runtime: ProcessRuntime) -> Result<Self, EnvError> {
        let (name, prefix, minimum) = match runtime {
            ProcessRuntime::Node => ("Node.js", "v", 20),
            ProcessRuntime::Deno => ("Deno", "deno ", 2),
        };
        let bad = |message: String| EnvError::BadNode {
            path: exe.clone(),
            message,
        };
        let output = std::process::Command::new(&exe)
            .arg("--version")
            .output()
            .map_err(|e| bad(e.to_string()))?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let version = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix(prefix))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| bad(format!("not {name}: `--version` printed `{text}`")))?;
        if major < minimum {
            return Err(bad(format!(
                "{name} {version} is too old; {minimum} or newer is needed"
            )));
        }
        Ok(Self { exe, major, runtime })
    }

    /// The child for one run: the runtime's own isolation flags, then what both share (an
    /// empty environment, the throwaway directory, piped stdio, killed when dropped).
    fn command(&self, dir: &Path, memory_mb: u64) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.env_clear();
        match self.runtime {
            ProcessRuntime::Node => {
                cmd.arg(format!("--max-old-space-size={memory_mb}"))
                    .arg("--disallow-code-generation-from-strings");
                if self.major >= 22 {
                    cmd.arg("--permission")
                        .arg(format!("--allow-fs-read={}", dir.display()));
                } else {
                    cmd.arg("--experimental-permission")
                        .arg("--no-warnings")
                        .arg(format!("--allow-fs-read={}/*", dir.display()));
                }
            }
            ProcessRuntime::Deno => {
                // No permissions but reading the run's directory (the runner and the
                // program), no prompts, no remote or npm modules, no config or lock file.
                cmd.args([
                    "run",
                    "--no-prompt",
                    "--no-config",
                    "--no-lock",
                    "--no-remote",
                    "--no-npm",
                    "--quiet",
                ])
                .arg(format!("--allow-read={}", dir.display()))
                .arg(format!(
                    "--v8-flags=--max-old-space-size={memory_mb},--disallow-code-generation-from-strings"
                ))
                // Deno's own cache goes to the throwaway directory; the program cannot
                // read variables (no --allow-env).
                .env("DENO_DIR", dir.join(".deno"))
                .env("DENO_NO_UPDATE_CHECK", "1")
                .env("NO_COLOR", "1");
            }
        }
        cmd.arg(dir.join("runner.mjs"))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

/// For the npm package's wrapper (`node_modules/.bin/deno` -> `deno/bin.cjs`), the binary
/// of the platform package next to it.
fn native_deno(path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    let head = std::fs::read(&real).ok()?;
    if !head.starts_with(b"#!") {
        return None;
    }
    let node_modules = real.parent()?.parent()?;
    let platform = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "linux-x64-glibc",
        ("linux", "aarch64") => "linux-arm64-glibc",
        ("macos", "x86_64") => "darwin-x64",
        ("macos", "aarch64") => "darwin-arm64",
        _ => return None,
    };
    let native = node_modules.join("@deno").join(platform).join("deno");
    native.is_file().then_some(native)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[async_trait]
impl RunEnvironment for ProcessEnvironment {
    fn name(&self) -> &str {
        match self.runtime {
            ProcessRuntime::Node => "node",
            ProcessRuntime::Deno => "deno",
        }
    }

    async fn execute(&self, request: ExecutionRequest, bridge: Arc<dyn ToolBridge>) -> RunOutcome {
        let limits = request.limits;
        let mut session = Session::new(limits.max_console_bytes);
        let result = self.run(request, bridge, &mut session).await;
        RunOutcome {
            result,
            console: session.into_lines(),
        }
    }
}

impl ProcessEnvironment {
    async fn run(
        &self,
        request: ExecutionRequest,
        bridge: Arc<dyn ToolBridge>,
        session: &mut Session,
    ) -> Result<Value, RunFailure> {
        let limits = request.limits;
        let deadline = tokio::time::Instant::now() + limits.total_timeout;
        let env_failure =
            |what: &str, e: std::io::Error| RunFailure::new(FailureKind::Environment, format!("{what}: {e}"));
        let dir = tempfile::Builder::new()
            .prefix("codemode-run-")
            .tempdir()
            .map_err(|e| env_failure("cannot create a working directory", e))?;
        std::fs::write(dir.path().join("runner.mjs"), runner::RUNNER_JS)
            .map_err(|e| env_failure("cannot write the runner", e))?;
        std::fs::write(
            dir.path().join("program.mjs"),
            runner::program_module(&request.javascript),
        )
        .map_err(|e| env_failure("cannot write the program", e))?;
        let memory_mb = runner::heap_limit_mb(&limits);
        let mut child = self
            .command(dir.path(), memory_mb)
            .spawn()
            .map_err(|e| env_failure(&format!("cannot start {}", self.exe.display()), e))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(RunFailure::new(
                FailureKind::Environment,
                "the child process has no stdio pipes",
            ));
        };
        let stderr_tail = Arc::new(Mutex::new(StderrTail::default()));
        let stderr_task = tokio::spawn(collect_tail(stderr, stderr_tail.clone()));
        // The CPU budget is checked by polling the child's CPU time (Linux /proc).
        let pid = child.id();
        let cpu_time = move || pid.and_then(process_cpu_time);
        let driven = runner::drive(
            BufReader::new(stdout),
            &mut stdin,
            bridge,
            limits,
            deadline,
            session,
            Some(&cpu_time),
        )
        .await;
        let outcome = match driven {
            Ok(value) => Ok(value),
            Err(DriveEnd::Failed(failure)) => Err(failure),
            Err(DriveEnd::OutputClosed) => Err(self.exit_failure(&mut child, &stderr_tail, stderr_task).await),
        };
        let _ = child.start_kill();
        let _ = child.wait().await;
        outcome
    }

    async fn exit_failure(
        &self,
        child: &mut Child,
        stderr_tail: &Mutex<StderrTail>,
        stderr_task: tokio::task::JoinHandle<()>,
    ) -> RunFailure {
        let status = child.wait().await;
        let _ = stderr_task.await;
        let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
        match stderr_tail.lock() {
            Ok(tail) => runner::exit_failure(self.name(), &status, &tail),
            Err(_) => runner::exit_failure(self.name(), &status, &StderrTail::default()),
        }
    }
}

/// CPU time (user + system, all threads) of a process, from `/proc/PID/stat` (Linux).
fn process_cpu_time(pid: u32) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) end with ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux ABI.
    Some(std::time::Duration::from_millis(ticks * 10))
}

async fn collect_tail(mut stderr: impl AsyncRead + Unpin, tail: Arc<Mutex<StderrTail>>) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        if let Ok(mut t) = tail.lock() {
            t.push(&chunk[..n]);
        }
    }
}

fn create_deno(context: &FactoryContext) -> Result<Arc<dyn RunEnvironment>, CodeModeError> {
    let env = match context.str_setting("deno_path") {
        Some(path) => ProcessEnvironment::with_deno(path),
        None => ProcessEnvironment::deno(),
    };
    env.map(|e| Arc::new(e) as Arc<dyn RunEnvironment>)
        .map_err(|e| CodeModeError::factory("run environment", "deno", e))
}

inventory::submit! {
    RunEnvironmentFactory {
        name: "deno",
        description: "a Deno 2 subprocess per run: no permissions but its own directory, empty environment",
        create: create_deno,
    }
}

fn create_node(context: &FactoryContext) -> Result<Arc<dyn RunEnvironment>, CodeModeError> {
    let env = match context.str_setting("node_path") {
        Some(path) => ProcessEnvironment::with_node(path),
        None => ProcessEnvironment::node(),
    }
    .map_err(|e| CodeModeError::factory("run environment", "node", e))?;
    Ok(Arc::new(env))
}

inventory::submit! {
    RunEnvironmentFactory {
        name: "node",
        description: "a fresh Node.js subprocess per run (JSON-lines bridge, host-enforced limits)",
        create: create_node,
    }
}
