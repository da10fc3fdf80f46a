//! [`ToolFilter`] and [`FilteredToolProvider`]: offering only some of a provider's tools
//! (`include_tools` / `exclude_tools`), e.g. to keep admin or test tools away from a model.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::CodeModeError;
use crate::tool::{ToolError, ToolProvider, ToolSpec};

/// Which tools of a provider are offered: names or patterns where `*` stands for any run
/// of characters (`list_*`, `*_admin`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolFilter {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl ToolFilter {
    /// Offers the tools matching `include` (all of them when it is empty), except those
    /// matching `exclude`.
    pub fn new(include: Vec<String>, exclude: Vec<String>) -> Self {
        Self { include, exclude }
    }

    /// The filter a provider's settings ask for (`[tool_providers.NAME]`,
    /// `[mcp_servers.NAME]`): `include_tools` and `exclude_tools`, each a list of names or
    /// patterns; absent keys filter nothing.
    ///
    /// ```
    /// # use codemode_traits::ToolFilter;
    /// let filter = ToolFilter::from_settings(&serde_json::json!({"exclude_tools": ["reset_*"]})).unwrap();
    /// assert!(filter.offers("list_issues") && !filter.offers("reset_workspace"));
    /// assert!(ToolFilter::from_settings(&serde_json::json!({"include_tools": "list_*"})).is_err());
    /// ```
    pub fn from_settings(settings: &Value) -> Result<Self, CodeModeError> {
        let patterns = |key: &str| -> Result<Vec<String>, CodeModeError> {
            match settings.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        item.as_str().map(str::to_string).ok_or_else(|| {
                            CodeModeError::Config(format!(
                                "`{key}` must be a list of tool names or patterns, found {item}"
                            ))
                        })
                    })
                    .collect(),
                Some(other) => Err(CodeModeError::Config(format!(
                    "`{key}` must be a list of tool names or patterns (e.g. [\"list_*\"]), found {other}"
                ))),
            }
        };
        Ok(Self::new(patterns("include_tools")?, patterns("exclude_tools")?))
    }

    /// `provider`, offering only the tools this filter offers (as it is when the filter
    /// offers everything).
    pub fn apply(self, provider: Arc<dyn ToolProvider>) -> Arc<dyn ToolProvider> {
        if self.is_empty() {
            provider
        } else {
            Arc::new(FilteredToolProvider::new(provider, self))
        }
    }

    /// True when the filter offers everything.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// True when the tool `name` is offered.
    pub fn offers(&self, name: &str) -> bool {
        let any = |patterns: &[String]| patterns.iter().any(|p| glob_matches(p, name));
        (self.include.is_empty() || any(&self.include)) && !any(&self.exclude)
    }
}

/// `pattern`, with `*` standing for any run of characters, matches all of `name`.
fn glob_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// A provider that lists and calls only the tools its [`ToolFilter`] offers; a call to any
/// other fails with [`ToolError::NotCallable`].
pub struct FilteredToolProvider {
    inner: Arc<dyn ToolProvider>,
    filter: ToolFilter,
}

impl FilteredToolProvider {
    /// `inner`, seen through `filter`.
    pub fn new(inner: Arc<dyn ToolProvider>, filter: ToolFilter) -> Self {
        Self { inner, filter }
    }
}

#[async_trait]
impl ToolProvider for FilteredToolProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let mut tools = self.inner.list_tools().await?;
        tools.retain(|tool| self.filter.offers(&tool.name));
        Ok(tools)
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        if !self.filter.offers(name) {
            return Err(ToolError::NotCallable(format!(
                "`{name}` is not offered (left out by include_tools / exclude_tools)"
            )));
        }
        self.inner.call_tool(name, arguments).await
    }

    fn tools_changed(&self) -> bool {
        self.inner.tools_changed()
    }

    fn identity(&self) -> Option<String> {
        self.inner.identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::StaticToolProvider;

    #[test]
    fn names_and_patterns() {
        let filter = ToolFilter::new(vec!["list_*".into(), "send_message".into()], vec!["*_admin".into()]);
        assert!(filter.offers("list_inbox") && filter.offers("send_message"));
        assert!(!filter.offers("list_admin") && !filter.offers("delete_all") && !filter.offers("send_messages"));
        assert!(ToolFilter::default().offers("anything") && ToolFilter::default().is_empty());
        for (pattern, name, matches) in [
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("*", "", true),
            ("ab*b", "ab", false),
            ("ab*b", "abb", true),
            ("get_*_state", "get_workspace_state", true),
            ("reset_workspace", "reset_workspace", true),
            ("reset", "reset_workspace", false),
        ] {
            assert_eq!(glob_matches(pattern, name), matches, "{pattern} {name}");
        }
    }

    #[tokio::test]
    async fn a_left_out_tool_is_neither_listed_nor_called() {
        let inner = Arc::new(StaticToolProvider::new(vec![
            ToolSpec::new("list_inbox", "", serde_json::json!({"type": "object"})),
            ToolSpec::new("reset_workspace", "", serde_json::json!({"type": "object"})),
        ]));
        let filtered = FilteredToolProvider::new(inner, ToolFilter::new(Vec::new(), vec!["reset_*".into()]));
        let names: Vec<String> = filtered
            .list_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["list_inbox"]);
        let e = filtered.call_tool("reset_workspace", Value::Null).await.unwrap_err();
        assert!(
            matches!(e, ToolError::NotCallable(_)) && e.to_string().contains("not offered"),
            "{e}"
        );
        // The offered one reaches the inner provider (a static one, which cannot call).
        let e = filtered.call_tool("list_inbox", Value::Null).await.unwrap_err();
        assert!(e.to_string().contains("static catalog"), "{e}");
    }
}
