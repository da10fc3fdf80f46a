//! `OpenAiClient`: one server (its URL, key, headers, retries), shared by its models.

use std::sync::Arc;
use std::time::Duration;

use codemode_rest::RetryPolicy;

use crate::{ChatModel, OPENAI_API_KEY_ENV, OPENAI_BASE_URL};

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OpenAiError {
    /// The API key variable is not set.
    #[error("{variable} is not set: export it with your API key")]
    MissingKey {
        /// The variable to set.
        variable: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    /// A setting is invalid.
    #[error("invalid setting: {0}")]
    Setting(String),
}

pub(crate) struct ClientInner {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) api_key: Option<String>,
    pub(crate) key_variable: String,
    pub(crate) service: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) retry: RetryPolicy,
}

/// A connection to an OpenAI-compatible server. Cheap to clone.
#[derive(Clone)]
pub struct OpenAiClient {
    pub(crate) inner: Arc<ClientInner>,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &self.inner.api_key.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

/// Builds an [`OpenAiClient`].
#[derive(Debug, Clone)]
pub struct OpenAiClientBuilder {
    base_url: String,
    api_key: Option<String>,
    api_key_env: Option<String>,
    key_required: bool,
    service: String,
    headers: Vec<(String, String)>,
    retry: RetryPolicy,
    timeout: Duration,
}

impl Default for OpenAiClientBuilder {
    fn default() -> Self {
        Self {
            base_url: OPENAI_BASE_URL.into(),
            api_key: None,
            api_key_env: None,
            key_required: false,
            service: "the server".into(),
            headers: Vec::new(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(300),
        }
    }
}

impl OpenAiClientBuilder {
    /// Base URL, e.g. `http://localhost:11434/v1` (without `/chat/completions`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The API key itself.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The variable to read the key from; named in authentication errors.
    pub fn api_key_env(mut self, variable: impl Into<String>) -> Self {
        self.api_key_env = Some(variable.into());
        self
    }

    /// Fail at `build` when no key is found.
    pub fn require_key(mut self) -> Self {
        self.key_required = true;
        self
    }

    /// The service's name in error messages (e.g. `OpenAI`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service = name.into();
        self
    }

    /// A header sent with every request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Default request timeout (per attempt).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<OpenAiClient, OpenAiError> {
        let variable = self.api_key_env.clone().unwrap_or_else(|| OPENAI_API_KEY_ENV.into());
        let api_key = match self.api_key {
            Some(k) => Some(k),
            None => self
                .api_key_env
                .as_ref()
                .and_then(|v| std::env::var(v).ok())
                .filter(|k| !k.trim().is_empty()),
        };
        if self.key_required && api_key.is_none() {
            return Err(OpenAiError::MissingKey { variable });
        }
        let http = codemode_rest::http_client()
            .timeout(self.timeout)
            .build()
            .map_err(|e| OpenAiError::Http(e.to_string()))?;
        Ok(OpenAiClient {
            inner: Arc::new(ClientInner {
                http,
                base_url: self.base_url,
                api_key,
                key_variable: variable,
                service: self.service,
                headers: self.headers,
                retry: self.retry,
            }),
        })
    }
}

impl OpenAiClient {
    /// OpenAI, with the key from `OPENAI_API_KEY` (required).
    pub fn new() -> Result<Self, OpenAiError> {
        Self::builder()
            .api_key_env(OPENAI_API_KEY_ENV)
            .require_key()
            .service_name("OpenAI")
            .build()
    }

    /// A builder (defaults: OpenAI's URL, no key).
    pub fn builder() -> OpenAiClientBuilder {
        OpenAiClientBuilder::default()
    }

    /// A model of this server as an `Llm` (the shape of the seed's `getLLM(model)`).
    pub fn llm(&self, model: impl Into<String>) -> ChatModel {
        ChatModel::new(self.clone(), model.into())
    }
}
