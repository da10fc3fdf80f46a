//! [`CodeModeBuilder`]: the models, tools, environment and checker a [`CodeMode`] is made of.

use std::sync::{Arc, RwLock};

use super::CodeMode;
use crate::approval::{ApprovalMemory, Approver, DenyAll};
use crate::catalog::ToolCatalog;
use crate::catalog::learned::LearnedTypes;
use codemode_traits::{CodeModeError, Llm, RunEnvironment, ToolProvider, TypeChecker};
use codemode_typescript::BuiltinTypeChecker;

/// Builds a [`CodeMode`].
#[derive(Default)]
pub struct CodeModeBuilder {
    strategy: Option<Arc<dyn Llm>>,
    tiny: Option<Arc<dyn Llm>>,
    main: Option<Arc<dyn Llm>>,
    catalog: ToolCatalog,
    providers: Vec<(String, Arc<dyn ToolProvider>)>,
    environment: Option<Arc<dyn RunEnvironment>>,
    checker: Option<Arc<dyn TypeChecker>>,
    secrets: Vec<String>,
    warnings: Vec<String>,
    approver: Option<Arc<dyn Approver>>,
    learned: Option<Arc<LearnedTypes>>,
}

impl CodeModeBuilder {
    /// Output types learned from tool results: runs add to them, and tools that declare no
    /// output schema are typed with them (see [`LearnedTypes`]). Off unless set.
    pub fn learned_types(mut self, learned: Arc<LearnedTypes>) -> Self {
        self.learned = Some(learned);
        self
    }

    /// The model that writes the plan.
    pub fn strategy_llm(mut self, llm: Arc<dyn Llm>) -> Self {
        self.strategy = Some(llm);
        self
    }

    /// The small model that filters tools.
    pub fn tiny_llm(mut self, llm: Arc<dyn Llm>) -> Self {
        self.tiny = Some(llm);
        self
    }

    /// The model that writes and repairs code.
    pub fn main_llm(mut self, llm: Arc<dyn Llm>) -> Self {
        self.main = Some(llm);
        self
    }

    /// One model for all three roles.
    pub fn llm(self, llm: Arc<dyn Llm>) -> Self {
        self.strategy_llm(llm.clone()).tiny_llm(llm.clone()).main_llm(llm)
    }

    /// Decides on the tool calls that need approval under the run's `approval` policy
    /// (default `destructive`). Without one, those calls are denied with a message saying how
    /// to allow them.
    pub fn approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approver = Some(approver);
        self
    }

    /// Adds a tool provider under a namespace; its tools are listed by `build`.
    pub fn tool_provider(mut self, namespace: impl Into<String>, provider: Arc<dyn ToolProvider>) -> Self {
        self.providers.push((namespace.into(), provider));
        self
    }

    /// Adds the tools of an already built catalog.
    pub fn catalog(mut self, catalog: ToolCatalog) -> Self {
        self.catalog.merge(catalog);
        self
    }

    /// Where programs run.
    pub fn environment(mut self, environment: Arc<dyn RunEnvironment>) -> Self {
        self.environment = Some(environment);
        self
    }

    /// The type checker (the built-in oxc checker by default).
    pub fn type_checker(mut self, checker: Arc<dyn TypeChecker>) -> Self {
        self.checker = Some(checker);
        self
    }

    /// Extra secret values to redact from prompt logs (API keys are redacted anyway).
    pub fn secret(mut self, value: impl Into<String>) -> Self {
        self.secrets.push(value.into());
        self
    }

    /// A warning about the set-up, copied into every [`RunReport`](crate::RunReport)'s
    /// `warnings`: what a reader of the report should know, e.g. that the built-in checker
    /// runs because TypeScript 7 is missing.
    pub fn warning(mut self, text: impl Into<String>) -> Self {
        self.warnings.push(text.into());
        self
    }

    /// Lists the tools of every provider and builds the pipeline. Providers that fail are
    /// left out and reported by [`CodeMode::provider_failures`].
    pub async fn build(self) -> Result<CodeMode, CodeModeError> {
        let (listed, provider_failures) = ToolCatalog::from_providers(self.providers.clone()).await;
        let mut catalog = self.catalog.clone();
        catalog.merge(listed);
        Ok(CodeMode {
            strategy: self.strategy,
            tiny: self.tiny,
            main: self.main,
            catalog: RwLock::new(Arc::new(catalog)),
            fixed_catalog: self.catalog,
            providers: self.providers,
            environment: self.environment,
            checker: self.checker.unwrap_or_else(|| Arc::new(BuiltinTypeChecker)),
            provider_failures,
            secrets: self.secrets,
            warnings: self.warnings,
            approver: self.approver.unwrap_or_else(|| Arc::new(DenyAll::default())),
            approval_memory: Arc::new(ApprovalMemory::default()),
            learned: self.learned,
            typed_catalog: std::sync::Mutex::new(None),
        })
    }
}
