//! [E2B](https://e2b.dev) cloud sandboxes as a codemode [`RunEnvironment`]: every run gets a
//! fresh sandbox (a Firecracker microVM), deleted when the run ends, whatever the outcome.
//!
//! The program runs under Node.js inside the sandbox with the same runner and JSON-lines
//! protocol as the local `node` environment ([`codemode_env_local::runner`]): the runner's
//! stdout comes back as envd process events (Connect server stream), host messages go in
//! with envd's `SendInput`. Tool calls cross the bridge to the host, so API keys and tool
//! credentials never enter the sandbox. The sandbox is created without internet access
//! unless `allow_internet` is set, and with no environment variables from the host.
//!
//! Limits: the wall clock (sandbox creation included) and the size of values crossing the
//! bridge are enforced by the host; memory with V8's heap limit; console output is capped.
//! A CPU budget below the wall clock cannot be measured from outside the VM and is not
//! enforced separately (the wall clock still holds).
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode_core::{CodeMode, RunOptions};
//! use codemode_env_e2b::{E2bConfig, E2bEnvironment};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let e2b = E2bEnvironment::new(E2bConfig::default())?; // reads E2B_API_KEY
//! let codemode = CodeMode::builder().environment(Arc::new(e2b)).build().await?;
//! let report = codemode.run(codemode_core::RunRequest::program("return 6 * 7;", RunOptions::default())).await?;
//! assert_eq!(report.output, serde_json::json!(42));
//! # Ok(()) }
//! ```

mod connect;
mod envd;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use codemode_env_local::ConsoleCapture;
use codemode_env_local::runner::{self, DriveEnd, StderrTail};
use codemode_rest::RestClient;
use codemode_traits::registry::{FactoryContext, RunEnvironmentFactory};
use codemode_traits::{
    CodeModeError, ExecutionLimits, ExecutionRequest, FailureKind, RunEnvironment, RunFailure, RunOutcome, ToolBridge,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::BufReader;
use tokio::time::Instant;

use crate::connect::{envelope, error_message};
use crate::envd::{EnvdInput, EventStream, bootstrap_script};

/// E2B's API.
pub const E2B_API_URL: &str = "https://api.e2b.app";
/// The domain sandboxes are reached under.
pub const E2B_DOMAIN: &str = "e2b.app";
/// The variable holding the E2B API key.
pub const E2B_API_KEY_ENV: &str = "E2B_API_KEY";
/// The template sandboxes start from: E2B's `base` image, which has Node.js.
pub const DEFAULT_TEMPLATE: &str = "base";
/// The port of envd, the daemon inside every sandbox.
const ENVD_PORT: u16 = 49983;
/// The bootstrap script travels as one command-line argument; Linux caps one at 128 KiB.
const MAX_SCRIPT_BYTES: usize = 120 * 1024;
/// How long deleting a sandbox may take before the run ends without waiting.
const DELETE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how sandboxes are made: the `[environments.e2b]` table of `codemode.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct E2bConfig {
    /// The template to start from (default [`DEFAULT_TEMPLATE`]); it must have Node.js 20+.
    #[serde(default)]
    pub template: Option<String>,
    /// The variable holding the API key (default [`E2B_API_KEY_ENV`]); never the key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The API's base URL (default [`E2B_API_URL`]).
    #[serde(default)]
    pub api_url: Option<String>,
    /// The domain sandboxes are reached under, when the API does not say (default
    /// [`E2B_DOMAIN`]).
    #[serde(default)]
    pub domain: Option<String>,
    /// envd's URL, with `{sandbox_id}` standing for the sandbox (default
    /// `https://49983-{sandbox_id}.DOMAIN`); for self-hosted E2B and tests.
    #[serde(default)]
    pub envd_url: Option<String>,
    /// Let programs reach the internet from the sandbox (default false: the bridge is the
    /// only way out).
    #[serde(default)]
    pub allow_internet: bool,
    /// The Node.js command inside the sandbox (default `node`).
    #[serde(default)]
    pub node: Option<String>,
}

/// Why the environment could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum E2bError {
    /// The API key variable is not set.
    #[error("{variable} is not set: export your E2B API key (e2b.dev, Dashboard, API keys)")]
    MissingKey {
        /// The variable to set.
        variable: String,
    },
    /// A URL or another setting is invalid.
    #[error("invalid E2B setting: {0}")]
    Setting(String),
    /// The API URL is invalid or the HTTP client could not be built.
    #[error("invalid E2B setting: {0}")]
    Rest(#[from] codemode_rest::RestError),
}

/// Runs each program in a fresh E2B sandbox.
pub struct E2bEnvironment {
    api: RestClient,
    envd: reqwest::Client,
    api_key: String,
    config: E2bConfig,
}

impl std::fmt::Debug for E2bEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E2bEnvironment")
            .field("api", &self.api)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A sandbox made for one run.
struct Sandbox {
    id: String,
    envd_url: String,
    access_token: Option<String>,
}

impl E2bEnvironment {
    /// An environment with the API key from the configured variable.
    pub fn new(config: E2bConfig) -> Result<Self, E2bError> {
        let variable = config.api_key_env.clone().unwrap_or_else(|| E2B_API_KEY_ENV.into());
        let key = std::env::var(&variable)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .ok_or(E2bError::MissingKey { variable })?;
        Self::with_api_key(config, key)
    }

    /// An environment with an API key given directly.
    pub fn with_api_key(config: E2bConfig, api_key: impl Into<String>) -> Result<Self, E2bError> {
        let api_url = config.api_url.as_deref().unwrap_or(E2B_API_URL);
        let api = RestClient::new("E2B", "e2b", api_url, Some(60.0))?;
        let api_key = api_key.into();
        api.add_secret(api_key.clone());
        if let Some(url) = &config.envd_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(E2bError::Setting(format!("envd_url `{url}` is not an HTTP URL")));
        }
        if let Some(node) = &config.node
            && !node.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
        {
            return Err(E2bError::Setting(format!(
                "node `{node}` must be a plain command or path"
            )));
        }
        let envd = codemode_rest::http_client()
            .build()
            .map_err(|e| E2bError::Setting(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            api,
            envd,
            api_key,
            config,
        })
    }

    fn failure(&self, kind: FailureKind, message: impl AsRef<str>) -> RunFailure {
        RunFailure::new(kind, self.api.clean(message.as_ref()))
    }

    async fn create_sandbox(&self, limits: &ExecutionLimits) -> Result<Sandbox, RunFailure> {
        let template = self.config.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
        // The sandbox outlives a run by a little at most: it is deleted at the end, and
        // E2B removes it itself after this many seconds if the delete is lost.
        let ttl = limits.total_timeout.as_secs() + 30;
        let body = json!({
            "templateID": template,
            "timeout": ttl,
            "secure": true,
            "allow_internet_access": self.config.allow_internet,
            "envVars": {},
            "metadata": {"created_by": "codemode"},
        });
        let url = self.api.url(&["sandboxes"], &[]);
        let answer = self
            .api
            .send(false, |http| {
                http.post(url.clone()).header("x-api-key", &self.api_key).json(&body)
            })
            .await
            .map_err(|e| self.failure(FailureKind::Environment, format!("cannot create an E2B sandbox: {e}")))?;
        if !answer.status.is_success() {
            let credentials = format!(
                "the API key from {}",
                self.config.api_key_env.as_deref().unwrap_or(E2B_API_KEY_ENV)
            );
            let error = self.api.http_error(&answer, None, &credentials);
            return Err(self.failure(
                FailureKind::Environment,
                format!("cannot create an E2B sandbox from template `{template}`: {error}"),
            ));
        }
        let field = |name: &str| answer.body.get(name).and_then(Value::as_str).map(str::to_string);
        let Some(id) = field("sandboxID") else {
            return Err(self.failure(
                FailureKind::Environment,
                "E2B created a sandbox but did not say its sandboxID",
            ));
        };
        let access_token = field("envdAccessToken").filter(|t| !t.is_empty());
        if let Some(token) = &access_token {
            self.api.add_secret(token.clone());
        }
        let envd_url = match &self.config.envd_url {
            Some(template) => template.replace("{sandbox_id}", &id),
            None => {
                let domain = field("domain")
                    .filter(|d| !d.is_empty())
                    .or_else(|| self.config.domain.clone())
                    .unwrap_or_else(|| E2B_DOMAIN.into());
                format!("https://{ENVD_PORT}-{id}.{domain}")
            }
        };
        Ok(Sandbox {
            id,
            envd_url: envd_url.trim_end_matches('/').to_string(),
            access_token,
        })
    }

    async fn delete_sandbox(&self, id: &str) {
        let url = self.api.url(&["sandboxes", id], &[]);
        let deleted = tokio::time::timeout(
            DELETE_TIMEOUT,
            self.api
                .send(true, |http| http.delete(url.clone()).header("x-api-key", &self.api_key)),
        )
        .await;
        match deleted {
            Ok(Ok(answer)) if answer.status.is_success() || answer.status.as_u16() == 404 => {}
            Ok(Ok(answer)) => {
                tracing::warn!(sandbox = id, status = %answer.status, "E2B did not delete the sandbox; it expires by itself")
            }
            Ok(Err(e)) => {
                tracing::warn!(sandbox = id, error = %e, "cannot delete the E2B sandbox; it expires by itself")
            }
            Err(_) => tracing::warn!(sandbox = id, "deleting the E2B sandbox timed out; it expires by itself"),
        }
    }

    fn envd_request(&self, sandbox: &Sandbox, method: &str) -> reqwest::RequestBuilder {
        let url = format!("{}/process.Process/{method}", sandbox.envd_url);
        // envd runs processes as the Linux user named in Basic auth; the token (secure
        // sandboxes) authorizes the request.
        let mut request = self
            .envd
            .post(url)
            .header("authorization", format!("Basic {}", BASE64.encode("user:")));
        if let Some(token) = &sandbox.access_token {
            request = request.header("x-access-token", token);
        }
        request
    }

    async fn run(
        &self,
        request: ExecutionRequest,
        bridge: Arc<dyn ToolBridge>,
        console: &mut ConsoleCapture,
    ) -> Result<Value, RunFailure> {
        let limits = request.limits;
        let deadline = Instant::now() + limits.total_timeout;
        let memory_mb = runner::heap_limit_mb(&limits);
        let script = bootstrap_script(
            &request.javascript,
            self.config.node.as_deref().unwrap_or("node"),
            memory_mb,
        );
        if script.len() > MAX_SCRIPT_BYTES {
            return Err(RunFailure::new(
                FailureKind::Environment,
                format!(
                    "the program is too large for the E2B environment ({} bytes encoded; at most {MAX_SCRIPT_BYTES})",
                    script.len()
                ),
            ));
        }
        let sandbox = match tokio::time::timeout_at(deadline, self.create_sandbox(&limits)).await {
            Ok(created) => created?,
            Err(_) => return Err(RunFailure::timeout(limits.total_timeout)),
        };
        tracing::debug!(sandbox = %sandbox.id, "E2B sandbox created");
        let outcome = self.run_in(&sandbox, &script, bridge, limits, deadline, console).await;
        self.delete_sandbox(&sandbox.id).await;
        outcome
    }

    async fn run_in(
        &self,
        sandbox: &Sandbox,
        script: &str,
        bridge: Arc<dyn ToolBridge>,
        limits: ExecutionLimits,
        deadline: Instant,
        console: &mut ConsoleCapture,
    ) -> Result<Value, RunFailure> {
        let start = json!({
            "process": {"cmd": "/bin/bash", "args": ["-c", script], "envs": {}},
            "stdin": true,
        });
        let response = self
            .envd_request(sandbox, "Start")
            .header("content-type", "application/connect+json")
            .header("connect-protocol-version", "1")
            .body(envelope(&start))
            .send();
        let response = match tokio::time::timeout_at(deadline, response).await {
            Err(_) => return Err(RunFailure::timeout(limits.total_timeout)),
            Ok(Err(e)) => {
                return Err(self.failure(
                    FailureKind::Environment,
                    format!("cannot reach the sandbox's envd at {}: {e}", sandbox.envd_url),
                ));
            }
            Ok(Ok(r)) => r,
        };
        if !response.status().is_success() {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            return Err(self.failure(
                FailureKind::Environment,
                format!(
                    "envd refused to start the runner (HTTP {}): {}",
                    status.as_u16(),
                    error_message(&body).unwrap_or_else(|| body.to_string())
                ),
            ));
        }
        let mut events = EventStream::new(response);
        let pid = match tokio::time::timeout_at(deadline, events.wait_for_start()).await {
            Err(_) => return Err(RunFailure::timeout(limits.total_timeout)),
            Ok(Err(message)) => return Err(self.failure(FailureKind::Environment, message)),
            Ok(Ok(pid)) => pid,
        };
        let (reader, writer) = tokio::io::duplex(64 * 1024);
        let stderr = Arc::new(Mutex::new(StderrTail::default()));
        let end = Arc::new(Mutex::new(None));
        let mut pump = tokio::spawn(events.pump(writer, stderr.clone(), end.clone()));
        let mut input = EnvdInput {
            request: self.envd_request(sandbox, "SendInput"),
            pid,
        };
        let driven = runner::drive(
            BufReader::new(reader),
            &mut input,
            bridge,
            limits,
            deadline,
            console,
            None,
        )
        .await;
        let outcome = match driven {
            Ok(value) => Ok(value),
            Err(DriveEnd::Failed(failure)) => Err(failure),
            Err(DriveEnd::OutputClosed) => {
                // The pump closes stdout after it has seen the end event (or the stream
                // broke); let it record that.
                let _ = tokio::time::timeout(Duration::from_secs(1), &mut pump).await;
                Err(self.exit_failure(&stderr, &end))
            }
        };
        pump.abort();
        outcome
    }

    fn exit_failure(&self, stderr: &Mutex<StderrTail>, end: &Mutex<Option<String>>) -> RunFailure {
        let status = end
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_else(|| "the process stream ended".into());
        let who = "the runner in the E2B sandbox";
        let mut failure = match stderr.lock() {
            Ok(tail) => runner::exit_failure(who, &status, &tail),
            Err(_) => runner::exit_failure(who, &status, &StderrTail::default()),
        };
        failure.message = self.api.clean(&failure.message);
        failure
    }
}

#[async_trait]
impl RunEnvironment for E2bEnvironment {
    fn name(&self) -> &str {
        "e2b"
    }

    async fn execute(&self, request: ExecutionRequest, bridge: Arc<dyn ToolBridge>) -> RunOutcome {
        let mut console = ConsoleCapture::new(request.limits.max_console_bytes);
        let result = self.run(request, bridge, &mut console).await;
        RunOutcome {
            result,
            console: console.into_lines(),
        }
    }
}

fn create(context: &FactoryContext) -> Result<Arc<dyn RunEnvironment>, CodeModeError> {
    let config: E2bConfig = context
        .parse_settings()
        .map_err(|e| CodeModeError::Config(format!("invalid [environments.e2b] settings: {e}")))?;
    let env = E2bEnvironment::new(config).map_err(|e| CodeModeError::factory("run environment", "e2b", e))?;
    Ok(Arc::new(env))
}

inventory::submit! {
    RunEnvironmentFactory {
        name: "e2b",
        description: "a fresh E2B cloud sandbox per run (Node.js in a microVM, no internet by default); needs E2B_API_KEY",
        create,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let bad_node = E2bConfig {
            node: Some("node; rm -rf /".into()),
            ..E2bConfig::default()
        };
        assert!(E2bEnvironment::with_api_key(bad_node, "k").is_err());
        let bad_envd = E2bConfig {
            envd_url: Some("ftp://x".into()),
            ..E2bConfig::default()
        };
        assert!(E2bEnvironment::with_api_key(bad_envd, "k").is_err());
        let unknown: Result<E2bConfig, _> = serde_json::from_value(json!({"templat": "base"}));
        assert!(unknown.is_err());
        let env = E2bEnvironment::with_api_key(E2bConfig::default(), "e2b_secret_key_123").unwrap();
        assert!(!format!("{env:?}").contains("e2b_secret_key_123"));
    }
}
