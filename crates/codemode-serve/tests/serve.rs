//! `codemode serve` end to end over streamable HTTP on loopback: the demo MCP server (real
//! rmcp, HTTP) behind a `CodeModeServer`, and codemode's own MCP client (rmcp) as the agent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use codemode_core::{CodeMode, StaticToolProvider, ToolError, ToolProvider, ToolSpec};
use codemode_demo_server::{DemoServer, WorkspaceState};
use codemode_env_local::WasmEnvironment;
use codemode_mcp::{McpServerConfig, McpToolProvider};
use codemode_serve::http::HttpOptions;
use codemode_serve::{CodeModeServer, ServeOptions};
use serde_json::{Value, json};

/// The demo workspace over HTTP on loopback; its state, shared with the test.
async fn demo_server() -> (McpServerConfig, Arc<Mutex<WorkspaceState>>) {
    let shared = Arc::new(Mutex::new(WorkspaceState::seed()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = codemode_demo_server::http_router(DemoServer::with_state(shared.clone()));
    tokio::spawn(axum::serve(listener, router).into_future());
    let config = McpServerConfig {
        url: Some(format!("http://{addr}/mcp")),
        ..McpServerConfig::default()
    };
    (config, shared)
}

/// A key the server's environment holds, which no answer may carry.
const UPSTREAM_KEY: &str = "upstream-key-0123456789";

/// Sets the variables the tests read, once, before any server reads the environment.
fn test_environment() {
    static SET: std::sync::Once = std::sync::Once::new();
    // SAFETY of set_var: it runs once, before any test of this binary starts a server or
    // a client (the only readers of the environment here).
    SET.call_once(|| unsafe {
        std::env::set_var("CODEMODE_TEST_SERVE_TOKEN", "s3cret-token");
        std::env::set_var("CODEMODE_TEST_WRONG_TOKEN", "wrong-token");
        std::env::set_var("CODEMODE_TEST_UPSTREAM_API_KEY", UPSTREAM_KEY);
    });
}

/// `codemode serve` over HTTP in front of `providers` (the wasm sandbox, no models); its URL.
async fn serve(providers: Vec<(&str, Arc<dyn ToolProvider>)>, options: ServeOptions, http: HttpOptions) -> String {
    test_environment();
    let mut builder = CodeMode::builder().environment(Arc::new(WasmEnvironment::new().unwrap()));
    for (name, provider) in providers {
        builder = builder.tool_provider(name, provider);
    }
    serve_codemode(builder.build().await.unwrap(), options, http).await
}

/// `codemode serve` over HTTP in front of `codemode`; its URL.
async fn serve_codemode(codemode: CodeMode, options: ServeOptions, http: HttpOptions) -> String {
    test_environment();
    let server = CodeModeServer::new(Arc::new(codemode), options);
    let listener = codemode_serve::http::bind("127.0.0.1:0", &http).await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { codemode_serve::http::serve(server, listener, &http, std::future::pending()).await });
    url
}

/// Our MCP client, as an agent would connect.
async fn agent(url: &str, token_env: Option<&str>) -> Result<McpToolProvider, codemode_mcp::McpError> {
    let config = McpServerConfig {
        url: Some(url.to_string()),
        bearer_token_env: token_env.map(str::to_string),
        ..McpServerConfig::default()
    };
    McpToolProvider::connect("codemode", &config).await
}

async fn workspace_serve(options: ServeOptions) -> (McpToolProvider, Arc<Mutex<WorkspaceState>>) {
    let (config, state) = demo_server().await;
    let workspace = McpToolProvider::connect("workspace", &config).await.unwrap();
    let url = serve(
        vec![("workspace", Arc::new(workspace))],
        options,
        HttpOptions::default(),
    )
    .await;
    (agent(&url, None).await.unwrap(), state)
}

#[tokio::test]
async fn the_agent_sees_three_tools_that_teach_the_program_shape() {
    let (agent, _) = workspace_serve(ServeOptions::default()).await;
    let tools = agent.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["search_tools", "describe_tools", "execute_code"],
        "no models: no run_task"
    );
    let execute = tools.iter().find(|t| t.name == "execute_code").unwrap();
    let description = execute.description.as_deref().unwrap();
    for taught in [
        "top-level `await`",
        "Promise.all",
        "`return`",
        "100 tool calls",
        "6000 tokens",
    ] {
        assert!(description.contains(taught), "missing {taught}: {description}");
    }
    let search = tools.iter().find(|t| t.name == "search_tools").unwrap();
    assert!(
        search.description.as_deref().unwrap().contains("workspace (13)"),
        "{search:?}"
    );
}

#[tokio::test]
async fn search_then_describe_then_execute_changes_the_workspace() {
    let (agent, state) = workspace_serve(ServeOptions::default()).await;
    let found = agent
        .call_tool(
            "search_tools",
            json!({"query": "post a chat message to a channel", "limit": 3}),
        )
        .await
        .unwrap();
    let found = found.as_str().unwrap();
    assert!(
        found
            .lines()
            .next()
            .unwrap()
            .starts_with("tools.workspace.send_message({ channel: string; text: string })"),
        "{found}"
    );
    let declarations = agent
        .call_tool(
            "describe_tools",
            json!({"paths": ["workspace.send_message", "tools.workspace.list_channels"]}),
        )
        .await
        .unwrap();
    let declarations = declarations.as_str().unwrap();
    assert!(
        declarations.contains("send_message(input: WorkspaceSendMessageInput): Promise<WorkspaceSendMessageOutput>"),
        "{declarations}"
    );
    assert!(
        declarations.contains("type WorkspaceSendMessageOutput = {"),
        "output types too: {declarations}"
    );
    assert!(declarations.contains("list_channels("), "{declarations}");
    assert!(
        !declarations.contains("close_issue"),
        "only the tools asked for: {declarations}"
    );

    let program = r#"
const { channels } = await tools.workspace.list_channels({});
const sent = await Promise.all(
  channels.filter((c) => c.name.startsWith("test"))
    .map((c) => tools.workspace.send_message({ channel: c.name, text: "from serve" })),
);
console.log(`sent ${sent.length}`);
return sent.map((m) => m.channel).sort();
"#;
    let answer = agent.call_tool("execute_code", json!({"code": program})).await.unwrap();
    assert_eq!(answer["result_type"], "success", "{answer}");
    assert_eq!(answer["value"], json!(["test-alerts", "test-deploys"]));
    assert_eq!(answer["console"], json!(["sent 2"]));
    assert_eq!(answer["tool_calls"].as_array().unwrap().len(), 3);
    let mut sent: Vec<String> = state
        .lock()
        .unwrap()
        .messages
        .iter()
        .filter(|m| m.text == "from serve")
        .map(|m| m.channel.clone())
        .collect();
    sent.sort();
    assert_eq!(sent, ["test-alerts", "test-deploys"]);
}

#[tokio::test]
async fn a_program_that_does_not_type_check_comes_back_as_a_tool_error_at_its_lines() {
    let (agent, state) = workspace_serve(ServeOptions::default()).await;
    let before = state.lock().unwrap().messages.len();
    let program = "const channels = await tools.workspace.list_channels({});\nawait tools.workspace.send_mesage({ channel: 'general', text: 'x' });\n";
    let error = agent
        .call_tool("execute_code", json!({"code": program}))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("program.ts:2:"), "{error}");
    assert!(error.contains("send_mesage"), "{error}");
    assert!(error.contains("nothing ran"), "{error}");
    assert_eq!(state.lock().unwrap().messages.len(), before);

    let unknown = agent
        .call_tool("describe_tools", json!({"paths": ["workspace.send_mesage"]}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("no tool `workspace.send_mesage`") && unknown.contains("workspace.send_message"),
        "{unknown}"
    );
}

#[tokio::test]
async fn a_runtime_error_and_a_limit_are_tool_errors_with_the_result_type() {
    let mut options = ServeOptions::default();
    options.run.max_tool_calls = 2;
    let (agent, _) = workspace_serve(options).await;
    let thrown = agent
        .call_tool(
            "execute_code",
            json!({"code": "const x: any = undefined;\nreturn x.name;"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        thrown.contains("runtime_error") && thrown.contains("\"error_line\":2"),
        "{thrown}"
    );
    let limited = agent
        .call_tool(
            "execute_code",
            json!({"code": "for (let i = 0; i < 5; i++) { await tools.workspace.list_channels({}); }\nreturn 1;"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(limited.contains("tool_call_limit"), "{limited}");
}

#[tokio::test]
async fn large_values_are_cut_to_the_budget_and_say_so() {
    let options = ServeOptions {
        max_result_tokens: 1_000,
        ..ServeOptions::default()
    };
    let (agent, _) = workspace_serve(options).await;
    let program = "return Array.from({ length: 5000 }, (_, i) => ({ id: i, text: 'row ' + i }));";
    let answer = agent.call_tool("execute_code", json!({"code": program})).await.unwrap();
    let rows = answer["value"].as_array().unwrap();
    assert!(
        rows.len() < 5000 && rows[0] == json!({"id": 0, "text": "row 0"}),
        "{answer}"
    );
    assert!(rows.last().unwrap().as_str().unwrap().contains("more items cut"));
    assert!(
        answer["cut"]["value"].as_str().unwrap().contains("budget 700"),
        "{answer}"
    );
    assert!(codemode_core::tokens::count_tokens(&answer.to_string()) < 1_200);
}

#[tokio::test]
async fn many_calls_at_once_each_run_in_their_own_sandbox() {
    let (agent, state) = workspace_serve(ServeOptions::default()).await;
    let agent = Arc::new(agent);
    let calls = (0..12).map(|i| {
        let agent = agent.clone();
        async move {
            // Each program keeps a global of its own: a shared sandbox would see the others'.
            let program = format!(
                "const g = globalThis as any;\ng.mine = (g.mine ?? 0) + 1;\nawait tools.workspace.send_message({{ channel: 'general', text: 'call {i}' }});\nreturn {{ i: {i}, mine: g.mine }};"
            );
            agent.call_tool("execute_code", json!({"code": program})).await.unwrap()
        }
    });
    let answers = futures::future::join_all(calls).await;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer["value"], json!({"i": i, "mine": 1}), "{answer}");
    }
    let sent = state
        .lock()
        .unwrap()
        .messages
        .iter()
        .filter(|m| m.text.starts_with("call "))
        .count();
    assert_eq!(sent, 12);
}

#[tokio::test]
async fn a_cancelled_call_stops_its_program() {
    let (agent, state) = workspace_serve(ServeOptions::default()).await;
    let program = "for (let i = 0; ; i++) {\n  await tools.workspace.send_message({ channel: 'general', text: 'tick ' + i });\n  await new Promise((r) => setTimeout(r, 20));\n}";
    let ticks = || {
        state
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| m.text.starts_with("tick "))
            .count()
    };
    // Dropping the call sends `notifications/cancelled` (the client's cancellation).
    let call = agent.call_tool("execute_code", json!({"code": program}));
    assert!(tokio::time::timeout(Duration::from_millis(1500), call).await.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_cancel = ticks();
    assert!(at_cancel > 0, "the program ran before the cancellation");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ticks(), at_cancel, "no tool call after the cancellation");
}

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

/// With models configured, `run_task` is listed and runs the whole pipeline: a scripted
/// model (test double) plans, picks the tool and writes the program; the sandbox runs it
/// against the demo server.
#[tokio::test(flavor = "multi_thread")]
async fn run_task_runs_the_pipeline_with_the_configured_models() {
    use codemode_core::LlmRole;
    use codemode_core::testing::ScriptedLlm;
    test_environment();
    let (config, state) = demo_server().await;
    let workspace = McpToolProvider::connect("workspace", &config).await.unwrap();
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "1. post the greeting to #general")
            .reply(LlmRole::Tiny, r#"["workspace.send_message"]"#)
            .reply(
                LlmRole::Main,
                "```ts\nconst sent = await tools.workspace.send_message({ channel: \"general\", text: \"hello from run_task\" });\nreturn \"posted\";\n```",
            ),
    );
    let codemode = CodeMode::builder()
        .environment(Arc::new(WasmEnvironment::new().unwrap()))
        .tool_provider("workspace", Arc::new(workspace))
        .llm(llm)
        .build()
        .await
        .unwrap();
    let url = serve_codemode(codemode, ServeOptions::default(), HttpOptions::default()).await;
    let agent = agent(&url, None).await.unwrap();
    let names: Vec<String> = agent.list_tools().await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["search_tools", "describe_tools", "execute_code", "run_task"]);
    let answer = agent
        .call_tool("run_task", json!({"task": "say hello in #general"}))
        .await
        .unwrap();
    assert_eq!(answer["result_type"], "success", "{answer}");
    assert_eq!(answer["value"], "posted", "{answer}");
    assert_eq!(answer["selected_tools"], json!(["workspace.send_message"]), "{answer}");
    assert!(answer["code"].as_str().unwrap().contains("send_message"), "{answer}");
    let posted = state
        .lock()
        .unwrap()
        .messages
        .iter()
        .any(|m| m.text == "hello from run_task");
    assert!(posted, "the message reached the demo workspace");
}

/// A test double: tools `wipe` (annotated destructive) and `work`, counting the calls that ran.
#[derive(Default)]
struct Wiper {
    wiped: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl ToolProvider for Wiper {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let mut wipe = ToolSpec::new("wipe", "Deletes everything", json!({"type": "object"}));
        wipe.annotations = Some(codemode_core::ToolAnnotations::destructive_hint(true));
        Ok(vec![wipe])
    }
    async fn call_tool(&self, name: &str, _arguments: Value) -> Result<Value, ToolError> {
        self.wiped.fetch_add(1, Ordering::SeqCst);
        Ok(json!({"ran": name}))
    }
}

/// An MCP client as an agent with a user would be (rmcp, streamable HTTP) that answers
/// elicitations with `answer` (`None`: declines) and keeps the questions.
#[derive(Clone)]
struct AskedUser {
    answer: Option<Value>,
    questions: Arc<Mutex<Vec<String>>>,
}

impl rmcp::ClientHandler for AskedUser {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        rmcp::model::ClientConfig::new(
            rmcp::model::ClientCapabilities::builder().enable_elicitation().build(),
            rmcp::model::Implementation::new("asked-user", "1.0.0"),
        )
    }

    async fn create_elicitation(
        &self,
        request: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<rmcp::RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        if let rmcp::model::ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.questions.lock().unwrap().push(message);
        }
        Ok(match &self.answer {
            Some(content) => {
                rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Accept).with_content(content.clone())
            }
            None => rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Decline),
        })
    }
}

#[tokio::test]
async fn a_destructive_call_is_asked_about_through_mcp_elicitation() {
    use rmcp::ServiceExt;
    let wiper = Arc::new(Wiper::default());
    let url = serve(
        vec![("fx", wiper.clone() as Arc<dyn ToolProvider>)],
        ServeOptions::default(),
        HttpOptions::default(),
    )
    .await;
    // Our own client first: it installs the TLS provider the other clients' HTTP stack needs.
    let plain = agent(&url, None).await.unwrap();
    let program = json!({"code": "try { return await tools.fx.wipe({}); } catch (e) { return String(e); }"});
    let execute = |client: &rmcp::service::RunningService<rmcp::RoleClient, AskedUser>| {
        let mut params = rmcp::model::CallToolRequestParams::new("execute_code");
        params.arguments = program.as_object().cloned();
        let peer = client.peer().clone();
        async move {
            let result = peer.call_tool(params).await.unwrap();
            result.structured_content.unwrap_or_default()
        }
    };
    let connect = |answer: Option<Value>| {
        let user = AskedUser {
            answer,
            questions: Arc::default(),
        };
        let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(url.as_str());
        async move { (user.clone(), user.serve(transport).await.unwrap()) }
    };

    // The user approves: the call runs, and the question named the tool and why.
    let (user, client) = connect(Some(json!({"approve": true}))).await;
    let answer = execute(&client).await;
    assert_eq!(answer["value"], json!({"ran": "wipe"}), "{answer}");
    let questions = user.questions.lock().unwrap().clone();
    assert_eq!(questions.len(), 1);
    assert!(
        questions[0].contains("tools.fx.wipe") && questions[0].contains("destructiveHint"),
        "{questions:?}"
    );
    // The user declines: the program catches the denial; the tool did not run.
    let (_, declining) = connect(None).await;
    let answer = execute(&declining).await;
    assert!(
        answer["value"]
            .as_str()
            .unwrap()
            .contains("tools.fx.wipe was denied: the user declined"),
        "{answer}"
    );
    assert_eq!(wiper.wiped.load(Ordering::SeqCst), 1);
    // A client without elicitation: the server's own approver (none here) denies, saying how
    // to allow it.
    let answer = plain.call_tool("execute_code", program.clone()).await.unwrap();
    assert!(
        answer["value"].as_str().unwrap().contains("there is no one to ask"),
        "{answer}"
    );
    assert_eq!(wiper.wiped.load(Ordering::SeqCst), 1);
}

/// A tool without an output schema, called through `execute_code`, is described with the
/// type its result taught (learned types in memory here; the CLI keeps them in a file).
#[tokio::test]
async fn describe_tools_gives_the_type_an_execute_code_call_taught() {
    let (config, _) = demo_server().await;
    let workspace = McpToolProvider::connect("workspace", &config).await.unwrap();
    let learned = Arc::new(codemode_core::learned::LearnedTypes::new(
        codemode_core::learned::ShapeStore::in_memory(),
    ));
    let codemode = CodeMode::builder()
        .environment(Arc::new(WasmEnvironment::new().unwrap()))
        .tool_provider("workspace", Arc::new(workspace))
        .learned_types(learned)
        .build()
        .await
        .unwrap();
    let url = serve_codemode(codemode, ServeOptions::default(), HttpOptions::default()).await;
    let agent = agent(&url, None).await.unwrap();
    let describe = || async {
        let answer = agent
            .call_tool("describe_tools", json!({"paths": ["workspace.send_email"]}))
            .await
            .unwrap();
        answer.as_str().unwrap().to_string()
    };
    assert!(describe().await.contains("type WorkspaceSendEmailOutput = any;"));
    let program =
        r#"return await tools.workspace.send_email({ to: "ana@example.org", subject: "Hi", body: "Hello" });"#;
    let answer = agent.call_tool("execute_code", json!({"code": program})).await.unwrap();
    assert_eq!(answer["result_type"], "success", "{answer}");
    let described = describe().await;
    assert!(
        described.contains("/** Learned from 1 result of this tool (it declares no output schema)"),
        "{described}"
    );
    assert!(!described.contains("WorkspaceSendEmailOutput = any"), "{described}");
    assert!(
        !described.contains("ana@example.org"),
        "types, never values: {described}"
    );
}
