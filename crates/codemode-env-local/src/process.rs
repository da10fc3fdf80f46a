//! The Node.js subprocess environment.

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
/// Bytes of the child's stderr kept for error messages.
const STDERR_TAIL: usize = 4096;

/// Why the environment could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// Node.js was not found.
    #[error("Node.js was not found: install Node.js 20 or newer, or set CODEMODE_NODE to its path")]
    NodeNotFound,
    /// The program at the path is not a usable Node.js.
    #[error("`{path}` is not a usable Node.js: {message}")]
    BadNode {
        /// The path tried.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Runs programs in a fresh Node.js subprocess each time.
#[derive(Debug, Clone)]
pub struct ProcessEnvironment {
    node: PathBuf,
    major: u32,
}

impl ProcessEnvironment {
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
        let node = path.into();
        let output = std::process::Command::new(&node)
            .arg("--version")
            .output()
            .map_err(|e| EnvError::BadNode {
                path: node.clone(),
                message: e.to_string(),
            })?;
        let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let major = version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| EnvError::BadNode {
                path: node.clone(),
                message: format!("unexpected version `{version}`"),
            })?;
        if major < 20 {
            return Err(EnvError::BadNode {
                path: node,
                message: format!("version {version} is too old; 20 or newer is needed"),
            });
        }
        Ok(Self { node, major })
    }

    /// The Node.js major version.
    pub fn node_major_version(&self) -> u32 {
        self.major
    }

    fn command(&self, dir: &Path, memory_mb: u64) -> Command {
        let mut cmd = Command::new(&self.node);
        cmd.arg(format!("--max-old-space-size={memory_mb}"));
        cmd.arg("--disallow-code-generation-from-strings");
        if self.major >= 22 {
            cmd.arg("--permission")
                .arg(format!("--allow-fs-read={}", dir.display()));
        } else {
            cmd.arg("--experimental-permission")
                .arg("--no-warnings")
                .arg(format!("--allow-fs-read={}/*", dir.display()));
        }
        cmd.arg(dir.join("runner.mjs"));
        cmd.env_clear()
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[async_trait]
impl RunEnvironment for ProcessEnvironment {
    fn name(&self) -> &str {
        "node"
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
            .map_err(|e| env_failure(&format!("cannot start {}", self.node.display()), e))?;
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
        let outcome = loop {
            tokio::select! {
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
                    break Err(RunFailure::new(
                        FailureKind::Timeout,
                        format!("the program did not finish within {:.1} s (total_execution_timeout)", limits.total_timeout.as_secs_f64()),
                    ));
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
                format!("node exited ({status}) without a result")
            } else {
                format!("node exited ({status}) without a result: {tail}")
            },
        )
    }
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
