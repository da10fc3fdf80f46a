//! An example codemode plugin, built as a shared library: a language model behind an
//! OpenAI-compatible server (llama.cpp, Ollama, vLLM, LM Studio, `cargo xtask local-model`)
//! reached over plain HTTP with the standard library only. Load it with
//!
//! ```toml
//! [llm.main]
//! provider = "plugin"
//! name = "openai-http"                  # or: path = "target/debug/libcodemode_example_llm_plugin.so"
//! model = "qwen2.5-coder-1.5b"
//! base_url = "http://127.0.0.1:8089/v1"
//! config = { temperature = 0.0, timeout_secs = 600 }
//! ```
//!
//! It speaks `http://` only (servers on this machine or the local network); the built-in
//! `openai` provider does HTTPS, retries and streaming. `api_key_env` in `config` names a
//! variable whose value is sent as a bearer token; the key never appears in errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use codemode_plugin_abi::messages::Usage;
use codemode_plugin_abi::{CompleteRequest, Completion, PluginLlm, export_llm};
use serde_json::{Value, json};

/// The plugin's model.
pub struct HttpModel {
    host: String,
    port: u16,
    path: String,
    model: String,
    temperature: Option<f64>,
    timeout: Duration,
    api_key: Option<String>,
}

/// `http://host[:port][/path]` as host, port and path (without a trailing `/`).
fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("base_url `{url}`: this plugin speaks plain http:// only (the built-in `openai` provider does https)")
    })?;
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("base_url `{url}`: bad port `{port}`"))?,
        ),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("base_url `{url}` has no host"));
    }
    let path = path.trim_end_matches('/');
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    Ok((host.to_string(), port, path))
}

/// The body of a response with `Transfer-Encoding: chunked`.
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunked body ends early")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size `{size_text}`"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size {
            return Err("a chunk is cut short".into());
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

impl HttpModel {
    /// POSTs `body` as JSON to `path` and returns the status and the response body.
    fn post(&self, path: &str, body: &Value) -> Result<(u16, Vec<u8>), String> {
        let body = body.to_string();
        let address = format!("{}:{}", self.host, self.port);
        let stream = TcpStream::connect(&address).map_err(|e| format!("cannot connect to {address}: {e}"))?;
        stream.set_read_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(self.timeout))
            .map_err(|e| e.to_string())?;
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(key) = &self.api_key {
            head.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        head.push_str("\r\n");
        let mut writer = &stream;
        writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(body.as_bytes()))
            .map_err(|e| format!("sending the request to {address} failed: {e}"))?;
        let mut reader = BufReader::new(&stream);
        let mut status_line = String::new();
        reader
            .read_line(&mut status_line)
            .map_err(|e| format!("{address} did not answer: {e}"))?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| {
                format!(
                    "{address} answered something that is not HTTP: {:?}",
                    status_line.trim()
                )
            })?;
        let (mut chunked, mut length) = (false, None);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                } else if name == "content-length" {
                    length = value.parse::<usize>().ok();
                }
            }
        }
        let mut body = Vec::new();
        match (chunked, length) {
            (false, Some(n)) => {
                body.resize(n, 0);
                reader
                    .read_exact(&mut body)
                    .map_err(|e| format!("reading the answer: {e}"))?;
            }
            _ => {
                reader
                    .read_to_end(&mut body)
                    .map_err(|e| format!("reading the answer: {e}"))?;
            }
        }
        if chunked {
            body = dechunk(&body)?;
        }
        Ok((status, body))
    }
}

impl PluginLlm for HttpModel {
    fn create(config: Value) -> Result<Self, String> {
        let text = |key: &str| config.get(key).and_then(Value::as_str);
        let model = text("model").ok_or("the model needs `model`")?.to_string();
        let (host, port, path) = parse_url(text("base_url").unwrap_or("http://127.0.0.1:8089/v1"))?;
        let api_key = match text("api_key_env") {
            Some(var) => Some(std::env::var(var).map_err(|_| format!("api_key_env: the variable {var} is not set"))?),
            None => None,
        };
        Ok(Self {
            host,
            port,
            path,
            model,
            temperature: config.get("temperature").and_then(Value::as_f64),
            timeout: Duration::from_secs(config.get("timeout_secs").and_then(Value::as_u64).unwrap_or(600)),
            api_key,
        })
    }

    fn complete(&self, request: CompleteRequest) -> Result<Completion, String> {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let mut body = json!({"model": self.model, "messages": messages});
        // `"sampling": "varied"`: an answer other than the likeliest one (a temperature of at
        // least 0.7).
        let varied = request.sampling.as_deref() == Some("varied");
        let temperature = if varied {
            Some(self.temperature.unwrap_or(0.0).max(0.7))
        } else {
            self.temperature
        };
        if let Some(t) = temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = request.max_output_tokens {
            body["max_tokens"] = json!(n);
        }
        let (status, answer) = self.post(&format!("{}/chat/completions", self.path), &body)?;
        let text = String::from_utf8_lossy(&answer);
        if !(200..300).contains(&status) {
            let snippet: String = text.chars().take(300).collect();
            return Err(format!("the server answered HTTP {status}: {snippet}"));
        }
        let answer: Value = serde_json::from_str(&text).map_err(|e| format!("the server's answer is not JSON: {e}"))?;
        let choice = &answer["choices"][0];
        let content = choice["message"]["content"]
            .as_str()
            .ok_or_else(|| format!("the server's answer has no choices[0].message.content: {answer}"))?;
        Ok(Completion {
            usage: Some(Usage {
                prompt_tokens: answer["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                completion_tokens: answer["usage"]["completion_tokens"].as_u64().unwrap_or(0),
            }),
            truncated: choice["finish_reason"] == "length",
            ..Completion::text(content)
        })
    }
}

export_llm!(
    HttpModel,
    "openai-http",
    "An OpenAI-compatible server over plain HTTP (std only)"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_with_a_host() {
        assert_eq!(
            parse_url("http://127.0.0.1:8089/v1/").unwrap(),
            ("127.0.0.1".into(), 8089, "/v1".into())
        );
        assert_eq!(
            parse_url("http://localhost").unwrap(),
            ("localhost".into(), 80, String::new())
        );
        assert!(
            parse_url("https://api.openai.com/v1")
                .unwrap_err()
                .contains("http:// only")
        );
        assert!(parse_url("http://:80/v1").unwrap_err().contains("no host"));
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n\r\n").unwrap(),
            b"Wikipedia"
        );
        assert!(dechunk(b"9\r\nshort\r\n").is_err());
    }
}
