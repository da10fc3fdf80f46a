//! The host side of the JSON-lines runner protocol (`js/runner.mjs`), written once for every
//! transport: a local Node.js or Deno child's stdin/stdout, or a cloud sandbox's process
//! streams (the E2B environment). The runner prints one JSON message per line (`call`,
//! `console`, `done`, `error`); the host answers tool calls with `result` lines.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use codemode_traits::{BridgeError, ExecutionLimits, FailureKind, RunFailure, ToolBridge};
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::console::ConsoleCapture;
use crate::protocol::{HostMessage, RunnerMessage};

/// The runner: an ES module that imports `program.mjs` from its own directory and speaks
/// the protocol on stdin/stdout. Runs on Node.js 20+ and Deno 2.
pub const RUNNER_JS: &str = include_str!("../js/runner.mjs");

/// How often the CPU time is checked against the budget, when it can be read.
const CPU_POLL: Duration = Duration::from_millis(20);
/// Bytes of a runner's stderr kept for error messages.
const STDERR_TAIL: usize = 4096;

/// V8's heap cap for a run, in MiB (`--max-old-space-size`; at least 16).
pub fn heap_limit_mb(limits: &ExecutionLimits) -> u64 {
    (limits.memory_limit_bytes / (1024 * 1024)).max(16)
}

/// The last 4 KiB of a runner's stderr, for the message of [`exit_failure`].
#[derive(Debug, Default)]
pub struct StderrTail(Vec<u8>);

impl StderrTail {
    /// Appends output, dropping what falls out of the tail.
    pub fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        let excess = self.0.len().saturating_sub(STDERR_TAIL);
        self.0.drain(..excess);
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).trim().to_string()
    }
}

/// The failure for a runner whose output ended without a result: `memory_limit` when V8
/// said on stderr that the heap ran out, else an environment error naming `who` and its
/// exit `status`, with the end of its stderr.
pub fn exit_failure(who: &str, status: &str, stderr: &StderrTail) -> RunFailure {
    let tail = stderr.text();
    if tail.contains("heap out of memory") || tail.contains("Reached heap limit") {
        return RunFailure::new(
            FailureKind::MemoryLimit,
            "the program ran out of memory (memory_limit_mb)",
        );
    }
    RunFailure::new(
        FailureKind::Environment,
        if tail.is_empty() {
            format!("{who} exited ({status}) without a result")
        } else {
            format!("{who} exited ({status}) without a result: {tail}")
        },
    )
}

/// The text of `program.mjs` for a transpiled program (the body of an async function).
/// Runtime error lines are reported relative to the program (the header is one line).
pub fn program_module(javascript: &str) -> String {
    format!("export default async function (tools, console) {{\n{javascript}\n}}\n")
}

/// Where the host's lines go: a child's stdin, a cloud sandbox's process input.
#[async_trait]
pub trait RunnerInput: Send {
    /// Sends one line (the newline is included).
    async fn send_line(&mut self, line: Vec<u8>) -> std::io::Result<()>;
}

#[async_trait]
impl RunnerInput for tokio::process::ChildStdin {
    async fn send_line(&mut self, line: Vec<u8>) -> std::io::Result<()> {
        self.write_all(&line).await?;
        self.flush().await
    }
}

/// How a run ended without the runner's answer.
#[derive(Debug)]
pub enum DriveEnd {
    /// A limit or a protocol error ended it.
    Failed(RunFailure),
    /// The runner's output ended first: it exited or crashed. The transport knows why.
    OutputClosed,
}

/// Runs the protocol until the program finishes, a limit is reached, or the runner's
/// output ends: sends `start` with the bridge's tool paths, runs tool calls concurrently
/// on the bridge, captures console lines, and enforces the deadline, the size of values
/// crossing the bridge and, when `cpu_time` can tell the runner's CPU time, the CPU budget.
pub async fn drive(
    output: impl AsyncBufRead + Unpin,
    input: &mut dyn RunnerInput,
    bridge: Arc<dyn ToolBridge>,
    limits: ExecutionLimits,
    deadline: tokio::time::Instant,
    console: &mut ConsoleCapture,
    cpu_time: Option<&(dyn Fn() -> Option<Duration> + Send + Sync)>,
) -> Result<Value, DriveEnd> {
    let environment = |what: &str, e: std::io::Error| {
        DriveEnd::Failed(RunFailure::new(FailureKind::Environment, format!("{what}: {e}")))
    };
    let paths = bridge.tool_paths();
    input
        .send_line(encode(&HostMessage::Start { paths: &paths }))
        .await
        .map_err(|e| environment("cannot talk to the runner", e))?;
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Result<Value, BridgeError>)>();
    // Tool calls in flight. Owned here, so when the run ends or is dropped they are dropped
    // too (an MCP call then sends `notifications/cancelled`) instead of running on.
    let mut calls = tokio::task::JoinSet::new();
    let mut reader = output;
    let mut line = Vec::new();
    // Only a budget below the wall clock can run out first.
    let watch_cpu = limits.cpu_time < limits.total_timeout && cpu_time.is_some_and(|f| f().is_some());
    let mut cpu_tick = tokio::time::interval(CPU_POLL);
    loop {
        tokio::select! {
            Some(_) = calls.join_next(), if !calls.is_empty() => {}
            _ = cpu_tick.tick(), if watch_cpu => {
                if cpu_time.and_then(|f| f()).is_some_and(|used| used > limits.cpu_time) {
                    return Err(DriveEnd::Failed(RunFailure::cpu_time(limits.cpu_time)));
                }
            }
            read = read_bounded_line(&mut reader, &mut line, limits.max_value_bytes) => {
                match read {
                    Ok(LineRead::Line) => {}
                    Ok(LineRead::TooLong) => return Err(DriveEnd::Failed(RunFailure::new(
                        FailureKind::Runtime,
                        format!("a value crossing the bridge is larger than {} bytes", limits.max_value_bytes),
                    ))),
                    Ok(LineRead::Eof) => return Err(DriveEnd::OutputClosed),
                    Err(e) => return Err(environment("cannot read from the runner", e)),
                }
                let Ok(message) = serde_json::from_slice::<RunnerMessage>(&line) else {
                    tracing::debug!(line = %String::from_utf8_lossy(&line), "ignoring a non-protocol line from the runner");
                    continue;
                };
                match message {
                    RunnerMessage::Console { level, text } => console.console(&level, text),
                    RunnerMessage::Done { value } => return Ok(value),
                    RunnerMessage::Error { name, message, line, column } => {
                        let text = if name.is_empty() { message } else { format!("{name}: {message}") };
                        return Err(DriveEnd::Failed(RunFailure { kind: FailureKind::Runtime, message: text, line, column }));
                    }
                    RunnerMessage::Call { id, path, args } => {
                        let bridge = bridge.clone();
                        let tx = tx.clone();
                        // Under the run's span, as the wasm sandbox's calls are.
                        let span = tracing::Span::current();
                        calls.spawn(tracing::Instrument::instrument(
                            async move {
                                let result = bridge.call(&path, args).await;
                                let _ = tx.send((id, result));
                            },
                            span,
                        ));
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
                    Err(e) if e.ends_run() => {
                        return Err(DriveEnd::Failed(RunFailure::new(FailureKind::ToolCallLimit, e.to_string())));
                    }
                    Err(e) => HostMessage::Result { id, ok: false, value: None, error: Some(e.to_string()) },
                };
                if let Err(e) = input.send_line(encode(&message)).await {
                    tracing::debug!(error = %e, "the runner's input is closed");
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                return Err(DriveEnd::Failed(RunFailure::timeout(limits.total_timeout)));
            }
        }
    }
}

/// One protocol line.
fn encode(message: &HostMessage<'_>) -> Vec<u8> {
    // Serializing these plain enums of strings, numbers and JSON values cannot fail.
    let mut bytes = serde_json::to_vec(message).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

enum LineRead {
    Line,
    TooLong,
    Eof,
}

/// Reads one line (without the newline) of at most `max` bytes.
async fn read_bounded_line<R: AsyncBufRead + Unpin>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stderr_tail_keeps_the_end_and_names_an_out_of_memory_heap() {
        let mut tail = StderrTail::default();
        tail.push(&[b'a'; 5000]);
        tail.push(b"\nFATAL ERROR: Reached heap limit Allocation failed\n");
        assert_eq!(tail.0.len(), STDERR_TAIL);
        assert_eq!(
            exit_failure("node", "exit status: 134", &tail).kind,
            FailureKind::MemoryLimit
        );
        let crashed = exit_failure("node", "exit status: 1", &StderrTail::default());
        assert_eq!(crashed.kind, FailureKind::Environment);
        assert_eq!(crashed.message, "node exited (exit status: 1) without a result");
    }
}
