//! What the agent sees and runs: the three tools, programs, errors, budgets, cancellation.

use super::*;

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
