//! An example codemode plugin, built as a shared library: a run environment that runs each
//! program in a fresh Node.js process (empty environment, no arguments but the runner),
//! sending its tool calls back to the host, whose bridge counts, times and records them.
//! Load it with
//!
//! ```toml
//! [run]
//! environment = "plugin"
//!
//! [environments.plugin]
//! name = "node-subprocess"              # or: path = "target/debug/libcodemode_example_environment_plugin.so"
//! config = { node = "/usr/bin/node" }   # default: `node` on PATH
//! ```
//!
//! It enforces `total_timeout` (the process is killed), the memory cap (Node's heap limit)
//! and the console cap; tool calls run concurrently, each on its own thread.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use codemode_plugin_abi::{
    ExecuteAnswer, ExecuteEnd, ExecuteFailure, ExecuteRequest, FailureKind, Host, PluginRunEnvironment,
    export_run_environment,
};
use serde_json::{Value, json};

/// The Node side: reads the program and tool results on stdin, writes JSON lines.
const RUNNER: &str = include_str!("runner.js");

/// The plugin's environment.
pub struct NodeSubprocess {
    node: PathBuf,
}

/// `name` on `PATH`, as a full path.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// How one run ended, before it is written as the ABI's answer.
enum End {
    Value(Value),
    Failure {
        kind: FailureKind,
        message: String,
        line: Option<u64>,
    },
}

fn failure(kind: FailureKind, message: impl Into<String>) -> End {
    End::Failure {
        kind,
        message: message.into(),
        line: None,
    }
}

/// Console lines, up to a byte budget; what is over it is dropped and said once.
struct Console {
    lines: Vec<String>,
    bytes: usize,
    max_bytes: usize,
    cut: bool,
}

impl Console {
    fn push(&mut self, line: String) {
        if self.cut {
            return;
        }
        if self.bytes + line.len() > self.max_bytes {
            self.cut = true;
            self.lines
                .push(format!("[console output cut at {} bytes]", self.max_bytes));
            return;
        }
        self.bytes += line.len();
        self.lines.push(line);
    }
}

fn answer_line(stdin: &Mutex<ChildStdin>, message: &Value) {
    if let Ok(mut stdin) = stdin.lock() {
        // The process may have ended already; its outcome says why.
        let _ = writeln!(stdin, "{message}");
    }
}

impl NodeSubprocess {
    fn spawn(&self, memory_limit_bytes: u64) -> Result<Child, String> {
        let heap_mb = (memory_limit_bytes / (1024 * 1024)).max(16);
        Command::new(&self.node)
            .arg(format!("--max-old-space-size={heap_mb}"))
            .arg("-e")
            .arg(RUNNER)
            .env_clear()
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.node.display()))
    }

    fn run(&self, request: &ExecuteRequest, host: &Host<'_>, console: &mut Console) -> End {
        let limits = &request.limits;
        let timeout = Duration::from_millis(match limits.total_timeout_ms {
            0 => 30_000,
            ms => ms,
        });
        let deadline = Instant::now() + timeout;
        let memory = match limits.memory_limit_bytes {
            0 => 256 << 20,
            bytes => bytes,
        };
        let mut child = match self.spawn(memory) {
            Ok(child) => child,
            Err(message) => return failure(FailureKind::Environment, message),
        };
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return failure(FailureKind::Environment, "the Node process has no pipes");
        };
        let stdin = Mutex::new(stdin);
        answer_line(
            &stdin,
            &json!({"javascript": request.javascript, "tool_paths": request.tool_paths}),
        );
        let (lines, received) = mpsc::channel::<Value>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(message) = serde_json::from_str::<Value>(&line)
                    && lines.send(message).is_err()
                {
                    return;
                }
            }
        });
        let stderr_tail = std::thread::spawn(move || {
            let mut tail = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                tail.push(line);
                if tail.len() > 5 {
                    tail.remove(0);
                }
            }
            tail.join(" | ")
        });
        let limit_hit: Mutex<Option<String>> = Mutex::new(None);
        let end = std::thread::scope(|scope| {
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let message = match received.recv_timeout(left) {
                    Ok(message) => message,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let _ = child.kill();
                        return failure(
                            FailureKind::Timeout,
                            format!("the program ran longer than {:.1} s", timeout.as_secs_f64()),
                        );
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        let _ = child.kill();
                        let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                        let tail = stderr_tail.join().unwrap_or_default();
                        if tail.contains("heap out of memory") {
                            return failure(
                                FailureKind::MemoryLimit,
                                "the program ran out of memory (memory_limit_mb)",
                            );
                        }
                        return failure(
                            FailureKind::Environment,
                            format!("Node exited ({status}) before the program ended: {tail}"),
                        );
                    }
                };
                match message["type"].as_str() {
                    Some("console") => console.push(message["text"].as_str().unwrap_or_default().to_string()),
                    Some("call") => {
                        let (stdin, limit_hit) = (&stdin, &limit_hit);
                        scope.spawn(move || {
                            let path = message["path"].as_str().unwrap_or_default();
                            let answer = match host.call_tool(path, message["arguments"].clone()) {
                                Ok(value) => json!({"id": message["id"], "ok": value}),
                                Err(e) => {
                                    if e.ends_run
                                        && let Ok(mut hit) = limit_hit.lock()
                                    {
                                        hit.get_or_insert(e.message.clone());
                                    }
                                    json!({"id": message["id"], "error": e.message})
                                }
                            };
                            answer_line(stdin, &answer);
                        });
                    }
                    Some("done") => return End::Value(message["value"].clone()),
                    Some("error") => {
                        return End::Failure {
                            kind: FailureKind::Runtime,
                            message: message["message"].as_str().unwrap_or("the program threw").to_string(),
                            line: message["line"].as_u64(),
                        };
                    }
                    _ => {}
                }
            }
        });
        let _ = child.kill();
        let _ = child.wait();
        // The tool-call limit ends the run whatever the program did with the error.
        match limit_hit.into_inner().ok().flatten() {
            Some(message) => failure(FailureKind::ToolCallLimit, message),
            None => end,
        }
    }
}

impl PluginRunEnvironment for NodeSubprocess {
    fn create(config: Value) -> Result<Self, String> {
        let node = match config.get("node").and_then(Value::as_str) {
            Some(path) => PathBuf::from(path),
            None => on_path("node").ok_or("Node.js was not found on PATH; install it or set config.node")?,
        };
        if !Path::new(&node).is_file() {
            return Err(format!("config.node: {} is not a file", node.display()));
        }
        Ok(Self { node })
    }

    fn execute(&self, request: ExecuteRequest, host: &Host<'_>) -> Result<ExecuteAnswer, String> {
        let mut console = Console {
            lines: Vec::new(),
            bytes: 0,
            max_bytes: match request.limits.max_console_bytes {
                0 => 256 * 1024,
                bytes => bytes as usize,
            },
            cut: false,
        };
        let end = match self.run(&request, host, &mut console) {
            End::Value(value) => ExecuteEnd::Value(value),
            End::Failure { kind, message, line } => ExecuteEnd::Failure(ExecuteFailure {
                kind,
                message,
                line: line.and_then(|l| u32::try_from(l).ok()),
                column: None,
            }),
        };
        Ok(ExecuteAnswer {
            end,
            console: console.lines,
        })
    }
}

export_run_environment!(
    NodeSubprocess,
    "node-subprocess",
    "Runs each program in a fresh Node.js process; tool calls go back to codemode"
);
