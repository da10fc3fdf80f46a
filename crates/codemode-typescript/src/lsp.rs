//! A warm TypeScript 7 compiler: one `tsc --lsp --stdio` process kept across checks.
//!
//! A cold check starts `tsc` for every program, which reparses the es2023 lib and the tool
//! declarations each time (about 24 ms). The language server keeps them parsed: the program
//! and the declarations are open documents, a check sends the new text (`didChange`) and
//! pulls the program's diagnostics (`textDocument/diagnostic`), about 1 ms.
//!
//! The project is a throwaway directory with a `tsconfig.json` holding the same options as
//! the cold check. A server that fails, hangs past [`REQUEST_TIMEOUT`] or exits is dropped
//! (killed) and the caller falls back to a cold check; the next check starts a new server.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::diagnostic::{Diagnostic, Severity};

/// The longest a check waits for the server before giving up on it.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The project's options: the same as the cold check's command line.
const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "es2023",
    "lib": ["es2023"],
    "types": [],
    "skipLibCheck": true
  },
  "files": ["prelude.d.ts", "program.ts"]
}
"#;

/// One running language server and its project.
pub(crate) struct LspSession {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    dir: tempfile::TempDir,
    next_id: i64,
    program_version: i64,
    prelude: String,
    prelude_version: i64,
}

impl std::fmt::Debug for LspSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LspSession")
            .field("pid", &self.child.id())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl LspSession {
    /// Starts `exe --lsp --stdio` on a fresh project directory and initializes it.
    pub(crate) fn start(exe: &Path) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("codemode-tsc-lsp-")
            .tempdir()
            .map_err(|e| format!("cannot create the project directory: {e}"))?;
        for (name, text) in [
            ("tsconfig.json", TSCONFIG),
            ("prelude.d.ts", ""),
            ("program.ts", "export {};\n"),
        ] {
            std::fs::write(dir.path().join(name), text).map_err(|e| format!("cannot write {name}: {e}"))?;
        }
        let mut child = Command::new(exe)
            .args(["--lsp", "--stdio"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {} --lsp --stdio: {e}", exe.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err("the language server has no stdio pipes".into());
        };
        let (sender, messages) = channel();
        std::thread::Builder::new()
            .name("codemode-tsc-lsp".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                while let Some(message) = read_message(&mut reader) {
                    if sender.send(message).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| format!("cannot start the reader thread: {e}"))?;
        let mut session = Self {
            child,
            stdin,
            messages,
            dir,
            next_id: 0,
            program_version: 0,
            prelude: String::new(),
            prelude_version: 0,
        };
        let root = session.uri("");
        session.request(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": root,
                "workspaceFolders": [{"uri": root, "name": "codemode"}],
                "capabilities": {"textDocument": {"diagnostic": {"dynamicRegistration": false}}},
            }),
        )?;
        session.notify("initialized", json!({}))?;
        for (name, text) in [("prelude.d.ts", ""), ("program.ts", "export {};\n")] {
            let uri = session.uri(name);
            session.notify(
                "textDocument/didOpen",
                json!({"textDocument": {"uri": uri, "languageId": "typescript", "version": 0, "text": text}}),
            )?;
        }
        Ok(session)
    }

    /// The process id of the server (tests kill it to check recovery).
    #[cfg(feature = "testing")]
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn uri(&self, name: &str) -> String {
        let dir = self.dir.path().display().to_string();
        if name.is_empty() {
            format!("file://{dir}")
        } else {
            format!("file://{dir}/{name}")
        }
    }

    /// Diagnostics of `program_ts` (the wrapped program) with `prelude` as the declarations,
    /// at 1-based lines and columns of `program.ts` (as the command-line compiler prints them).
    pub(crate) fn check(&mut self, prelude: &str, program_ts: &str) -> Result<Vec<Diagnostic>, String> {
        if prelude != self.prelude {
            self.prelude_version += 1;
            let uri = self.uri("prelude.d.ts");
            self.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": self.prelude_version}, "contentChanges": [{"text": prelude}]}),
            )?;
            self.prelude = prelude.to_string();
        }
        self.program_version += 1;
        let uri = self.uri("program.ts");
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": self.program_version}, "contentChanges": [{"text": program_ts}]}),
        )?;
        let report = self.request("textDocument/diagnostic", json!({"textDocument": {"uri": uri}}))?;
        let items = report
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("the language server sent no diagnostics: {report}"))?;
        Ok(items.iter().filter_map(diagnostic_from_lsp).collect())
    }

    fn send(&mut self, message: &Value) -> Result<(), String> {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("the language server stopped reading: {e}"))
    }

    fn notify(&mut self, method: &str, params: Value) -> Result<(), String> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
    }

    /// Sends a request and waits for its response, answering the server's own requests.
    fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match self.messages.recv_timeout(left) {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no answer to {method} within {} s", REQUEST_TIMEOUT.as_secs()));
                }
                Err(RecvTimeoutError::Disconnected) => return Err("the language server exited".into()),
            };
            match (message.get("id"), message.get("method")) {
                (Some(server_id), Some(server_method)) => {
                    // workspace/configuration wants one entry per item; other requests
                    // (capability registration, progress) accept null.
                    let result = if server_method == "workspace/configuration" {
                        let n = message["params"]["items"].as_array().map_or(0, Vec::len);
                        Value::Array(vec![Value::Null; n])
                    } else {
                        Value::Null
                    };
                    self.send(&json!({"jsonrpc": "2.0", "id": server_id, "result": result}))?;
                }
                (Some(answer_id), None) if answer_id == &json!(id) => {
                    if let Some(error) = message.get("error") {
                        return Err(format!("{method} failed: {error}"));
                    }
                    return Ok(message.get("result").cloned().unwrap_or(Value::Null));
                }
                _ => {}
            }
        }
    }
}

impl Drop for LspSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An LSP diagnostic at 1-based positions of its file. Errors and warnings; hints and
/// suggestions (unused variables...) are dropped, as the command-line compiler does.
fn diagnostic_from_lsp(item: &Value) -> Option<Diagnostic> {
    let severity = match item.get("severity").and_then(Value::as_u64) {
        Some(1) | None => Severity::Error,
        Some(2) => Severity::Warning,
        _ => return None,
    };
    let start = &item["range"]["start"];
    let code = match &item["code"] {
        Value::Number(n) => format!("TS{n}"),
        Value::String(s) => s.clone(),
        _ => "TS0".into(),
    };
    let message = item["message"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some(Diagnostic {
        line: start["line"].as_u64().unwrap_or(0) as u32 + 1,
        column: start["character"].as_u64().unwrap_or(0) as u32 + 1,
        code,
        message,
        severity,
    })
}

/// Reads one `Content-Length` framed message; `None` at the end of the stream.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    loop {
        let mut length = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).ok()? == 0 {
                return None;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let Some(length) = length else { continue };
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).ok()?;
        match serde_json::from_slice(&body) {
            Ok(message) => return Some(message),
            Err(e) => tracing::debug!(error = %e, "ignoring a malformed message from the language server"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_framed_messages_and_maps_positions() {
        let body = r#"{"jsonrpc":"2.0","id":1,"result":null}"#;
        let text = format!(
            "Content-Length: {}\r\n\r\n{body}Content-Length: 2\r\nContent-Type: x\r\n\r\n{{}}",
            body.len()
        );
        let mut reader = std::io::Cursor::new(text.into_bytes());
        assert_eq!(
            read_message(&mut reader),
            Some(json!({"jsonrpc": "2.0", "id": 1, "result": null}))
        );
        assert_eq!(read_message(&mut reader), Some(json!({})));
        assert_eq!(read_message(&mut reader), None);

        let item = json!({
            "range": {"start": {"line": 3, "character": 6}},
            "severity": 1, "code": 2322,
            "message": "Type 'string' is not assignable to type 'number'.\n  Because."
        });
        let d = diagnostic_from_lsp(&item).expect("an error");
        assert_eq!((d.line, d.column, d.code.as_str()), (4, 7, "TS2322"));
        assert_eq!(d.message, "Type 'string' is not assignable to type 'number'. Because.");
        let hint =
            json!({"range": {"start": {"line": 0, "character": 0}}, "severity": 4, "code": 6133, "message": "unused"});
        assert_eq!(diagnostic_from_lsp(&hint), None);
    }
}
