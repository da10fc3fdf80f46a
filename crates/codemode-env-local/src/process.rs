//! The subprocess environment: Node.js, or Deno when installed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use codemode_core::registry::RunEnvironmentFactory;
use codemode_core::{
    BridgeError, CodeModeError, ExecutionRequest, FailureKind, RunEnvironment, RunFailure, RunOutcome, ToolBridge,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::console::ConsoleCapture as Session;
use crate::protocol::{HostMessage, RunnerMessage};

const RUNNER_JS: &str = include_str!("../js/runner.mjs");
/// How often the child's CPU time is checked against the budget.
const CPU_POLL: std::time::Duration = std::time::Duration::from_millis(20);
/// Bytes of the child's stderr kept for error messages.
const STDERR_TAIL: usize = 4096;

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

    /// The runtime's major version (Node.js or Deno).
    pub fn node_major_version(&self) -> u32 {
        self.major
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
        std::fs::write(dir.path().join("runner.mjs"), RUNNER_JS)
            .map_err(|e| env_failure("cannot write the runner", e))?;
        let program = format!(
            "export default async function (tools, console) {{\n{}\n}}\n",
            request.javascript
        );
        std::fs::write(dir.path().join("program.mjs"), program)
            .map_err(|e| env_failure("cannot write the program", e))?;
        let memory_mb = (limits.memory_limit_bytes / (1024 * 1024)).max(16);
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
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        let stderr_task = tokio::spawn(collect_tail(stderr, stderr_tail.clone()));
        let paths = bridge.tool_paths();
        if let Err(e) = write_message(&mut stdin, &HostMessage::Start { paths: &paths }).await {
            let _ = child.kill().await;
            return Err(env_failure("cannot talk to the runner", e));
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Result<Value, BridgeError>)>();
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        let pid = child.id();
        // The CPU budget is checked by polling the child's CPU time (Linux /proc); only a
        // budget below the wall clock can run out first.
        let watch_cpu = limits.cpu_time < limits.total_timeout && pid.is_some_and(|p| process_cpu_time(p).is_some());
        let mut cpu_tick = tokio::time::interval(CPU_POLL);
        let outcome = loop {
            tokio::select! {
                _ = cpu_tick.tick(), if watch_cpu => {
                    if pid.and_then(process_cpu_time).is_some_and(|used| used > limits.cpu_time) {
                        break Err(crate::cpu_failure(limits.cpu_time));
                    }
                }
                read = read_bounded_line(&mut reader, &mut line, limits.max_value_bytes) => {
                    match read {
                        Ok(LineRead::Line) => {}
                        Ok(LineRead::TooLong) => break Err(RunFailure::new(
                            FailureKind::Runtime,
                            format!("a value crossing the bridge is larger than {} bytes", limits.max_value_bytes),
                        )),
                        Ok(LineRead::Eof) => break Err(self.exit_failure(&mut child, &stderr_tail, stderr_task).await),
                        Err(e) => break Err(env_failure("cannot read from the runner", e)),
                    }
                    let Ok(message) = serde_json::from_slice::<RunnerMessage>(&line) else {
                        tracing::debug!(line = %String::from_utf8_lossy(&line), "ignoring a non-protocol line from the runner");
                        continue;
                    };
                    match message {
                        RunnerMessage::Console { level, text } => session.console(&level, text),
                        RunnerMessage::Done { value } => break Ok(value),
                        RunnerMessage::Error { name, message, line, column } => {
                            let text = if name.is_empty() { message } else { format!("{name}: {message}") };
                            break Err(RunFailure { kind: FailureKind::Runtime, message: text, line, column });
                        }
                        RunnerMessage::Call { id, path, args } => {
                            let bridge = bridge.clone();
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                let result = bridge.call(&path, args).await;
                                let _ = tx.send((id, result));
                            });
                        }
                    }
                }
                Some((id, result)) = rx.recv() => {
                    let message = match result {
                        Ok(value) => {
                            let size = serde_json::to_vec(&value).map_or(0, |v| v.len());
                            if size > limits.max_value_bytes {
                                HostMessage::Result { id, ok: false, value: None, error: Some(format!("the tool result is larger than {} bytes", limits.max_value_bytes)) }
                            } else {
                                HostMessage::Result { id, ok: true, value: Some(value), error: None }
                            }
                        }
                        Err(e) if e.ends_run() => break Err(RunFailure::new(FailureKind::ToolCallLimit, e.to_string())),
                        Err(e) => HostMessage::Result { id, ok: false, value: None, error: Some(e.to_string()) },
                    };
                    if let Err(e) = write_message(&mut stdin, &message).await {
                        tracing::debug!(error = %e, "runner stdin closed");
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    break Err(crate::timeout_failure(limits.total_timeout));
                }
            }
        };
        let _ = child.start_kill();
        let _ = child.wait().await;
        outcome
    }

    async fn exit_failure(
        &self,
        child: &mut Child,
        stderr_tail: &Arc<Mutex<Vec<u8>>>,
        stderr_task: tokio::task::JoinHandle<()>,
    ) -> RunFailure {
        let status = child.wait().await;
        let _ = stderr_task.await;
        let tail = stderr_tail
            .lock()
            .map(|t| String::from_utf8_lossy(&t).into_owned())
            .unwrap_or_default();
        if tail.contains("heap out of memory") || tail.contains("Reached heap limit") {
            return RunFailure::new(
                FailureKind::MemoryLimit,
                "the program ran out of memory (memory_limit_mb)",
            );
        }
        let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
        let tail = tail.trim();
        RunFailure::new(
            FailureKind::Environment,
            if tail.is_empty() {
                format!("{} exited ({status}) without a result", self.name())
            } else {
                format!("{} exited ({status}) without a result: {tail}", self.name())
            },
        )
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

enum LineRead {
    Line,
    TooLong,
    Eof,
}

/// Reads one line (without the newline) of at most `max` bytes.
async fn read_bounded_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    buf.clear();
    let n = (&mut *reader).take(max as u64 + 1).read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(LineRead::Eof);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(LineRead::Line);
    }
    if buf.len() > max {
        return Ok(LineRead::TooLong);
    }
    Ok(LineRead::Line)
}

async fn write_message(stdin: &mut ChildStdin, message: &HostMessage<'_>) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    stdin.write_all(&bytes).await?;
    stdin.flush().await
}

async fn collect_tail(mut stderr: impl AsyncRead + Unpin, tail: Arc<Mutex<Vec<u8>>>) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        if let Ok(mut t) = tail.lock() {
            t.extend_from_slice(&chunk[..n]);
            if t.len() > STDERR_TAIL {
                let cut = t.len() - STDERR_TAIL;
                t.drain(..cut);
            }
        }
    }
}

fn create_deno(config: &Value) -> Result<Arc<dyn RunEnvironment>, CodeModeError> {
    let env = match config.get("deno_path").and_then(Value::as_str) {
        Some(path) => ProcessEnvironment::with_deno(path),
        None => ProcessEnvironment::deno(),
    };
    env.map(|e| Arc::new(e) as Arc<dyn RunEnvironment>)
        .map_err(|e| CodeModeError::Config(e.to_string()))
}

inventory::submit! {
    RunEnvironmentFactory {
        name: "deno",
        description: "a Deno 2 subprocess per run: no permissions but its own directory, empty environment",
        create: create_deno,
    }
}

fn create_node(config: &Value) -> Result<Arc<dyn RunEnvironment>, CodeModeError> {
    let env = match config.get("node_path").and_then(Value::as_str) {
        Some(path) => ProcessEnvironment::with_node(path),
        None => ProcessEnvironment::node(),
    }
    .map_err(|e| CodeModeError::Config(e.to_string()))?;
    Ok(Arc::new(env))
}

inventory::submit! {
    RunEnvironmentFactory {
        name: "node",
        description: "a fresh Node.js subprocess per run (JSON-lines bridge, host-enforced limits)",
        create: create_node,
    }
}
