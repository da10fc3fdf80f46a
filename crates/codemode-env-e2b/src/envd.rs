//! The runner's process in the sandbox, as envd sees it: the bootstrap script that starts it,
//! its stdin (`SendInput`) and its event stream (`Start`).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use codemode_env_local::runner::{self, RunnerInput, StderrTail};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::connect::{END_STREAM, error_message, take_envelopes};

/// The bash script that writes the runner and the program into a fresh directory and
/// starts Node.js on them. Both files travel base64-encoded (no quoting issues).
pub(crate) fn bootstrap_script(javascript: &str, node: &str, memory_mb: u64) -> String {
    let runner_b64 = BASE64.encode(runner::RUNNER_JS);
    let program_b64 = BASE64.encode(runner::program_module(javascript));
    format!(
        "set -e\nd=$(mktemp -d)\ncd \"$d\"\nprintf '%s' '{runner_b64}' | base64 -d > runner.mjs\nprintf '%s' '{program_b64}' | base64 -d > program.mjs\nexec {node} --max-old-space-size={memory_mb} --disallow-code-generation-from-strings runner.mjs\n"
    )
}

/// The runner's stdin: envd's `SendInput` for the process.
pub(crate) struct EnvdInput {
    pub(crate) request: reqwest::RequestBuilder,
    pub(crate) pid: u32,
}

#[async_trait]
impl RunnerInput for EnvdInput {
    async fn send_line(&mut self, line: Vec<u8>) -> std::io::Result<()> {
        let body = json!({"process": {"pid": self.pid}, "input": {"stdin": BASE64.encode(line)}});
        let request = self
            .request
            .try_clone()
            .ok_or_else(|| std::io::Error::other("cannot repeat the SendInput request"))?;
        let response = request
            .header("content-type", "application/json")
            .header("connect-protocol-version", "1")
            .json(&body)
            .send()
            .await
            .map_err(std::io::Error::other)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "envd SendInput answered HTTP {}",
                response.status().as_u16()
            )))
        }
    }
}

/// envd's `Start` stream: process events in Connect envelopes.
pub(crate) struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
    pending: std::collections::VecDeque<(u8, Value)>,
}

/// One event of the stream, as far as the runner needs it.
pub(crate) enum Event {
    Start(u32),
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    End(String),
    Other,
}

impl EventStream {
    pub(crate) fn new(response: reqwest::Response) -> Self {
        Self {
            response,
            buffer: Vec::new(),
            pending: std::collections::VecDeque::new(),
        }
    }

    /// The next event; `Err` when the stream ends or breaks (with why).
    pub(crate) async fn next(&mut self) -> Result<Event, String> {
        loop {
            if let Some((flags, message)) = self.pending.pop_front() {
                if flags & END_STREAM != 0 {
                    return Err(match error_message(&message) {
                        Some(e) => format!("envd ended the process stream: {e}"),
                        None => "the process stream ended".into(),
                    });
                }
                return Ok(parse_event(&message));
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => {
                    self.buffer.extend_from_slice(&chunk);
                    self.pending.extend(take_envelopes(&mut self.buffer));
                }
                Ok(None) => return Err("the process stream ended".into()),
                Err(e) => return Err(format!("the process stream broke: {e}")),
            }
        }
    }

    /// Waits for the process's start event: its pid.
    pub(crate) async fn wait_for_start(&mut self) -> Result<u32, String> {
        loop {
            match self.next().await {
                Ok(Event::Start(pid)) => return Ok(pid),
                Ok(Event::End(status)) => return Err(format!("the runner exited at once ({status})")),
                Ok(_) => {}
                Err(e) => return Err(format!("the runner did not start: {e}")),
            }
        }
    }

    /// Copies stdout into `stdout`, keeps the tail of stderr and the end status, until the
    /// stream ends; then closes `stdout`.
    pub(crate) async fn pump(
        mut self,
        mut stdout: tokio::io::DuplexStream,
        stderr: Arc<Mutex<StderrTail>>,
        end: Arc<Mutex<Option<String>>>,
    ) {
        loop {
            match self.next().await {
                Ok(Event::Stdout(bytes)) => {
                    if stdout.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Ok(Event::Stderr(bytes)) => {
                    if let Ok(mut tail) = stderr.lock() {
                        tail.push(&bytes);
                    }
                }
                Ok(Event::End(status)) => {
                    if let Ok(mut e) = end.lock() {
                        *e = Some(status);
                    }
                    break;
                }
                Ok(Event::Start(_) | Event::Other) => {}
                Err(why) => {
                    if let Ok(mut e) = end.lock()
                        && e.is_none()
                    {
                        *e = Some(why);
                    }
                    break;
                }
            }
        }
        let _ = stdout.shutdown().await;
    }
}

fn parse_event(message: &Value) -> Event {
    let event = &message["event"];
    if let Some(pid) = event["start"]["pid"].as_u64() {
        return Event::Start(pid as u32);
    }
    let bytes = |v: &Value| v.as_str().and_then(|s| BASE64.decode(s).ok());
    if let Some(out) = bytes(&event["data"]["stdout"]) {
        return Event::Stdout(out);
    }
    if let Some(err) = bytes(&event["data"]["stderr"]) {
        return Event::Stderr(err);
    }
    if let Some(end) = event.get("end") {
        let code = end.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
        let status = end
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map_or_else(|| format!("exit code {code}"), str::to_string);
        return Event::End(match end.get("error").and_then(Value::as_str) {
            Some(e) if !e.is_empty() => format!("{status}: {e}"),
            _ => status,
        });
    }
    Event::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bootstrap_carries_runner_and_program_safely() {
        let script = bootstrap_script("return 'it''s \"quoted\" $HOME `x`';", "node", 64);
        assert!(script.contains("--max-old-space-size=64"));
        // Only base64 between the single quotes: nothing the shell would expand.
        for quoted in script.split('\'').skip(1).step_by(2) {
            assert!(
                quoted == "%s" || quoted.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)),
                "{quoted}"
            );
        }
    }

    #[test]
    fn process_events_are_read() {
        assert!(matches!(
            parse_event(&json!({"event": {"start": {"pid": 9}}})),
            Event::Start(9)
        ));
        match parse_event(&json!({"event": {"data": {"stdout": BASE64.encode("hi\n")}}})) {
            Event::Stdout(b) => assert_eq!(b, b"hi\n"),
            _ => panic!("stdout"),
        }
        match parse_event(&json!({"event": {"end": {"exitCode": 137, "exited": true, "status": "signal: killed"}}})) {
            Event::End(s) => assert_eq!(s, "signal: killed"),
            _ => panic!("end"),
        }
        assert!(matches!(
            parse_event(&json!({"event": {"keepalive": {}}})),
            Event::Other
        ));
    }
}
