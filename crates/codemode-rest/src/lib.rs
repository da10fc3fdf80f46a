//! HTTP plumbing shared by codemode's HTTP clients. [`http_client`] is where every client
//! starts (TLS setup and user agent in one place). For the cloud tool providers (Composio,
//! Pipedream): one
//! [`RestClient`] per provider with a base URL, a request timeout, retries that respect
//! idempotency, errors a caller can act on, and redaction of the provider's secrets from
//! every message.
//!
//! Retries: a request answered 429 is retried (the server did not act on it); 5xx answers
//! and connection errors are retried only for idempotent requests (listing), because a tool
//! call answered with 5xx may have acted already. Waits honour `Retry-After` and are capped.
//!
//! ```no_run
//! use codemode_rest::RestClient;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = RestClient::new("Example", "example", "https://api.example.com", None)?;
//! client.add_secret("the-api-key");
//! let url = client.url(&["v1", "tools"], &[("limit", "100")]);
//! let answer = client
//!     .send(true, |http| http.get(url.clone()).header("x-api-key", "the-api-key"))
//!     .await?;
//! if !answer.status.is_success() {
//!     return Err(client.http_error(&answer, None, "the key from EXAMPLE_API_KEY").into());
//! }
//! # Ok(()) }
//! ```

mod retry;

use std::sync::RwLock;
use std::time::Duration;

use codemode_traits::ToolError;
use codemode_traits::redact::redact;
use codemode_traits::registry::FactoryContext;
use reqwest::{StatusCode, Url};
use serde_json::Value;

pub use retry::{RetryPolicy, parse_retry_after};

/// Retries of a request answered 429 (or, when idempotent, 5xx or not at all).
/// Requests take at most this long unless configured otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Error texts from servers are cut to this many characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// The base URL is not an HTTP URL.
    #[error("base_url `{0}` is not an HTTP URL")]
    BaseUrl(String),
    /// The timeout is zero, negative or not a number.
    #[error("timeout_secs must be positive, not {0}")]
    Timeout(f64),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// A status and a body (JSON when it parses, else the text as a JSON string).
#[derive(Debug, Clone)]
pub struct RestAnswer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Value,
}

/// An HTTP client for one provider's REST API. Its `Debug` output shows no secret.
pub struct RestClient {
    http: reqwest::Client,
    base_url: Url,
    service: &'static str,
    namespace: String,
    secrets: RwLock<Vec<String>>,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("service", &self.service)
            .field("namespace", &self.namespace)
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl RestClient {
    /// A client for `service` (its name in messages, e.g. `Composio`), serving the tool
    /// namespace `namespace`, at `base_url`, with requests bounded by `timeout_secs`
    /// (default 120 s).
    pub fn new(
        service: &'static str,
        namespace: impl Into<String>,
        base_url: &str,
        timeout_secs: Option<f64>,
    ) -> Result<Self, RestError> {
        let base = Url::parse(base_url.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| RestError::BaseUrl(base_url.to_string()))?;
        let timeout = match timeout_secs {
            None => DEFAULT_TIMEOUT,
            Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s),
            Some(s) => return Err(RestError::Timeout(s)),
        };
        let http = http_client()
            .timeout(timeout)
            .build()
            .map_err(|e| RestError::Http(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base,
            service,
            namespace: namespace.into(),
            secrets: RwLock::new(Vec::new()),
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The base URL with path segments (each percent-encoded) and query pairs added.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// A value never to show in a message (an API key, a token); empty values are ignored.
    pub fn add_secret(&self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.is_empty() {
            return;
        }
        if let Ok(mut secrets) = self.secrets.write()
            && !secrets.contains(&secret)
        {
            secrets.push(secret);
        }
    }

    /// `text` with every secret replaced.
    pub fn clean(&self, text: &str) -> String {
        let secrets = self.secrets.read().map(|s| s.clone()).unwrap_or_default();
        redact(text, &secrets)
    }

    /// The provider cannot be used: a [`ToolError::Unavailable`] with a cleaned message.
    pub fn unavailable(&self, message: impl AsRef<str>) -> ToolError {
        ToolError::Unavailable {
            provider: self.namespace.clone(),
            message: self.clean(message.as_ref()),
        }
    }

    /// A failed call: a [`ToolError::Failed`] with a cleaned message.
    pub fn failed(&self, message: impl AsRef<str>) -> ToolError {
        ToolError::Failed(self.clean(message.as_ref()))
    }

    /// Sends the request `build` makes (again for each retry), retrying on 429 and, when
    /// `idempotent`, on 5xx and connection errors. Any final status is returned as it is.
    pub async fn send(
        &self,
        idempotent: bool,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<RestAnswer, ToolError> {
        let policy = RetryPolicy::TOOL_PROVIDER;
        let mut retry = 0;
        loop {
            let response = match build(&self.http).header("accept", "application/json").send().await {
                Ok(r) => r,
                Err(e) if idempotent && retry < policy.max_retries && (e.is_connect() || e.is_timeout()) => {
                    tokio::time::sleep(policy.delay(retry, None)).await;
                    retry += 1;
                    continue;
                }
                Err(e) if e.is_timeout() => return Err(self.failed(format!("{} did not answer in time", self.service))),
                Err(e) => {
                    return Err(self.unavailable(format!("cannot reach {} at {}: {e}", self.service, self.base_url)));
                }
            };
            let status = response.status();
            let again = status == StatusCode::TOO_MANY_REQUESTS || (idempotent && status.is_server_error());
            if again && retry < policy.max_retries {
                let after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                tracing::debug!(service = self.service, %status, retry = retry + 1, "retrying");
                tokio::time::sleep(policy.delay(retry, after)).await;
                retry += 1;
                continue;
            }
            let text = response
                .text()
                .await
                .map_err(|e| self.unavailable(format!("cannot read {}'s answer: {e}", self.service)))?;
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            return Ok(RestAnswer { status, body });
        }
    }

    /// The error for a non-success answer: 401/403 make the provider unavailable (naming
    /// `credentials`, e.g. "the API key from COMPOSIO_API_KEY"); 404 of a call to `tool` is
    /// an unknown tool; anything else fails the call with the server's message.
    pub fn http_error(&self, answer: &RestAnswer, tool: Option<&str>, credentials: &str) -> ToolError {
        let detail = error_text(&answer.body);
        let code = answer.status.as_u16();
        match (answer.status, tool) {
            (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => self.unavailable(format!(
                "{} rejected {credentials} (HTTP {code}): {detail}",
                self.service
            )),
            (StatusCode::NOT_FOUND, Some(tool)) => {
                ToolError::UnknownTool(self.clean(&format!("{tool} ({}: {detail})", self.service)))
            }
            _ => self.failed(format!("{} answered HTTP {code}: {detail}", self.service)),
        }
    }
}

/// The builder every HTTP client of codemode starts from: TLS by rustls with the *ring*
/// provider (installed once for the process, unless the application installed one first)
/// and codemode's user agent.
pub fn http_client() -> reqwest::ClientBuilder {
    static TLS: std::sync::Once = std::sync::Once::new();
    TLS.call_once(|| {
        // An error means a provider is installed already, which is all reqwest needs.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder().user_agent(concat!("codemode/", env!("CARGO_PKG_VERSION")))
}

/// A provider's settings (the keys of its `[tool_providers.NAME]` table; `null` when none)
/// as its configuration type, or an [`ToolError::Unavailable`] naming `service`.
pub fn provider_settings<T: serde::de::DeserializeOwned>(
    context: &FactoryContext,
    service: &str,
) -> Result<T, ToolError> {
    context.parse_settings().map_err(|e| ToolError::Unavailable {
        provider: context.name.clone(),
        message: format!("invalid {service} settings: {e}"),
    })
}

/// A server's error text: `error` as a string, or `error.message` (plus `suggested_fix`
/// when given), or the body itself; cut to 500 characters.
pub fn error_text(body: &Value) -> String {
    let error = body.get("error").unwrap_or(body);
    let message = match error {
        Value::String(s) => s.clone(),
        Value::Null => "(no details)".into(),
        Value::Object(o) => o
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| error.to_string(), str::to_string),
        other => other.to_string(),
    };
    let text = match error.get("suggested_fix").and_then(Value::as_str) {
        Some(fix) if !fix.trim().is_empty() => format!("{message}; {fix}"),
        _ => message,
    };
    if text.chars().count() > MAX_MESSAGE_CHARS {
        text.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "..."
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[test]
    fn error_text_takes_message_and_fix_and_stays_short() {
        let body = json!({"error": {"message": "Connected account not found", "code": 1803,
            "suggested_fix": "Connect the toolkit first"}});
        assert_eq!(
            error_text(&body),
            "Connected account not found; Connect the toolkit first"
        );
        assert_eq!(error_text(&json!({"error": "invalid_client"})), "invalid_client");
        assert_eq!(error_text(&json!("plain text")), "plain text");
        assert_eq!(error_text(&json!({"error": null})), "(no details)");
        let long = error_text(&json!({"error": "é".repeat(600)}));
        assert_eq!(long.chars().count(), 503);
    }

    #[test]
    fn provider_settings_parse_or_name_the_service() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Settings {
            #[serde(default)]
            toolkits: Vec<String>,
        }
        let none: Settings = provider_settings(&FactoryContext::new("gh", Value::Null), "Composio").unwrap();
        assert!(none.toolkits.is_empty());
        let typo = FactoryContext::new("gh", json!({"toolkit": []}));
        let err = provider_settings::<Settings>(&typo, "Composio").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("tool provider `gh` is unavailable: invalid Composio settings: unknown field `toolkit`"),
            "{err}"
        );
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(matches!(
            RestClient::new("X", "x", "not a url", None),
            Err(RestError::BaseUrl(_))
        ));
        assert!(matches!(
            RestClient::new("X", "x", "ftp://example.com", None),
            Err(RestError::BaseUrl(_))
        ));
        assert!(matches!(
            RestClient::new("X", "x", "https://example.com", Some(0.0)),
            Err(RestError::Timeout(_))
        ));
    }

    #[test]
    fn urls_encode_segments_and_keep_the_base_path() {
        let client = RestClient::new("X", "x", "http://localhost:1/base/", None).unwrap();
        let url = client.url(&["v1", "tools", "a b/c"], &[("q", "x&y")]);
        assert_eq!(url.as_str(), "http://localhost:1/base/v1/tools/a%20b%2Fc?q=x%26y");
    }

    #[test]
    fn secrets_never_reach_messages() {
        let client = RestClient::new("X", "ns", "http://localhost:1", None).unwrap();
        client.add_secret("s3cr3t-value");
        client.add_secret("");
        let err = client.unavailable("bad key s3cr3t-value");
        assert_eq!(err.to_string(), "tool provider `ns` is unavailable: bad key [REDACTED]");
        assert!(!format!("{client:?}").contains("s3cr3t"));
    }

    #[tokio::test]
    async fn rate_limits_are_retried_and_5xx_only_when_idempotent() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/busy"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
            .up_to_n_times(2)
            .with_priority(1)
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/busy"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/broken"))
            .respond_with(ResponseTemplate::new(503).set_body_string("down"))
            .expect(1)
            .mount(&server)
            .await;
        let client = RestClient::new("X", "x", &server.uri(), None).unwrap();
        let busy = client.url(&["busy"], &[]);
        let answer = client.send(false, |h| h.get(busy.clone())).await.unwrap();
        assert_eq!(answer.body, json!({"ok": true}));
        let broken = client.url(&["broken"], &[]);
        let answer = client.send(false, |h| h.post(broken.clone())).await.unwrap();
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.body, json!("down"));
        assert_eq!(
            client.http_error(&answer, Some("t"), "the key").to_string(),
            "X answered HTTP 503: down"
        );
    }
}
