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
/// Longest stdout line passed on: rmcp's own limit, past which it drops a line and leaves
/// the call waiting for its timeout. A longer answer is failed here at once instead.
const MAX_LINE: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;
/// Bytes kept from each end of an oversized line to find its JSON-RPC `id`.
const OVERSIZE_ENDS: usize = 4096;
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
    /// The last line was a message over [`MAX_LINE`] whose `id` could not be found; `last`
    /// then says its size.
    pub(crate) oversized: bool,
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
    pub(crate) async fn guard<T>(&self, call: impl Future<Output = T>, grace: Duration) -> Result<T, Garbage> {
        let mut garbage = self.garbage.clone();
        garbage.mark_unchanged();
        let mut call = std::pin::pin!(call);
        tokio::select! {
            out = &mut call => return Ok(out),
            Ok(()) = garbage.changed() => {}
        }
        match tokio::time::timeout(grace, &mut call).await {
            Ok(out) => Ok(out),
            Err(_) => Err(garbage.borrow().clone()),
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
        match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            let Some(oversize) = drain_oversized(&mut reader, &line).await else {
                break;
            };
            let answer = oversize.error_answer();
            tracing::warn!(
                bytes = oversize.bytes,
                limit = MAX_LINE,
                "an MCP server sent a message over the size limit"
            );
            match answer {
                Some(answer) => {
                    if to_rmcp.write_all(answer.as_bytes()).await.is_err() || to_rmcp.write_all(b"\n").await.is_err() {
                        break;
                    }
                }
                None => garbage.send_modify(|g| {
                    g.count += 1;
                    g.last = oversize.describe();
                    g.oversized = true;
                }),
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            continue;
        }
        if is_json_rpc(trimmed) {
            let kept = keep_tool_execution(trimmed);
            let trimmed = kept.as_deref().unwrap_or(trimmed);
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
                g.oversized = false;
            });
        }
    }
}

/// A stdout line longer than [`MAX_LINE`]: its size, and its two ends.
struct Oversized {
    bytes: usize,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Oversized {
    /// What went wrong, for the caller.
    fn describe(&self) -> String {
        format!(
            "the server's answer is {} ({} bytes), over the {} MiB limit of a message from a stdio MCP server",
            human_size(self.bytes),
            self.bytes,
            MAX_LINE / (1024 * 1024)
        )
    }

    /// The JSON-RPC `id` the line answers, read from either end (servers put it first or
    /// last), unless the line is a notification or too odd to tell.
    fn id(&self) -> Option<serde_json::Value> {
        [&self.head, &self.tail]
            .into_iter()
            .filter(|_| self.head.starts_with(b"{"))
            .find_map(|end| id_in(&String::from_utf8_lossy(end)))
    }

    /// An error answer in the line's place, so that rmcp fails the one call it answers.
    fn error_answer(&self) -> Option<String> {
        let id = self.id()?;
        let answer = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": -32603, "message": self.describe()},
        });
        Some(answer.to_string())
    }
}

/// Reads the rest of an oversized line (whose first [`MAX_LINE`] + 1 bytes are `start`)
/// without keeping it; `None` when stdout ended first.
async fn drain_oversized(reader: &mut BufReader<tokio::process::ChildStdout>, start: &[u8]) -> Option<Oversized> {
    let mut oversized = Oversized {
        bytes: start.len(),
        head: start[..OVERSIZE_ENDS.min(start.len())].to_vec(),
        tail: start[start.len().saturating_sub(OVERSIZE_ENDS)..].to_vec(),
    };
    loop {
        let chunk = reader.fill_buf().await.ok()?;
        if chunk.is_empty() {
            return None;
        }
        let (taken, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(end) => (end + 1, true),
            None => (chunk.len(), false),
        };
        let content = &chunk[..taken - usize::from(done)];
        oversized.bytes += content.len();
        oversized.tail.extend_from_slice(content);
        let excess = oversized.tail.len().saturating_sub(OVERSIZE_ENDS);
        oversized.tail.drain(..excess);
        reader.consume(taken);
        if done {
            return Some(oversized);
        }
    }
}

/// The value of the first `"id":` member in a piece of JSON text (a number or a string).
fn id_in(text: &str) -> Option<serde_json::Value> {
    let mut rest = text;
    while let Some(at) = rest.find("\"id\"") {
        let after = rest[at + 4..].trim_start();
        rest = &rest[at + 4..];
        let Some(value) = after.strip_prefix(':').map(str::trim_start) else {
            continue;
        };
        let end = match value.strip_prefix('"') {
            Some(quoted) => quoted.find('"').map(|i| i + 2),
            None => value.find(|c: char| !(c.is_ascii_digit() || c == '-')),
        };
        if let Some(id) = end.and_then(|end| serde_json::from_str::<serde_json::Value>(&value[..end]).ok())
            && (id.is_number() || id.is_string())
        {
            return Some(id);
        }
    }
    None
}

/// `17.2 MB`-style size.
fn human_size(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// Where a tool's `execution` member is kept in its `_meta` for [`crate::listing`].
pub(crate) const EXECUTION_META: &str = "codemode/execution";

/// A `tools/list` answer whose tools say how they may be executed (`execution`, e.g.
/// `taskSupport: "required"`), with each such `execution` copied into the tool's `_meta`:
/// rmcp's typed `Tool` drops `execution` but keeps `_meta`, and the listing needs it to leave
/// out the tools a plain call cannot reach. `None` for every other line (the common case,
/// decided by a substring test before any parsing).
fn keep_tool_execution(line: &str) -> Option<String> {
    if !line.contains("\"execution\"") || !line.contains("\"tools\"") {
        return None;
    }
    let mut message: serde_json::Value = serde_json::from_str(line).ok()?;
    let tools = message.get_mut("result")?.get_mut("tools")?.as_array_mut()?;
    let mut changed = false;
    for tool in tools.iter_mut().filter_map(serde_json::Value::as_object_mut) {
        let Some(execution) = tool.get("execution").cloned() else {
            continue;
        };
        let meta = tool
            .entry("_meta")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(EXECUTION_META.into(), execution);
            changed = true;
        }
    }
    changed.then(|| message.to_string())
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
    fn the_id_of_an_oversized_answer_is_found_at_either_end() {
        assert_eq!(
            id_in(r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"xx"#),
            Some(7.into())
        );
        assert_eq!(id_in(r#"xxx"}]},"jsonrpc":"2.0","id":"a-1"}"#), Some("a-1".into()));
        // An `id` inside the payload is skipped when it is not a plain number or string.
        assert_eq!(id_in(r#"{"result":{"id":{"n":1}},"id": 12}"#), Some(12.into()));
        assert_eq!(id_in(r#"{"method":"notifications/message","params":"#), None);
        let line = Oversized {
            bytes: 20_000_000,
            head: br#"{"result":{"content":[{"type":"text","text":"aaaa"#.to_vec(),
            tail: br#"aaaa"}]},"jsonrpc":"2.0","id":3}"#.to_vec(),
        };
        let answer: serde_json::Value = serde_json::from_str(&line.error_answer().unwrap()).unwrap();
        assert_eq!(answer["id"], 3);
        assert_eq!(
            answer["error"]["message"],
            "the server's answer is 20.0 MB (20000000 bytes), over the 16 MiB limit of a message from a stdio MCP server"
        );
    }

    #[test]
    fn a_tools_execution_is_kept_in_its_meta() {
        let line = r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"a","inputSchema":{"type":"object"},"execution":{"taskSupport":"required"}},{"name":"b","inputSchema":{"type":"object"}}]}}"#;
        let kept: serde_json::Value = serde_json::from_str(&keep_tool_execution(line).unwrap()).unwrap();
        assert_eq!(
            kept["result"]["tools"][0]["_meta"][EXECUTION_META]["taskSupport"],
            "required"
        );
        assert!(kept["result"]["tools"][1].get("_meta").is_none());
        assert_eq!(
            keep_tool_execution(r#"{"jsonrpc":"2.0","id":3,"result":{"content":[]}}"#),
            None
        );
    }

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
