//! `tools/list`, read leniently: one malformed tool never costs the server its other tools.
//!
//! rmcp's typed `list_tools` rejects a whole page when one tool lacks `inputSchema` (the
//! page then arrives as an untyped result and the call fails with "Unexpected response
//! type"). Here each page is read as JSON: a tool without a usable input schema is kept with a
//! permissive one (any object) and a warning; a tool without a name is left out with a
//! warning, and so is a tool that can only be called as an MCP task
//! (`execution.taskSupport: "required"`), since every plain `tools/call` of it fails.

use codemode_traits::ToolSpec;
use rmcp::model::{ClientRequest, ListToolsRequest, PaginatedRequestParams};
use rmcp::service::{Peer, RoleClient, ServiceError};
use serde_json::{Value, json};

/// Pages followed at most (a server that keeps returning cursors is cut off here).
const MAX_PAGES: usize = 1000;

/// Every tool the server lists, with the problems found in its descriptions.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) tools: Vec<ToolSpec>,
    pub(crate) warnings: Vec<String>,
}

/// Lists every page of the server's tools.
pub(crate) async fn list_all(peer: &Peer<RoleClient>) -> Result<Listing, ListError> {
    let mut listing = Listing::default();
    let mut cursor: Option<String> = None;
    let mut seen_cursors = std::collections::HashSet::new();
    for _ in 0..MAX_PAGES {
        let request = ClientRequest::ListToolsRequest(match &cursor {
            Some(c) => ListToolsRequest::with_param(PaginatedRequestParams::default().with_cursor(Some(c.clone()))),
            None => ListToolsRequest {
                method: Default::default(),
                params: None,
                extensions: Default::default(),
            },
        });
        let answer = peer.send_request(request).await.map_err(ListError::Service)?;
        // Typed or not (rmcp falls back to an untyped result when a tool does not fit its
        // types), the answer is read as the JSON the server sent.
        let page = serde_json::to_value(&answer).map_err(|e| ListError::Malformed(e.to_string()))?;
        read_page(&page, &mut listing)?;
        cursor = page.get("nextCursor").and_then(Value::as_str).map(str::to_string);
        match &cursor {
            None => return Ok(listing),
            Some(c) if !seen_cursors.insert(c.clone()) => {
                listing.warnings.push(format!(
                    "tools/list returned the cursor `{c}` twice; stopped paging there"
                ));
                return Ok(listing);
            }
            Some(_) => {}
        }
    }
    listing.warnings.push(format!(
        "tools/list still had more pages after {MAX_PAGES}; stopped there"
    ));
    Ok(listing)
}

/// Why the tools could not be listed at all.
#[derive(Debug)]
pub(crate) enum ListError {
    /// The request failed (transport, or an error answer).
    Service(ServiceError),
    /// The answer is not a tool list.
    Malformed(String),
}

/// Adds the tools of one `tools/list` result to `listing`.
fn read_page(page: &Value, listing: &mut Listing) -> Result<(), ListError> {
    let Some(tools) = page.get("tools").and_then(Value::as_array) else {
        let shown: String = page.to_string().chars().take(200).collect();
        return Err(ListError::Malformed(format!(
            "the tools/list answer has no `tools` array: {shown}"
        )));
    };
    for (i, tool) in tools.iter().enumerate() {
        match read_tool(tool) {
            Ok((spec, warning)) => {
                if let Some(w) = warning {
                    listing.warnings.push(w);
                }
                listing.tools.push(spec);
            }
            Err(w) => listing.warnings.push(format!("tool #{} left out: {w}", i + 1)),
        }
    }
    Ok(())
}

/// One tool, and a warning when its schema had to be replaced.
fn read_tool(tool: &Value) -> Result<(ToolSpec, Option<String>), String> {
    let Some(object) = tool.as_object() else {
        return Err(format!("it is not an object: {tool}"));
    };
    let Some(name) = object.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) else {
        return Err("it has no `name`".to_string());
    };
    if let Some(support) = required_task_support(object) {
        return Err(format!(
            "`{name}` can only be called as an MCP task (execution.taskSupport is \"{support}\"), which codemode's \
             MCP client does not speak yet; every plain call of it fails (-32601)"
        ));
    }
    let mut object = object.clone();
    let problem = match object.get("inputSchema") {
        None | Some(Value::Null) => Some("has no `inputSchema`".to_string()),
        Some(Value::Object(schema)) => match schema.get("type") {
            None => None,
            Some(Value::String(t)) if t == "object" => None,
            Some(other) => Some(format!("has an `inputSchema` of type {other}, not \"object\"")),
        },
        Some(other) => Some(format!("has an `inputSchema` that is not a JSON object: {other}")),
    };
    if problem.is_some() {
        object.insert("inputSchema".into(), json!({"type": "object"}));
    }
    // Odd `annotations` are dropped by `ToolSpec`'s own lenient reading.
    if object.get("outputSchema").is_some_and(|v| !v.is_object()) {
        object.remove("outputSchema");
    }
    if object.get("description").is_some_and(|v| !v.is_string()) {
        object.remove("description");
    }
    let spec: ToolSpec = serde_json::from_value(Value::Object(object)).map_err(|e| format!("`{name}`: {e}"))?;
    let warning = problem.map(|p| format!("tool `{name}` {p}; it takes any object of arguments"));
    Ok((spec, warning))
}

/// `Some(value)` when the tool declares that it must be called as an MCP task
/// (`execution.taskSupport: "required"`): a plain `tools/call` of it is refused by the server.
/// `"optional"` and `"forbidden"` tools take plain calls. Over stdio, `execution` arrives in
/// the tool's `_meta` (rmcp's typed tool drops it: [`crate::stdio`] keeps a copy there).
fn required_task_support(tool: &serde_json::Map<String, Value>) -> Option<&str> {
    let kept = tool.get("_meta").and_then(|m| m.get(crate::stdio::EXECUTION_META));
    tool.get("execution")
        .or(kept)
        .and_then(|e| e.get("taskSupport"))
        .and_then(Value::as_str)
        .filter(|s| *s == "required")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_tool_is_kept_with_a_permissive_schema_or_left_out_alone() {
        let page = json!({"tools": [
            {"name": "fine", "inputSchema": {"type": "object", "properties": {"n": {"type": "number"}}}},
            {"name": "no_schema", "description": "lacks inputSchema"},
            {"name": "string_schema", "inputSchema": "any"},
            {"name": "array_schema", "inputSchema": {"type": "array"}},
            {"description": "no name at all", "inputSchema": {"type": "object"}},
            {"name": "odd_fields", "inputSchema": {}, "annotations": "destructive", "description": 5},
            42,
            {"name": "as_task_only", "inputSchema": {"type": "object"}, "execution": {"taskSupport": "required"}},
            {"name": "task_optional", "inputSchema": {"type": "object"}, "execution": {"taskSupport": "optional"}}
        ]});
        let mut listing = Listing::default();
        read_page(&page, &mut listing).unwrap();
        let names: Vec<&str> = listing.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "fine",
                "no_schema",
                "string_schema",
                "array_schema",
                "odd_fields",
                "task_optional"
            ]
        );
        assert_eq!(listing.tools[0].input_schema["properties"]["n"]["type"], "number");
        for replaced in &listing.tools[1..4] {
            assert_eq!(replaced.input_schema, json!({"type": "object"}), "{}", replaced.name);
        }
        assert_eq!(listing.tools[4].input_schema, json!({}));
        assert_eq!(listing.tools[1].description.as_deref(), Some("lacks inputSchema"));
        assert_eq!(listing.tools[4].annotations, None);
        assert_eq!(
            listing.warnings,
            [
                "tool `no_schema` has no `inputSchema`; it takes any object of arguments",
                "tool `string_schema` has an `inputSchema` that is not a JSON object: \"any\"; it takes any object of arguments",
                "tool `array_schema` has an `inputSchema` of type \"array\", not \"object\"; it takes any object of arguments",
                "tool #5 left out: it has no `name`",
                "tool #7 left out: it is not an object: 42",
                "tool #8 left out: `as_task_only` can only be called as an MCP task (execution.taskSupport is \"required\"), \
                 which codemode's MCP client does not speak yet; every plain call of it fails (-32601)",
            ]
        );
    }

    #[test]
    fn an_answer_without_tools_is_an_error() {
        let mut listing = Listing::default();
        let Err(ListError::Malformed(message)) = read_page(&json!({"resources": []}), &mut listing) else {
            panic!("expected an error")
        };
        assert!(message.contains("no `tools` array"), "{message}");
    }
}
