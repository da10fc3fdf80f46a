//! The models of the three roles: from `[llm.*]`, from `--llm-base-url`, or from an API key
//! in the environment.

use std::sync::Arc;

use anyhow::Result;
use codemode::Llm;
#[cfg(feature = "demo")]
use codemode::config::LlmConfig;

/// The model of each role, and where they come from.
pub struct RoleModels {
    pub description: String,
    pub strategy: Arc<dyn Llm>,
    pub tiny: Arc<dyn Llm>,
    pub main: Arc<dyn Llm>,
}

impl RoleModels {
    /// One model in every role.
    #[cfg(feature = "demo")]
    pub fn same(description: String, model: Arc<dyn Llm>) -> Self {
        Self {
            description,
            strategy: model.clone(),
            tiny: model.clone(),
            main: model,
        }
    }

    /// Each model wrapped so that its calls are appended to `path`.
    pub fn recorded(self, path: &std::path::Path) -> Result<Self> {
        let wrap =
            |m: Arc<dyn Llm>| -> Result<Arc<dyn Llm>> { Ok(Arc::new(codemode::record::RecordingLlm::new(m, path)?)) };
        Ok(Self {
            description: self.description,
            strategy: wrap(self.strategy)?,
            tiny: wrap(self.tiny)?,
            main: wrap(self.main)?,
        })
    }
}

/// Which live models to use: a server's URL and the model of each role.
#[cfg(feature = "demo")]
pub struct LiveModelArgs {
    pub llm_base_url: Option<String>,
    /// Strategy and main.
    pub model: Option<String>,
    pub strategy_model: Option<String>,
    pub tiny_model: Option<String>,
}

#[cfg(feature = "demo")]
fn llm(provider: &str, model: &str, base_url: Option<&str>) -> Result<Arc<dyn Llm>> {
    let config = LlmConfig {
        provider: provider.into(),
        model: model.into(),
        base_url: base_url.map(str::to_string),
        api_key_env: None,
        settings: Default::default(),
    };
    let context = codemode::registry::FactoryContext::new("demo", config);
    Ok(codemode::registry::create_llm(&context)?)
}

/// Live models from `--llm-base-url`, or from `OPENROUTER_API_KEY` / `OPENAI_API_KEY`;
/// `None` when none of them is given.
#[cfg(feature = "demo")]
pub fn live_models(args: &LiveModelArgs) -> Result<Option<RoleModels>> {
    let live = |provider: &str, main: &str, tiny: &str, base: Option<&str>, label: String| -> Result<RoleModels> {
        let main_model = args.model.clone().unwrap_or_else(|| main.to_string());
        let strategy_model = args.strategy_model.clone().unwrap_or_else(|| main_model.clone());
        let tiny_model = args.tiny_model.clone().unwrap_or_else(|| tiny.to_string());
        let strategy_label = if strategy_model == main_model {
            format!("strategy and main {main_model}")
        } else {
            format!("strategy {strategy_model}, main {main_model}")
        };
        Ok(RoleModels {
            description: format!("{label}: {strategy_label}, tiny {tiny_model}"),
            strategy: llm(provider, &strategy_model, base)?,
            tiny: llm(provider, &tiny_model, base)?,
            main: llm(provider, &main_model, base)?,
        })
    };
    if let Some(url) = &args.llm_base_url {
        let model = args.model.clone().unwrap_or_else(|| "llama3.2".into());
        return live(
            "openai",
            &model,
            &model,
            Some(url),
            format!("live, OpenAI-compatible server at {url}"),
        )
        .map(Some);
    }
    if std::env::var_os("OPENROUTER_API_KEY").is_some() {
        return live(
            "openrouter",
            "anthropic/claude-sonnet-4.5",
            "google/gemini-2.5-flash",
            None,
            "live, OpenRouter".into(),
        )
        .map(Some);
    }
    if std::env::var_os("OPENAI_API_KEY").is_some() {
        return live("openai", "gpt-5", "gpt-5-mini", None, "live, OpenAI".into()).map(Some);
    }
    Ok(None)
}
