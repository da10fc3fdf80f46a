//! Tokens, secrets, binding, and upstream catalogs that change.

use super::*;

#[tokio::test]
async fn a_bearer_token_keeps_out_clients_without_it() {
    let http = HttpOptions {
        bearer_token: Some("s3cret-token".into()),
        ..HttpOptions::default()
    };
    let url = serve(Vec::new(), ServeOptions::default(), http).await;
    let without = agent(&url, None).await.err().unwrap().to_string();
    assert!(without.to_lowercase().contains("auth required"), "{without}");
    assert!(agent(&url, Some("CODEMODE_TEST_WRONG_TOKEN")).await.is_err());
    let raw = reqwest::Client::new()
        .post(&url)
        .header("authorization", "Bearer wrong-token")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
    assert_eq!(raw.headers()["www-authenticate"], "Bearer");
    let with = agent(&url, Some("CODEMODE_TEST_SERVE_TOKEN")).await.unwrap();
    assert_eq!(with.list_tools().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_secret_the_server_holds_never_reaches_the_client() {
    let (agent, _) = workspace_serve(ServeOptions::default()).await;
    // Built at run time, as an upstream error or a tool's output would carry it.
    let program = r#"
const key = ["upstream", "key", "0123456789"].join("-");
console.log(`the key is ${key}`);
throw new Error(`rejected ${key}`);
"#;
    let answer = agent
        .call_tool("execute_code", json!({"code": program}))
        .await
        .unwrap_err()
        .to_string();
    assert!(answer.contains("rejected"), "{answer}");
    assert!(!answer.contains(UPSTREAM_KEY), "{answer}");
    assert!(answer.contains("[REDACTED]"), "{answer}");
}

#[tokio::test]
async fn binding_beyond_loopback_needs_a_token() {
    let error = codemode_serve::http::bind("0.0.0.0:0", &HttpOptions::default())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("--token-env"), "{error}");
    let with_token = HttpOptions {
        bearer_token: Some("t".into()),
        ..HttpOptions::default()
    };
    assert!(codemode_serve::http::bind("0.0.0.0:0", &with_token).await.is_ok());
}

/// A tool provider whose tools change when the test says so (a test double standing in for
/// an MCP server that sends `notifications/tools/list_changed`).
struct ChangingProvider {
    tools: Mutex<Vec<ToolSpec>>,
    changed: AtomicBool,
}

#[async_trait]
impl ToolProvider for ChangingProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        self.changed.store(false, Ordering::SeqCst);
        Ok(self.tools.lock().unwrap().clone())
    }

    async fn call_tool(&self, name: &str, _arguments: Value) -> Result<Value, ToolError> {
        Ok(json!({"called": name}))
    }

    fn tools_changed(&self) -> bool {
        self.changed.load(Ordering::SeqCst)
    }
}

async fn search(agent: &McpToolProvider, query: &str) -> String {
    let found = agent
        .call_tool("search_tools", json!({ "query": query }))
        .await
        .unwrap();
    found.as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_upstream_tool_list_change_refreshes_the_catalog_and_tells_the_client() {
    let spec = |name: &str| ToolSpec::new(name, "A tool", json!({"type": "object", "properties": {}}));
    let upstream = Arc::new(ChangingProvider {
        tools: Mutex::new(vec![spec("first_tool")]),
        changed: AtomicBool::new(false),
    });
    let fixed = Arc::new(StaticToolProvider::new(vec![spec("fixed_tool")]));
    let url = serve(
        vec![("up", upstream.clone()), ("fixed", fixed)],
        ServeOptions::default(),
        HttpOptions::default(),
    )
    .await;
    let agent = agent(&url, None).await.unwrap();
    assert!(!search(&agent, "second tool").await.contains("up.second_tool"));
    upstream.tools.lock().unwrap().push(spec("second_tool"));
    upstream.changed.store(true, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !agent.tools_changed() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notifications/tools/list_changed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(search(&agent, "second tool").await.contains("tools.up.second_tool"));
    let tools = agent.list_tools().await.unwrap();
    let search_tool = tools.iter().find(|t| t.name == "search_tools").unwrap();
    assert!(
        search_tool.description.as_deref().unwrap().contains("3 tools"),
        "{search_tool:?}"
    );
    let ran = agent
        .call_tool(
            "execute_code",
            json!({"code": "return await tools.up.second_tool({});"}),
        )
        .await
        .unwrap();
    assert_eq!(ran["value"], json!({"called": "second_tool"}));
}
