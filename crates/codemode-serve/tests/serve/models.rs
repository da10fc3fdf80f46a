//! run_task with models, approvals through MCP elicitation, and what describe_tools teaches.

use super::*;

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
