//! Pipedream Connect actions (Slack, Google Sheets, GitHub and thousands more apps) as a
//! codemode [`ToolProvider`], acting for one of your users through Pipedream Connect's
//! REST API.
//!
//! The provider lists the actions of the configured apps (and individual action keys),
//! turns each action's `configurable_props` into a JSON Schema (see `props`), and runs an
//! action with the user's connected account filled in for its `app` props: the program never
//! sees account ids or credentials. It authenticates with OAuth client credentials
//! (`PIPEDREAM_CLIENT_ID`, `PIPEDREAM_CLIENT_SECRET`); the access token is cached until it
//! expires and renewed once when the API rejects it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode_pipedream::{PipedreamConfig, PipedreamToolProvider};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = PipedreamConfig {
//!     project_id: "proj_abc123".into(),
//!     external_user_id: "user-123".into(),
//!     apps: vec!["slack".into()],
//!     ..PipedreamConfig::default()
//! };
//! let slack = PipedreamToolProvider::new("slack", config)?; // reads the client credentials
//! let codemode = codemode_core::CodeMode::builder()
//!     .tool_provider("slack", Arc::new(slack))
//!     .build()
//!     .await?;
//! println!("{}", codemode.declarations());
//! # Ok(()) }
//! ```
//!
//! A call returns the action's return value (`ret`); an action that fails throws its error
//! in the program. Listing is retried on 429 and 5xx; running an action only on 429, since
//! an action answered with 5xx may have acted already. Errors never contain the client
//! secret or the access token.

mod components;
mod props;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use codemode_rest::{RestAnswer, RestClient, error_text};
use codemode_traits::registry::{FactoryContext, ProviderFuture, ToolProviderFactory, accept_settings};
use codemode_traits::{ToolError, ToolProvider, ToolSpec};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::components::{ActionInfo, Page, action_spec};

/// Pipedream's API.
pub const PIPEDREAM_BASE_URL: &str = "https://api.pipedream.com";
/// The variable holding the OAuth client id.
pub const PIPEDREAM_CLIENT_ID_ENV: &str = "PIPEDREAM_CLIENT_ID";
/// The variable holding the OAuth client secret.
pub const PIPEDREAM_CLIENT_SECRET_ENV: &str = "PIPEDREAM_CLIENT_SECRET";

/// Actions per page when listing.
const PAGE_SIZE: usize = 100;
/// A listing longer than this many pages is taken for a server that loops.
const MAX_PAGES: usize = 200;
/// A token is renewed this long before Pipedream says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// What a Pipedream provider serves and for whom: the `[tool_providers.NAME]` table with
/// `provider = "pipedream"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipedreamConfig {
    /// The Connect project (`proj_...`).
    pub project_id: String,
    /// Your user the actions act for: their connected accounts are used.
    pub external_user_id: String,
    /// App name slugs whose actions are served (`slack`, `google_sheets`, ...).
    #[serde(default)]
    pub apps: Vec<String>,
    /// Individual action keys served as well (`slack-send-message`, ...).
    #[serde(default)]
    pub actions: Vec<String>,
    /// `production` (default) or `development`.
    #[serde(default)]
    pub environment: Option<String>,
    /// The variable holding the OAuth client id (default [`PIPEDREAM_CLIENT_ID_ENV`]).
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// The variable holding the OAuth client secret (default [`PIPEDREAM_CLIENT_SECRET_ENV`]).
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The API's base URL (default [`PIPEDREAM_BASE_URL`]).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Seconds an HTTP request may take (default 120; tool calls are also bounded by
    /// `tool_call_timeout`).
    #[serde(default)]
    pub timeout_secs: Option<f64>,
}

/// Why a provider could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PipedreamError {
    /// A credential variable is not set.
    #[error("{variable} is not set: export your Pipedream OAuth client's credentials (pipedream.com, Settings, API)")]
    MissingCredential {
        /// The variable to set.
        variable: String,
    },
    /// Neither apps nor actions are configured.
    #[error("no actions to serve: set `apps` (e.g. [\"slack\"]) or `actions` (action keys)")]
    NothingToServe,
    /// A setting is invalid.
    #[error("invalid setting: {0}")]
    Setting(String),
    /// The base URL or timeout is invalid, or the HTTP client could not be built.
    #[error("invalid setting: {0}")]
    Rest(#[from] codemode_rest::RestError),
}

/// OAuth client credentials.
#[derive(Clone)]
pub struct PipedreamCredentials {
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: String,
}

impl std::fmt::Debug for PipedreamCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipedreamCredentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Pipedream Connect actions as a codemode tool provider. Its `Debug` output shows no
/// secret.
pub struct PipedreamToolProvider {
    namespace: String,
    client: RestClient,
    credentials: PipedreamCredentials,
    environment: String,
    config: PipedreamConfig,
    /// The access token and when to renew it.
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    actions: RwLock<HashMap<String, ActionInfo>>,
    /// The user's connected account id per app.
    accounts: tokio::sync::Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for PipedreamToolProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipedreamToolProvider")
            .field("namespace", &self.namespace)
            .field("client", &self.client)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn from_env(variable: String) -> Result<String, PipedreamError> {
    std::env::var(&variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(PipedreamError::MissingCredential { variable })
}

impl PipedreamToolProvider {
    /// A provider for `namespace`, with the OAuth client credentials from the configured
    /// variables.
    pub fn new(namespace: impl Into<String>, config: PipedreamConfig) -> Result<Self, PipedreamError> {
        let credentials = PipedreamCredentials {
            client_id: from_env(
                config
                    .client_id_env
                    .clone()
                    .unwrap_or_else(|| PIPEDREAM_CLIENT_ID_ENV.into()),
            )?,
            client_secret: from_env(
                config
                    .client_secret_env
                    .clone()
                    .unwrap_or_else(|| PIPEDREAM_CLIENT_SECRET_ENV.into()),
            )?,
        };
        Self::with_credentials(namespace, config, credentials)
    }

    /// A provider for `namespace` with credentials given directly.
    pub fn with_credentials(
        namespace: impl Into<String>,
        config: PipedreamConfig,
        credentials: PipedreamCredentials,
    ) -> Result<Self, PipedreamError> {
        if config.apps.is_empty() && config.actions.is_empty() {
            return Err(PipedreamError::NothingToServe);
        }
        if !config.project_id.starts_with("proj_") {
            return Err(PipedreamError::Setting(format!(
                "project_id must be a Connect project id (`proj_...`), not `{}`",
                config.project_id
            )));
        }
        if config.external_user_id.trim().is_empty() {
            return Err(PipedreamError::Setting(
                "external_user_id is empty: name the user whose connected accounts the actions use".into(),
            ));
        }
        let environment = config.environment.clone().unwrap_or_else(|| "production".into());
        if environment != "production" && environment != "development" {
            return Err(PipedreamError::Setting(format!(
                "environment must be `production` or `development`, not `{environment}`"
            )));
        }
        let namespace = namespace.into();
        let base = config.base_url.as_deref().unwrap_or(PIPEDREAM_BASE_URL);
        let client = RestClient::new("Pipedream", namespace.clone(), base, config.timeout_secs)?;
        client.add_secret(credentials.client_secret.clone());
        Ok(Self {
            namespace,
            client,
            credentials,
            environment,
            config,
            token: tokio::sync::Mutex::new(None),
            actions: RwLock::new(HashMap::new()),
            accounts: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    fn project_url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut all = vec!["v1", "connect", self.config.project_id.as_str()];
        all.extend_from_slice(segments);
        self.client.url(&all, query)
    }

    /// An access token: the cached one, or a new one from the client credentials.
    async fn access_token(&self) -> Result<String, ToolError> {
        let mut cached = self.token.lock().await;
        if let Some((token, renew_at)) = cached.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let url = self.client.url(&["v1", "oauth", "token"], &[]);
        let body = json!({
            "grant_type": "client_credentials",
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
        });
        let answer = self
            .client
            .send(true, |http| http.post(url.clone()).json(&body))
            .await?;
        let token = answer
            .body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|_| answer.status.is_success());
        let Some(token) = token else {
            return Err(self.client.unavailable(format!(
                "Pipedream refused the OAuth client credentials (HTTP {}): {}",
                answer.status.as_u16(),
                error_text(&answer.body)
            )));
        };
        let lifetime = answer.body.get("expires_in").and_then(Value::as_f64).unwrap_or(3600.0);
        let renew_at = Instant::now() + Duration::from_secs_f64(lifetime.max(0.0)).saturating_sub(TOKEN_MARGIN);
        self.client.add_secret(token);
        *cached = Some((token.to_string(), renew_at));
        Ok(token.to_string())
    }

    /// Sends a request with the access token and the environment header, renewing the
    /// token once if the API rejects it.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<RestAnswer, ToolError> {
        let mut renewed = false;
        loop {
            let token = self.access_token().await?;
            let answer = self
                .client
                .send(idempotent, |http| {
                    let request = http
                        .request(method.clone(), url.clone())
                        .bearer_auth(&token)
                        .header("x-pd-environment", &self.environment);
                    match body {
                        Some(body) => request.json(body),
                        None => request,
                    }
                })
                .await?;
            if answer.status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                *self.token.lock().await = None;
                continue;
            }
            return Ok(answer);
        }
    }

    fn http_error(&self, answer: &RestAnswer, action: Option<&str>) -> ToolError {
        let credentials = format!("the OAuth client for project {}", self.config.project_id);
        self.client.http_error(answer, action, &credentials)
    }

    /// Every page of the actions of `app`.
    async fn app_actions(&self, app: &str) -> Result<Vec<Value>, ToolError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        let limit = PAGE_SIZE.to_string();
        for _ in 0..MAX_PAGES {
            let mut query = vec![("app", app), ("limit", limit.as_str())];
            if let Some(cursor) = &after {
                query.push(("after", cursor));
            }
            let url = self.project_url(&["actions"], &query);
            let answer = self.send(Method::GET, url, None, true).await?;
            if !answer.status.is_success() {
                return Err(self.http_error(&answer, None));
            }
            let page: Page = serde_json::from_value(answer.body).map_err(|e| {
                self.client
                    .unavailable(format!("unexpected answer listing the actions of `{app}`: {e}"))
            })?;
            let got = page.data.len();
            all.extend(page.data);
            let total = page.page_info.total_count.unwrap_or(0);
            let next = page.page_info.end_cursor.filter(|c| !c.is_empty());
            if got == 0 || all.len() >= total || next.is_none() {
                return Ok(all);
            }
            if next == after {
                return Err(self
                    .client
                    .unavailable(format!("Pipedream returned the same page cursor twice for `{app}`")));
            }
            after = next;
        }
        Err(self
            .client
            .unavailable(format!("more than {MAX_PAGES} pages of actions for `{app}`")))
    }

    /// One action by key.
    async fn action(&self, key: &str) -> Result<Value, ToolError> {
        let url = self.project_url(&["actions", key], &[]);
        let answer = self.send(Method::GET, url, None, true).await?;
        if !answer.status.is_success() {
            return Err(self.http_error(&answer, Some(key)));
        }
        answer.body.get("data").cloned().ok_or_else(|| {
            self.client
                .unavailable(format!("unexpected answer for action `{key}`: no `data`"))
        })
    }

    /// The user's connected account for `app` (its `apn_...` id), looked up once.
    async fn account(&self, app: &str) -> Result<String, ToolError> {
        let mut accounts = self.accounts.lock().await;
        if let Some(id) = accounts.get(app) {
            return Ok(id.clone());
        }
        let user = self.config.external_user_id.as_str();
        let url = self.project_url(&["accounts"], &[("external_user_id", user), ("app", app)]);
        let answer = self.send(Method::GET, url, None, true).await?;
        if !answer.status.is_success() {
            return Err(self.http_error(&answer, None));
        }
        let listed = answer
            .body
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let usable = |a: &&Value| a.get("dead").and_then(Value::as_bool) != Some(true);
        let healthy = |a: &&Value| a.get("healthy").and_then(Value::as_bool) != Some(false);
        let chosen = listed
            .iter()
            .filter(usable)
            .find(healthy)
            .or_else(|| listed.iter().find(usable))
            .and_then(|a| a.get("id").and_then(Value::as_str));
        let Some(id) = chosen else {
            return Err(ToolError::Failed(format!(
                "user `{user}` has no connected {app} account in Pipedream project {}: connect one with Pipedream Connect first",
                self.config.project_id
            )));
        };
        accounts.insert(app.to_string(), id.to_string());
        Ok(id.to_string())
    }
}

#[async_trait]
impl ToolProvider for PipedreamToolProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let mut components = Vec::new();
        for app in &self.config.apps {
            components.extend(self.app_actions(app).await?);
        }
        for key in &self.config.actions {
            components.push(self.action(key).await?);
        }
        let mut tools = BTreeMap::new();
        let mut infos = HashMap::new();
        for component in &components {
            match action_spec(component) {
                Some((spec, info)) => {
                    infos.insert(spec.name.clone(), info);
                    tools.insert(spec.name.clone(), spec);
                }
                None => tracing::warn!(namespace = %self.namespace, "skipping a Pipedream action without a key"),
            }
        }
        if let Ok(mut known) = self.actions.write() {
            *known = infos;
        }
        Ok(tools.into_values().collect())
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        let info = self.actions.read().ok().and_then(|a| a.get(name).cloned());
        let Some(info) = info else {
            return Err(ToolError::UnknownTool(name.to_string()));
        };
        let mut props = match arguments {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(ToolError::Failed(format!(
                    "the input of `{name}` must be an object, not {other}"
                )));
            }
        };
        for app in &info.apps {
            let account = self.account(&app.app).await?;
            props.insert(app.prop.clone(), json!({ "authProvisionId": account }));
        }
        let mut body = json!({
            "id": name,
            "external_user_id": self.config.external_user_id,
            "configured_props": props,
        });
        if let Some(version) = &info.version {
            body["version"] = json!(version);
        }
        let url = self.project_url(&["actions", "run"], &[]);
        let answer = self.send(Method::POST, url, Some(&body), false).await?;
        if !answer.status.is_success() {
            return Err(self.http_error(&answer, Some(name)));
        }
        match answer.body.get("error") {
            None | Some(Value::Null) => Ok(answer.body.get("ret").cloned().unwrap_or(Value::Null)),
            Some(_) => Err(self.client.failed(error_text(&answer.body))),
        }
    }
}

fn create(context: FactoryContext) -> ProviderFuture {
    Box::pin(async move {
        let config: PipedreamConfig = codemode_rest::provider_settings(&context, "Pipedream")?;
        let provider = PipedreamToolProvider::new(&context.name, config).map_err(|e| ToolError::Unavailable {
            provider: context.name.clone(),
            message: e.to_string(),
        })?;
        Ok(Arc::new(provider) as Arc<dyn ToolProvider>)
    })
}

inventory::submit! {
    ToolProviderFactory {
        name: "pipedream",
        description: "Pipedream Connect actions for your users; needs PIPEDREAM_CLIENT_ID and PIPEDREAM_CLIENT_SECRET",
        check: accept_settings,
        create,
    }
}

#[cfg(test)]
mod tests;
