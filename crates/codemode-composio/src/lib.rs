//! Composio's tools (GitHub, Gmail, Slack, Linear and hundreds more) as a codemode
//! [`ToolProvider`], over Composio's REST API (v3).
//!
//! A provider serves the tools of the toolkits and tool slugs it is configured with, for one
//! Composio user (`user_id`, whose connected accounts the tools act on). Listing follows the
//! API's pages; every tool keeps the version its schema was listed at, and calls execute that
//! version, so the TypeScript the model was shown matches what runs.
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode_composio::{ComposioConfig, ComposioToolProvider};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ComposioConfig {
//!     toolkits: vec!["github".into()],
//!     user_id: Some("user-123".into()),
//!     ..ComposioConfig::default()
//! };
//! let github = ComposioToolProvider::new("github", config)?; // reads COMPOSIO_API_KEY
//! let codemode = codemode_core::CodeMode::builder()
//!     .tool_provider("github", Arc::new(github))
//!     .build()
//!     .await?;
//! println!("{}", codemode.declarations());
//! # Ok(()) }
//! ```
//!
//! Results: a successful execution returns its `data`; an unsuccessful one fails the call
//! with Composio's error (a JS exception naming the tool). Output schemas describe `data`
//! (Composio's schemas describe the whole `{data, error, successful}` envelope; the `data`
//! part is taken). Listing is retried on 429 and 5xx; executing only on 429, because a tool
//! that failed with 5xx may have acted already. Errors never contain the API key.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use codemode_rest::{RestClient, error_text};
use codemode_traits::registry::{FactoryContext, ProviderFuture, ToolProviderFactory, accept_settings};
use codemode_traits::{ToolError, ToolProvider, ToolSpec};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Composio's API.
pub const COMPOSIO_BASE_URL: &str = "https://backend.composio.dev";
/// The variable holding the Composio API key.
pub const COMPOSIO_API_KEY_ENV: &str = "COMPOSIO_API_KEY";
/// The user tools act for when no `user_id` is configured (Composio's own default).
pub const DEFAULT_USER_ID: &str = "default";

/// Tools per page when listing (the API's maximum).
const PAGE_SIZE: &str = "100";
/// A listing longer than this many pages is taken for a server that loops.
const MAX_PAGES: usize = 200;

/// What a Composio provider serves and for whom: the `[tool_providers.NAME]` table with
/// `provider = "composio"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposioConfig {
    /// Toolkit slugs whose tools are served (`github`, `gmail`, ...).
    #[serde(default)]
    pub toolkits: Vec<String>,
    /// Individual tool slugs served as well (`SLACK_SEND_MESSAGE`, ...).
    #[serde(default)]
    pub tools: Vec<String>,
    /// The Composio user the tools act for (default [`DEFAULT_USER_ID`]).
    #[serde(default)]
    pub user_id: Option<String>,
    /// A connected account to use instead of the user's default one for the toolkit.
    #[serde(default)]
    pub connected_account_id: Option<String>,
    /// The variable holding the API key (default [`COMPOSIO_API_KEY_ENV`]); never the key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The API's base URL (default [`COMPOSIO_BASE_URL`]).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Seconds an HTTP request may take (default 120; tool calls are also bounded by
    /// `tool_call_timeout`).
    #[serde(default)]
    pub timeout_secs: Option<f64>,
}

/// Why a provider could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ComposioError {
    /// The API key variable is not set.
    #[error("{variable} is not set: export your Composio API key (app.composio.dev, Settings, API keys)")]
    MissingKey {
        /// The variable to set.
        variable: String,
    },
    /// Neither toolkits nor tools are configured.
    #[error("no tools to serve: set `toolkits` (e.g. [\"github\"]) or `tools` (tool slugs)")]
    NothingToServe,
    /// A setting is invalid (base URL, timeout).
    #[error("invalid setting: {0}")]
    Setting(#[from] codemode_rest::RestError),
}

/// Composio's tools as a codemode tool provider. Its `Debug` output shows no key.
pub struct ComposioToolProvider {
    namespace: String,
    client: RestClient,
    api_key: String,
    /// How the key is named in messages ("the API key from COMPOSIO_API_KEY").
    credentials: String,
    config: ComposioConfig,
    /// The version each listed tool was listed at, by slug.
    versions: RwLock<HashMap<String, String>>,
}

impl std::fmt::Debug for ComposioToolProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComposioToolProvider")
            .field("namespace", &self.namespace)
            .field("client", &self.client)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ComposioToolProvider {
    /// A provider for `namespace`, with the API key from the configured variable.
    pub fn new(namespace: impl Into<String>, config: ComposioConfig) -> Result<Self, ComposioError> {
        let variable = key_variable(&config);
        let key = std::env::var(&variable)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .ok_or(ComposioError::MissingKey { variable })?;
        Self::with_api_key(namespace, config, key)
    }

    /// A provider for `namespace` with an API key given directly.
    pub fn with_api_key(
        namespace: impl Into<String>,
        config: ComposioConfig,
        api_key: impl Into<String>,
    ) -> Result<Self, ComposioError> {
        if config.toolkits.is_empty() && config.tools.is_empty() {
            return Err(ComposioError::NothingToServe);
        }
        let namespace = namespace.into();
        let base = config.base_url.as_deref().unwrap_or(COMPOSIO_BASE_URL);
        let client = RestClient::new("Composio", namespace.clone(), base, config.timeout_secs)?;
        let api_key = api_key.into();
        client.add_secret(api_key.clone());
        Ok(Self {
            namespace,
            client,
            api_key,
            credentials: format!("the API key from {}", key_variable(&config)),
            config,
            versions: RwLock::new(HashMap::new()),
        })
    }

    fn user_id(&self) -> &str {
        self.config.user_id.as_deref().unwrap_or(DEFAULT_USER_ID)
    }

    /// Every page of `GET /api/v3/tools` with the given filter.
    async fn list_filtered(&self, filter: (&str, &str)) -> Result<Vec<Value>, ToolError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![filter, ("limit", PAGE_SIZE)];
            if let Some(c) = &cursor {
                query.push(("cursor", c));
            }
            let url = self.client.url(&["api", "v3", "tools"], &query);
            let answer = self
                .client
                .send(true, |http| http.get(url.clone()).header("x-api-key", &self.api_key))
                .await?;
            if !answer.status.is_success() {
                return Err(self.client.http_error(&answer, None, &self.credentials));
            }
            let page: ToolPage = serde_json::from_value(answer.body).map_err(|e| {
                self.client.unavailable(format!(
                    "unexpected answer to GET /api/v3/tools ({}={}): {e}",
                    filter.0, filter.1
                ))
            })?;
            items.extend(page.items);
            match page.next_cursor.filter(|c| !c.is_empty()) {
                Some(next) if Some(&next) == cursor.as_ref() => {
                    return Err(self
                        .client
                        .unavailable(format!("Composio returned the same page cursor twice ({next})")));
                }
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
        Err(self
            .client
            .unavailable(format!("more than {MAX_PAGES} pages of tools; narrow `toolkits`")))
    }
}

fn key_variable(config: &ComposioConfig) -> String {
    config
        .api_key_env
        .clone()
        .unwrap_or_else(|| COMPOSIO_API_KEY_ENV.into())
}

/// A page of `GET /api/v3/tools`.
#[derive(Deserialize)]
struct ToolPage {
    items: Vec<Value>,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// A listed Composio tool as a [`ToolSpec`] and the version it was listed at.
fn tool_spec(item: &Value) -> Option<(ToolSpec, Option<String>)> {
    let slug = item.get("slug").and_then(Value::as_str)?.to_string();
    let description = item
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| !d.trim().is_empty())
        .or_else(|| item.get("name").and_then(Value::as_str))
        .map(str::to_string);
    let input_schema = match item.get("input_parameters") {
        Some(Value::Object(o)) if !o.is_empty() => Value::Object(o.clone()),
        _ => json!({"type": "object", "properties": {}}),
    };
    let output_schema = match item.get("output_parameters") {
        Some(Value::Object(o)) if !o.is_empty() => Some(data_schema(o)),
        _ => None,
    };
    let version = item.get("version").and_then(Value::as_str).map(str::to_string);
    let spec = ToolSpec {
        name: slug,
        description,
        input_schema,
        output_schema,
        annotations: None,
    };
    Some((spec, version))
}

/// The schema of `data` when `schema` describes Composio's `{data, error, successful}`
/// envelope (keeping the envelope's `$defs`/`definitions`, which `data` may refer to);
/// otherwise `schema` itself.
fn data_schema(schema: &Map<String, Value>) -> Value {
    let properties = schema.get("properties").and_then(Value::as_object);
    let data = properties
        .filter(|p| p.contains_key("successful"))
        .and_then(|p| p.get("data"));
    match data {
        Some(Value::Object(data)) => {
            let mut data = data.clone();
            for key in ["$defs", "definitions"] {
                if let Some(defs) = schema.get(key)
                    && !data.contains_key(key)
                {
                    data.insert(key.to_string(), defs.clone());
                }
            }
            Value::Object(data)
        }
        Some(Value::Bool(true)) => json!({}),
        _ => Value::Object(schema.clone()),
    }
}

#[async_trait]
impl ToolProvider for ComposioToolProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let mut items = Vec::new();
        for toolkit in &self.config.toolkits {
            items.extend(self.list_filtered(("toolkit_slug", toolkit)).await?);
        }
        if !self.config.tools.is_empty() {
            let slugs = self.config.tools.join(",");
            let found = self.list_filtered(("tool_slugs", &slugs)).await?;
            let missing: Vec<&String> = self
                .config
                .tools
                .iter()
                .filter(|slug| {
                    !found
                        .iter()
                        .any(|i| i.get("slug").and_then(Value::as_str) == Some(slug.as_str()))
                })
                .collect();
            if !missing.is_empty() {
                tracing::warn!(namespace = %self.namespace, ?missing, "Composio does not know these tools");
            }
            items.extend(found);
        }
        let mut tools: BTreeMap<String, ToolSpec> = BTreeMap::new();
        let mut versions = HashMap::new();
        for item in &items {
            match tool_spec(item) {
                Some((spec, version)) => {
                    if let Some(v) = version {
                        versions.insert(spec.name.clone(), v);
                    }
                    tools.insert(spec.name.clone(), spec);
                }
                None => tracing::warn!(namespace = %self.namespace, "skipping a Composio tool without a slug"),
            }
        }
        if let Ok(mut known) = self.versions.write() {
            *known = versions;
        }
        Ok(tools.into_values().collect())
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        let mut body = Map::new();
        body.insert("user_id".into(), json!(self.user_id()));
        body.insert("arguments".into(), arguments);
        if let Some(version) = self.versions.read().ok().and_then(|v| v.get(name).cloned()) {
            body.insert("version".into(), json!(version));
        }
        if let Some(account) = &self.config.connected_account_id {
            body.insert("connected_account_id".into(), json!(account));
        }
        let body = Value::Object(body);
        let url = self.client.url(&["api", "v3", "tools", "execute", name], &[]);
        let answer = self
            .client
            .send(false, |http| {
                http.post(url.clone()).header("x-api-key", &self.api_key).json(&body)
            })
            .await?;
        if !answer.status.is_success() {
            return Err(self.client.http_error(&answer, Some(name), &self.credentials));
        }
        let answer = answer.body;
        if answer.get("successful").and_then(Value::as_bool) == Some(true) {
            return Ok(answer.get("data").cloned().unwrap_or(Value::Null));
        }
        let mut message = match answer.get("error") {
            Some(Value::Null) | None => "the tool reported a failure without details".to_string(),
            Some(e) => error_text(&json!({ "error": e })),
        };
        if let Some(log) = answer.get("log_id").and_then(Value::as_str) {
            message.push_str(&format!(" (Composio log {log})"));
        }
        Err(self.client.failed(message))
    }
}

fn create(context: FactoryContext) -> ProviderFuture {
    Box::pin(async move {
        let config: ComposioConfig = codemode_rest::provider_settings(&context, "Composio")?;
        let provider = ComposioToolProvider::new(&context.name, config).map_err(|e| ToolError::Unavailable {
            provider: context.name.clone(),
            message: e.to_string(),
        })?;
        Ok(Arc::new(provider) as Arc<dyn ToolProvider>)
    })
}

inventory::submit! {
    ToolProviderFactory {
        name: "composio",
        description: "Composio toolkits (GitHub, Gmail, Slack, ...) over its REST API; needs COMPOSIO_API_KEY",
        check: accept_settings,
        create,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_output_schemas_become_the_data_schema() {
        let envelope = json!({
            "type": "object",
            "properties": {
                "data": {"type": "object", "properties": {"issue": {"$ref": "#/$defs/Issue"}}},
                "error": {"type": ["string", "null"]},
                "successful": {"type": "boolean"}
            },
            "$defs": {"Issue": {"type": "object", "properties": {"number": {"type": "integer"}}}}
        });
        let data = data_schema(envelope.as_object().unwrap());
        assert_eq!(data["properties"]["issue"]["$ref"], "#/$defs/Issue");
        assert_eq!(data["$defs"]["Issue"]["properties"]["number"]["type"], "integer");
        let plain = json!({"type": "object", "properties": {"count": {"type": "integer"}}});
        assert_eq!(data_schema(plain.as_object().unwrap()), plain);
    }

    #[test]
    fn items_without_schemas_get_an_empty_object_input() {
        let (spec, version) = tool_spec(&json!({"slug": "HACKERNEWS_GET_FRONTPAGE", "name": "Front page"})).unwrap();
        assert_eq!(spec.name, "HACKERNEWS_GET_FRONTPAGE");
        assert_eq!(spec.description.as_deref(), Some("Front page"));
        assert_eq!(spec.input_schema, json!({"type": "object", "properties": {}}));
        assert_eq!(spec.output_schema, None);
        assert_eq!(version, None);
        assert!(tool_spec(&json!({"name": "no slug"})).is_none());
    }

    #[test]
    fn settings_are_checked() {
        let ok = ComposioConfig {
            toolkits: vec!["github".into()],
            ..ComposioConfig::default()
        };
        let provider = ComposioToolProvider::with_api_key("x", ok, "ak_secret_key_value").unwrap();
        assert!(!format!("{provider:?}").contains("ak_secret_key_value"));
        let none = ComposioToolProvider::with_api_key("x", ComposioConfig::default(), "k");
        assert!(matches!(none, Err(ComposioError::NothingToServe)));
        let config = ComposioConfig {
            toolkits: vec!["github".into()],
            base_url: Some("not a url".into()),
            ..ComposioConfig::default()
        };
        assert!(matches!(
            ComposioToolProvider::with_api_key("x", config, "k"),
            Err(ComposioError::Setting(codemode_rest::RestError::BaseUrl(_)))
        ));
        let unknown: Result<ComposioConfig, _> = serde_json::from_value(json!({"toolkit": ["github"]}));
        assert!(unknown.unwrap_err().to_string().contains("unknown field `toolkit`"));
    }
}
