//! OpenRouter as a codemode `Llm`: OpenRouter's OpenAI-compatible API
//! with its attribution headers, provider routing preferences and model fallbacks. The HTTP,
//! retry and error handling are `codemode-openai`'s.
//!
//! ```no_run
//! use codemode_openrouter::{OpenRouterClient, ProviderPreferences};
//!
//! # fn demo() -> Result<(), codemode_openai::OpenAiError> {
//! let openrouter = OpenRouterClient::builder().app("https://example.com/my-agent", "My agent").build()?; // OPENROUTER_API_KEY
//! let main = openrouter
//!     .llm("anthropic/claude-sonnet-4")
//!     .fallback_models(["openai/gpt-5"])
//!     .provider(ProviderPreferences { sort: Some("throughput".into()), ..Default::default() })
//!     .build();
//! # Ok(()) }
//! ```

use std::sync::Arc;

use codemode_openai::{ChatModel, OpenAiClient, OpenAiError, apply_settings};
use codemode_traits::LlmConfig;
use codemode_traits::registry::{FactoryContext, LlmFactory};
use codemode_traits::{CodeModeError, Llm};
use serde::{Deserialize, Serialize};

/// OpenRouter's API.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// The variable holding the OpenRouter key.
pub const OPENROUTER_API_KEY_ENV: &str = "OPENROUTER_API_KEY";

/// Provider routing preferences (`provider` in the request body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderPreferences {
    /// Providers to try first, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<String>>,
    /// Whether other providers may serve the request when those fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_fallbacks: Option<bool>,
    /// `allow` or `deny`: providers that store data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_collection: Option<String>,
    /// `price`, `throughput` or `latency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
}

/// Builds an [`OpenRouterClient`].
#[derive(Debug, Clone, Default)]
pub struct OpenRouterClientBuilder {
    base_url: Option<String>,
    api_key: Option<String>,
    api_key_env: Option<String>,
    referer: Option<String>,
    title: Option<String>,
}

impl OpenRouterClientBuilder {
    /// Attribution: your app's URL (`HTTP-Referer`) and name (`X-OpenRouter-Title` and the
    /// older `X-Title`).
    pub fn app(mut self, url: impl Into<String>, title: impl Into<String>) -> Self {
        self.referer = Some(url.into());
        self.title = Some(title.into());
        self
    }

    /// Another base URL (a proxy, or a fake server in tests).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The key itself, instead of `OPENROUTER_API_KEY`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Read the key from this variable instead of `OPENROUTER_API_KEY`.
    pub fn api_key_env(mut self, variable: impl Into<String>) -> Self {
        self.api_key_env = Some(variable.into());
        self
    }

    /// Builds the client (the key is required).
    pub fn build(self) -> Result<OpenRouterClient, OpenAiError> {
        let mut b = OpenAiClient::builder()
            .base_url(self.base_url.unwrap_or_else(|| OPENROUTER_BASE_URL.into()))
            .api_key_env(self.api_key_env.unwrap_or_else(|| OPENROUTER_API_KEY_ENV.into()))
            .require_key()
            .service_name("OpenRouter");
        if let Some(key) = self.api_key {
            b = b.api_key(key);
        }
        if let Some(r) = self.referer {
            b = b.header("HTTP-Referer", r);
        }
        if let Some(t) = self.title {
            b = b.header("X-OpenRouter-Title", t.clone()).header("X-Title", t);
        }
        Ok(OpenRouterClient { client: b.build()? })
    }
}

/// A connection to OpenRouter.
#[derive(Debug, Clone)]
pub struct OpenRouterClient {
    client: OpenAiClient,
}

impl OpenRouterClient {
    /// OpenRouter with the key from `OPENROUTER_API_KEY`.
    pub fn new() -> Result<Self, OpenAiError> {
        Self::builder().build()
    }

    /// A builder.
    pub fn builder() -> OpenRouterClientBuilder {
        OpenRouterClientBuilder::default()
    }

    /// A model, with routing options to set before `build`.
    pub fn llm(&self, model: impl Into<String>) -> OpenRouterModel {
        OpenRouterModel {
            model: self.client.llm(model),
            provider: None,
            fallbacks: Vec::new(),
        }
    }
}

/// An OpenRouter model with routing options.
#[derive(Debug, Clone)]
pub struct OpenRouterModel {
    model: ChatModel,
    provider: Option<ProviderPreferences>,
    fallbacks: Vec<String>,
}

impl OpenRouterModel {
    /// Provider routing preferences.
    pub fn provider(mut self, preferences: ProviderPreferences) -> Self {
        self.provider = Some(preferences);
        self
    }

    /// Models to fall back to, in order, when the first is unavailable (`models`).
    pub fn fallback_models<I: IntoIterator<Item = S>, S: Into<String>>(mut self, models: I) -> Self {
        self.fallbacks = models.into_iter().map(Into::into).collect();
        self
    }

    /// Changes the underlying chat settings (temperature, max tokens, ...).
    pub fn configure(mut self, f: impl FnOnce(ChatModel) -> ChatModel) -> Self {
        self.model = f(self.model);
        self
    }

    /// The `Llm`.
    pub fn build(self) -> ChatModel {
        let mut model = self.model;
        if let Some(p) = self.provider {
            model = model.body_field("provider", serde_json::to_value(p).unwrap_or_default());
        }
        if !self.fallbacks.is_empty() {
            let mut models = vec![model.model().to_string()];
            models.extend(self.fallbacks);
            model = model.body_field("models", models.into());
        }
        model
    }
}

fn create(context: &FactoryContext<LlmConfig>) -> Result<Arc<dyn Llm>, CodeModeError> {
    let config = &context.settings;
    if config.model.is_empty() {
        return Err(CodeModeError::Config("provider \"openrouter\" needs `model`".into()));
    }
    let setting = |k: &str| config.settings.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let mut builder = OpenRouterClient::builder();
    if let Some(url) = &config.base_url {
        builder = builder.base_url(url);
    }
    if let Some(var) = &config.api_key_env {
        builder = builder.api_key_env(var);
    }
    if let (Some(referer), title) = (setting("referer"), setting("title")) {
        builder = builder.app(referer, title.unwrap_or_else(|| "codemode".into()));
    }
    let client = builder
        .build()
        .map_err(|e| CodeModeError::factory("LLM provider", "openrouter", e))?;
    let mut model = client.llm(&config.model);
    if let Some(p) = config.settings.get("provider") {
        let prefs: ProviderPreferences = serde_json::from_value(p.clone())
            .map_err(|e| CodeModeError::Config(format!("[llm] openrouter `provider` table: {e}")))?;
        model = model.provider(prefs);
    }
    if let Some(models) = config.settings.get("models").and_then(|m| m.as_array()) {
        model = model.fallback_models(models.iter().filter_map(|m| m.as_str().map(str::to_string)));
    }
    Ok(Arc::new(apply_settings(model.build(), config)?))
}

inventory::submit! {
    LlmFactory {
        name: "openrouter",
        description: "OpenRouter: model routing, fallbacks and attribution headers",
        create,
    }
}
