//! The checkers behind the `TypeChecker` boundary, registered by name: `builtin` (oxc, no
//! TypeScript needed) and `tsc` (TypeScript 7).

use std::sync::Arc;

use async_trait::async_trait;
use codemode_traits::registry::{FactoryContext, TypeCheckerFactory};
use codemode_traits::{CheckContext, CheckerError, CodeModeError, Diagnostic, TypeChecker};

use crate::check::{BUILTIN_CHECKER_NAME, BuiltinChecker};
use crate::error::TscError;
use crate::tsc::TscChecker;

/// The built-in oxc checker behind the trait.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinTypeChecker;

#[async_trait]
impl TypeChecker for BuiltinTypeChecker {
    fn name(&self) -> &str {
        BUILTIN_CHECKER_NAME
    }

    async fn check(&self, program: &str, context: CheckContext<'_>) -> Result<Vec<Diagnostic>, CheckerError> {
        Ok(BuiltinChecker::new(context.tools).check(program))
    }
}

/// The TypeScript 7 compiler behind the trait (each check runs `tsc` once, off the async
/// runtime's threads).
#[derive(Debug, Clone)]
pub struct TscTypeChecker {
    tsc: TscChecker,
    name: String,
}

impl TscTypeChecker {
    /// Wraps a discovered compiler.
    pub fn new(tsc: TscChecker) -> Self {
        let name = tsc.name();
        Self { tsc, name }
    }
}

#[async_trait]
impl TypeChecker for TscTypeChecker {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self, program: &str, context: CheckContext<'_>) -> Result<Vec<Diagnostic>, CheckerError> {
        let tsc = self.tsc.clone();
        let program = program.to_string();
        let declarations = context.declarations.to_string();
        let checked = tokio::task::spawn_blocking(move || tsc.check(&program, &declarations)).await;
        match checked {
            Ok(Ok(d)) => Ok(d),
            Ok(Err(e)) => Err(CheckerError {
                checker: self.name.clone(),
                message: e.to_string(),
            }),
            Err(e) => Err(CheckerError {
                checker: self.name.clone(),
                message: e.to_string(),
            }),
        }
    }
}

impl TscTypeChecker {
    /// TypeScript 7's `tsc` at `path`; without one, `CODEMODE_TSC`, `./node_modules/.bin/tsc`
    /// and `PATH` are tried. An error says what was looked for.
    pub fn discover(path: Option<&std::path::Path>) -> Result<Self, TscError> {
        TscChecker::discover(path).map(Self::new)
    }
}

fn create_builtin(_: &FactoryContext) -> Result<Arc<dyn TypeChecker>, CodeModeError> {
    Ok(Arc::new(BuiltinTypeChecker))
}

/// `[type_checkers.tsc] path` (or `[run] tsc_path`), relative to the configuration file.
/// When no path is configured and no TypeScript 7 is found, the pinned release is installed
/// into codemode's cache with npm, once, unless `[type_checkers.tsc] install = false` or
/// `CODEMODE_TSC_INSTALL=0` says not to.
fn create_tsc(context: &FactoryContext) -> Result<Arc<dyn TypeChecker>, CodeModeError> {
    use crate::install;
    let path = context.str_setting("path").map(|p| context.resolve_path(p));
    let found = match TscTypeChecker::discover(path.as_deref()) {
        Err(TscError::NotFound { .. })
            if path.is_none()
                && install::install_allowed_by_env()
                && context.settings.get("install").and_then(serde_json::Value::as_bool) != Some(false) =>
        {
            tracing::warn!(
                "TypeScript 7 was not found: installing typescript@{} into {} once with npm (turn this off with {}=0 or [type_checkers.tsc] install = false)",
                install::PINNED_TYPESCRIPT,
                install::install_dir().unwrap_or_default().display(),
                install::INSTALL_ENV
            );
            install::install_pinned()
                .and_then(|tsc| TscChecker::from_path(&tsc))
                .map(TscTypeChecker::new)
        }
        other => other,
    };
    found
        .map(|t| Arc::new(t) as Arc<dyn TypeChecker>)
        .map_err(|e| CodeModeError::factory("type checker", "tsc", e))
}

codemode_traits::inventory::submit! {
    TypeCheckerFactory {
        name: "builtin",
        description: "the built-in checker: syntax, tool paths, arguments against the schemas (no TypeScript needed)",
        create: create_builtin,
    }
}

codemode_traits::inventory::submit! {
    TypeCheckerFactory {
        name: "tsc",
        description: "TypeScript 7 (`tsc --strict`), one warm `tsc --lsp` process reused across checks",
        create: create_tsc,
    }
}

#[cfg(test)]
mod tests {
    use codemode_traits::registry::{FactoryContext, create_type_checker};
    use serde_json::Value;

    #[test]
    fn checkers_are_picked_by_name() {
        let builtin = create_type_checker(&FactoryContext::new("builtin", Value::Null)).unwrap();
        assert!(builtin.name().starts_with("builtin"), "{}", builtin.name());
        let missing = serde_json::json!({"path": "/nonexistent/tsc"});
        let auto = create_type_checker(&FactoryContext::new("auto", missing.clone())).unwrap();
        assert!(auto.name().starts_with("builtin"), "auto falls back: {}", auto.name());
        assert!(create_type_checker(&FactoryContext::new("tsc", missing)).is_err());
        let e = create_type_checker(&FactoryContext::new("flow", Value::Null))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`flow`") && e.contains("auto, builtin, tsc"), "{e}");
    }
}
