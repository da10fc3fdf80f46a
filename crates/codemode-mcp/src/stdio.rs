//! A stdio MCP server's process, watched from outside rmcp: its exit status, the end of its
//! stderr, and lines on its stdout that are not JSON-RPC.
//!
//! rmcp reads the child's stdout through a line filter: JSON-RPC messages pass on, anything
//! else is counted as garbage (so calls in flight can fail at once instead of waiting for
//! their timeout) and logged. The child itself is owned here, so its exit status is known.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{oneshot, watch};

/// Bytes of a stdio server's stderr kept for error messages.
const STDERR_TAIL: usize = 2048;
/// Characters of a garbage line quoted in error messages.
const GARBAGE_QUOTE: usize = 120;
/// Longest stdout line passed on (a longer one is garbage); rmcp's own limit is similar.
const MAX_LINE: usize = 64 * 1024 * 1024;
/// How long a server gets to exit by itself once its input is closed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The last bytes a child wrote to stderr.
#[derive(Clone, Default)]
pub(crate) struct StderrTail(Arc<Mutex<Vec<u8>>>);

impl StderrTail {
    fn collect(&self, mut stderr: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
        let tail = self.0.clone();
        tokio::spawn(async move {
            let mut chunk = [0u8; 2048];
            while let Ok(n) = stderr.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = tail.lock() {
                    t.extend_from_slice(&chunk[..n]);
                    let excess = t.len().saturating_sub(STDERR_TAIL);
                    t.drain(..excess);
                }
            }
        });
    }

    /// The tail as text, trimmed.
    pub(crate) fn text(&self) -> String {
        self.0
            .lock()
            .map(|t| String::from_utf8_lossy(&t).trim().to_string())
            .unwrap_or_default()
    }
}

/// Lines on stdout that were not JSON-RPC: how many so far, and the last one (shortened).
#[derive(Clone, Debug, Default)]
pub(crate) struct Garbage {
    pub(crate) count: u64,
    pub(crate) last: String,
}

/// A running stdio server. Dropping it closes nothing by itself; dropping the rmcp service
/// closes the server's input, and dropping this ends the process (after a grace period).
pub(crate) struct StdioProcess {
    exit: watch::Receiver<Option<ExitStatus>>,
    garbage: watch::Receiver<Garbage>,
    stderr: StderrTail,
    _stop: oneshot::Sender<()>,
}

/// The child's stdin and the filtered stdout, for rmcp's `(reader, writer)` transport.
pub(crate) type StdioTransport = (tokio::io::DuplexStream, ChildStdin);

impl StdioProcess {
    /// Starts `cmd` with piped stdio.
    pub(crate) fn spawn(mut cmd: Command) -> std::io::Result<(Self, StdioTransport)> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let (Some(stdin), Some(stdout), Some(child_stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("the child's stdio was not piped"));
        };
        let stderr = StderrTail::default();
        stderr.collect(child_stderr);

        let (garbage_tx, garbage) = watch::channel(Garbage::default());
        let (to_rmcp, from_filter) = tokio::io::duplex(64 * 1024);
        tokio::spawn(filter_stdout(stdout, to_rmcp, garbage_tx));

        let (exit_tx, exit) = watch::channel(None);
        let (stop, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = stop_rx => {
                    // The connection is gone and its input closed: a well-behaved server
                    // exits now; one that does not is killed.
                    match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
                        Ok(status) => status,
                        Err(_) => {
                            let _ = child.start_kill();
                            child.wait().await
                        }
                    }
                }
            };
            match status {
                Ok(status) => {
                    let _ = exit_tx.send(Some(status));
                }
                Err(e) => tracing::debug!(error = %e, "waiting for an MCP server process"),
            }
        });
        let process = Self {
            exit,
            garbage,
            stderr,
            _stop: stop,
        };
        Ok((process, (from_filter, stdin)))
    }

    /// The exit status, once the process has ended.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// The exit status, waiting up to `wait` for the process to end (a crash is seen by rmcp
    /// as a closed stream slightly before the status is known).
    pub(crate) async fn wait_exit(&self, wait: Duration) -> Option<ExitStatus> {
        let mut exit = self.exit.clone();
        let _ = tokio::time::timeout(wait, exit.wait_for(Option::is_some)).await;
        self.exit_status()
    }

    /// The end of the process's stderr.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Runs `call` until it ends, or fails it with the offending line when the server writes
    /// something that is not JSON-RPC and the call is still unanswered `grace` later.
    pub(crate) async fn guard<T>(&self, call: impl Future<Output = T>, grace: Duration) -> Result<T, String> {
        let mut garbage = self.garbage.clone();
        garbage.mark_unchanged();
        let mut call = std::pin::pin!(call);
        tokio::select! {
            out = &mut call => return Ok(out),
            Ok(()) = garbage.changed() => {}
        }
        match tokio::time::timeout(grace, &mut call).await {
            Ok(out) => Ok(out),
            Err(_) => Err(garbage.borrow().last.clone()),
        }
    }
}

/// Passes JSON-RPC lines from `stdout` to `to_rmcp` and reports the others.
async fn filter_stdout(
    stdout: tokio::process::ChildStdout,
    mut to_rmcp: tokio::io::DuplexStream,
    garbage: watch::Sender<Garbage>,
) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader).take(MAX_LINE as u64).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            continue;
        }
        if is_json_rpc(trimmed) {
            if to_rmcp.write_all(trimmed.as_bytes()).await.is_err() || to_rmcp.write_all(b"\n").await.is_err() {
                break;
            }
        } else {
            let quote: String = trimmed.chars().take(GARBAGE_QUOTE).collect();
            let quote = if quote.len() < trimmed.len() {
                format!("{quote}…")
            } else {
                quote
            };
            tracing::warn!(line = %quote, "an MCP server wrote a line on stdout that is not JSON-RPC");
            garbage.send_modify(|g| {
                g.count += 1;
                g.last = quote;
            });
        }
    }
}

/// A JSON-RPC message (or batch) as MCP sends them: an object with `"jsonrpc": "2.0"`.
fn is_json_rpc(line: &str) -> bool {
    let message = |v: &serde_json::Value| v.get("jsonrpc").and_then(|j| j.as_str()) == Some("2.0");
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Array(batch)) => !batch.is_empty() && batch.iter().all(message),
        Ok(v) => message(&v),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_rpc_messages_pass() {
        assert!(is_json_rpc(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#));
        assert!(is_json_rpc(r#"[{"jsonrpc":"2.0","method":"x"}]"#));
        assert!(!is_json_rpc("Server listening on stdio"));
        assert!(!is_json_rpc(r#"{"neither": "is this"}"#));
        assert!(!is_json_rpc(r#"{"jsonrpc":"1.0","id":1}"#));
        assert!(!is_json_rpc("[]"));
    }
}
