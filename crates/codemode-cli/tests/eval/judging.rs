//! Tasks judged by the state they leave, in every mode: the pipeline, the agent, direct tool calling.

use super::*;

#[test]
fn a_task_is_judged_by_the_workspace_not_by_the_runs_verdict() {
    let dir = tempfile::tempdir().unwrap();
    scripted(dir.path());
    let out = codemode(
        dir.path(),
        &[
            "eval",
            "--tasks",
            "post-general,count-open-issues",
            "--record",
            "calls.jsonl",
            "--output",
            "out/eval.json",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("1 of 2 demo tasks passed (50 %); 1 said success but left the wrong state"),
        "{stdout}"
    );
    let eval = results(dir.path(), "out/eval.json");
    let [wrong, right] = [&eval["tasks"][0], &eval["tasks"][1]];
    assert_eq!(wrong["id"], "post-general");
    assert_eq!(wrong["result_type"], "success");
    assert_eq!(wrong["passed"], false);
    assert!(wrong["why"].as_str().unwrap().contains("#general"), "{wrong:#}");
    assert_eq!(right["passed"], true, "{right:#}");
    assert_eq!(right["output"], 2);
    assert_eq!(right["models"]["main"]["calls"], 1);
    assert!(right["step_ms"]["execute"].as_f64().unwrap() > 0.0);
    assert_eq!(eval["false_successes"], 1);

    // The recording replays offline, without the configuration's models, to the same results.
    std::fs::remove_file(dir.path().join("codemode.toml")).unwrap();
    let out = codemode(
        dir.path(),
        &[
            "eval",
            "--tasks",
            "post-general,count-open-issues",
            "--replay",
            "calls.jsonl",
            "--output",
            "replayed.json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let replayed = results(dir.path(), "replayed.json");
    for (a, b) in eval["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .zip(replayed["tasks"].as_array().unwrap())
    {
        assert_eq!(a["passed"], b["passed"]);
        assert_eq!(a["code"], b["code"]);
        assert_eq!(a["why"], b["why"]);
    }
}

/// `--agent`: the main model drives `codemode serve`'s tools, one call per turn. The scripted
/// model (a test double) searches, sends a program with a type error, fixes it after the
/// diagnostics come back, and answers; serve, its checker and the demo server are real.
#[test]
fn the_agent_eval_drives_codemode_serve_and_is_judged_by_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let call = |name: &str, arguments: Value| {
        format!(
            "<tool_call>\n{}\n</tool_call>",
            json!({ "name": name, "arguments": arguments })
        )
    };
    let script = json!({
        "main": [
            call("search_tools", json!({ "query": "send a chat message" })),
            // Raw newlines inside the JSON string, as small models write programs.
            "<tool_call>\n{\"name\": \"execute_code\", \"arguments\": {\"code\": \"await tools.workspace.send_message({ channel: 'general', text: 'Deploy finished' });\nreturn 'posted';\"}}\n</tool_call>",
            "The message is posted.",
            call("describe_tools", json!({ "paths": ["workspace.list_issues"] })),
            call("execute_code", json!({ "code": "const { issues } = await tools.workspace.list_issue({ state: 'open' });\nreturn issues.length;" })),
            // The same failing call again is answered without running it.
            call("execute_code", json!({ "code": "const { issues } = await tools.workspace.list_issue({ state: 'open' });\nreturn issues.length;" })),
            call("execute_code", json!({ "code": "const { issues } = await tools.workspace.list_issues({ state: 'open' });\nreturn issues.length;" })),
            "There are 2 open issues.",
        ],
    });
    std::fs::write(dir.path().join("script.json"), script.to_string()).unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        "[llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n[run]\ntype_checker = \"builtin\"\n",
    )
    .unwrap();
    let out = codemode(
        dir.path(),
        &[
            "eval",
            "--agent",
            "--tasks",
            "post-general,count-open-issues",
            "--output",
            "agent.json",
        ],
    );
    let eval = results(dir.path(), "agent.json");
    assert_eq!(out.status.code(), Some(0), "{eval:#}\n{}", text(&out.stderr));
    let [post, count] = [&eval["tasks"][0], &eval["tasks"][1]];
    assert_eq!(post["result_type"], "answered", "{post:#}");
    assert_eq!(post["output"]["calls"], json!(["search_tools", "execute_code"]));
    assert_eq!(post["repairs"], 0);
    assert_eq!(count["passed"], true, "{count:#}");
    assert_eq!(count["output"]["answer"], "There are 2 open issues.");
    assert_eq!(
        count["repairs"], 2,
        "the program calling `list_issue` fails its check, then is sent again: {count:#}"
    );
    assert_eq!(count["models"]["main"]["calls"], 5);
    assert!(
        count["models"]["main"]["prompt_tokens"].as_u64().unwrap() > 500,
        "{count:#}"
    );
    assert!(count["code"].as_str().unwrap().contains("issues.length"));
}

/// `--modes pipeline,direct`: the same two tasks run by the pipeline, then by the main model
/// calling the demo server's tools itself (the baseline), compared in one table. The scripted
/// model (a test double) writes the pipeline's programs, then the direct agent's calls: two
/// in one turn, a tool that does not exist, arguments the input schema refuses. The demo
/// server, the bridge's checks, the judges and record and replay are real.
#[test]
fn direct_tool_calling_is_measured_beside_the_pipeline_on_the_same_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let call = |name: &str, arguments: Value| {
        format!(
            "<tool_call>\n{}\n</tool_call>",
            json!({ "name": name, "arguments": arguments })
        )
    };
    let script = json!({
        "strategy": ["1. Send the message with `workspace.send_message`.", "1. List the open issues.\n2. Return how many."],
        "tiny": ["[\"workspace.send_message\"]", "[\"workspace.list_issues\"]"],
        "main": [
            "```typescript\nawait tools.workspace.send_message({ channel: \"general\", text: \"Deploy finished\" });\nreturn \"sent\";\n```",
            "```typescript\nconst { issues } = await tools.workspace.list_issues({ state: \"open\" });\nreturn issues.length;\n```",
            // Direct: two calls in one turn.
            format!(
                "{}\n{}",
                call("send_message", json!({ "channel": "general", "text": "Deploy finished" })),
                // The catalog path is read as well as the offered name.
                call("workspace.list_issues", json!({ "state": "open" }))
            ),
            "Posted.".to_string(),
            call("workspace.list_issue", json!({ "state": "open" })),
            call("workspace.list_issues", json!({ "state": 5 })),
            call("workspace.list_issues", json!({ "state": "open" })),
            "There are 2 open issues.".to_string(),
        ],
    });
    std::fs::write(dir.path().join("script.json"), script.to_string()).unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        "[llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n[run]\ntype_checker = \"builtin\"\n",
    )
    .unwrap();
    let args = |models: &[&'static str]| {
        let mut args = vec![
            "eval",
            "--modes",
            "pipeline,direct",
            "--tasks",
            "post-general,count-open-issues",
        ];
        args.extend_from_slice(models);
        args
    };
    let out = codemode(
        dir.path(),
        &args(&["--record", "calls.jsonl", "--output", "modes.json"]),
    );
    let stdout = text(&out.stdout);
    let eval = results(dir.path(), "modes.json");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{eval:#}\n{}", text(&out.stderr));
    let tasks = eval["tasks"].as_array().unwrap();
    let modes: Vec<&str> = tasks.iter().map(|t| t["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["pipeline", "pipeline", "direct", "direct"]);
    let [post, count] = [&tasks[2], &tasks[3]];
    assert_eq!(post["passed"], true, "{post:#}");
    assert_eq!(post["result_type"], "answered");
    assert_eq!(post["tool_calls"], 2, "both calls of the one turn were made: {post:#}");
    assert_eq!(
        post["output"]["offered_tools"], 11,
        "the demo catalog fits whole: {post:#}"
    );
    assert_eq!(post["output"]["catalog_tools"], 11);
    assert_eq!(count["passed"], true, "{count:#}");
    assert_eq!(count["output"]["answer"], "There are 2 open issues.");
    assert_eq!(
        count["repairs"], 2,
        "an unknown function and arguments the schema refuses come back as errors: {count:#}"
    );
    assert_eq!(
        count["tool_calls"], 2,
        "the unknown function reaches no server: {count:#}"
    );
    assert_eq!(count["models"]["main"]["calls"], 4);
    // One summary per mode, and the comparison table on stdout.
    let summaries = eval["modes"].as_array().unwrap();
    assert_eq!(summaries.len(), 2, "{eval:#}");
    assert_eq!(summaries[1]["mode"], "direct");
    assert_eq!(summaries[1]["passed"], 2);
    assert_eq!(summaries[1]["tool_calls"], 4);
    assert_eq!(summaries[1]["model_calls"], 6);
    assert!(
        summaries[1]["prompt_tokens"].as_u64().unwrap() > summaries[0]["prompt_tokens"].as_u64().unwrap() / 10,
        "{eval:#}"
    );
    assert!(stdout.contains("demo: mode"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.contains("direct") && l.contains("2/2")),
        "{stdout}"
    );

    // The recording replays both modes offline to the same results.
    std::fs::remove_file(dir.path().join("codemode.toml")).unwrap();
    let out = codemode(
        dir.path(),
        &args(&["--replay", "calls.jsonl", "--output", "replayed.json"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let replayed = results(dir.path(), "replayed.json");
    for key in ["passed", "tool_calls", "prompt_tokens", "model_calls"] {
        assert_eq!(replayed["modes"][1][key], eval["modes"][1][key], "{key}");
        assert_eq!(replayed["modes"][0][key], eval["modes"][0][key], "{key}");
    }
}

/// A fake OpenAI-compatible server with native function calling (a test double): it answers
/// by the number of `tool` messages the conversation holds, as a model would by its results.
struct FakeFunctionCallingModel;

impl wiremock::Respond for FakeFunctionCallingModel {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let results = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "tool")
            .count();
        let send = |id: &str, arguments: &str| json!({"id": id, "type": "function", "function": {"name": "send_message", "arguments": arguments}});
        let post = r#"{"channel": "general", "text": "Deploy finished"}"#;
        let message = match results {
            // Two calls, one with arguments that are not JSON: neither is made.
            0 => {
                json!({"role": "assistant", "content": null, "tool_calls": [send("call_a", post), send("call_b", "{channel: general")]})
            }
            2 => json!({"role": "assistant", "content": "", "tool_calls": [send("call_c", post)]}),
            _ => json!({"role": "assistant", "content": "Posted."}),
        };
        wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 500, "completion_tokens": 20},
        }))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_tool_calling_with_native_function_calls() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(FakeFunctionCallingModel)
        .expect(3)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("codemode.toml"), "[run]\ntype_checker = \"builtin\"\n").unwrap();
    let url = format!("{}/v1", server.uri());
    let eval = |extra: Vec<String>| {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut args: Vec<String> = [
                "eval",
                "--mode",
                "direct",
                "--function-calls",
                "native",
                "--tasks",
                "post-general",
            ]
            .map(String::from)
            .to_vec();
            args.extend(extra);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            codemode(&dir, &args)
        })
    };
    let out = eval(
        [
            "--llm-base-url",
            &url,
            "--model",
            "fake",
            "--record",
            "calls.jsonl",
            "--output",
            "native.json",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await
    .unwrap();
    let native = results(dir.path(), "native.json");
    assert_eq!(out.status.code(), Some(0), "{native:#}\n{}", text(&out.stderr));
    let task = &native["tasks"][0];
    assert_eq!(task["passed"], true, "{task:#}");
    assert_eq!(task["result_type"], "answered");
    assert_eq!(
        task["tool_calls"], 1,
        "the turn with unreadable arguments made no call: {task:#}"
    );
    assert_eq!(task["repairs"], 1, "{task:#}");

    let requests = server.received_requests().await.unwrap();
    let bodies: Vec<Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    // The functions go as `tools`, not in the prompt.
    assert_eq!(bodies[0]["tools"].as_array().unwrap().len(), 11, "{:#}", bodies[0]);
    assert_eq!(bodies[0]["tools"][0]["type"], "function");
    let system = bodies[0]["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are an agent.") && !system.contains("<tool"),
        "{system}"
    );
    // Every call of a turn is answered by a `tool` message naming it.
    let messages = bodies[1]["messages"].as_array().unwrap();
    assert_eq!(messages[2]["tool_calls"].as_array().unwrap().len(), 2, "{messages:#?}");
    for (message, id) in messages[3..].iter().zip(["call_a", "call_b"]) {
        assert_eq!(message["role"], "tool");
        assert_eq!(message["tool_call_id"], id);
        let content = message["content"].as_str().unwrap();
        assert!(
            content.contains("arguments of `send_message` are not a JSON object"),
            "{content}"
        );
    }
    let last = bodies[2]["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["role"].as_str(), last["tool_call_id"].as_str()),
        (Some("tool"), Some("call_c"))
    );
    assert!(!last["content"].as_str().unwrap().starts_with("Error"), "{last:#}");

    // The recording keeps the native calls: it replays offline to the same result.
    let out = eval(
        ["--replay", "calls.jsonl", "--output", "replayed.json"]
            .map(String::from)
            .to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let replayed = results(dir.path(), "replayed.json");
    for key in ["passed", "result_type", "tool_calls", "repairs"] {
        assert_eq!(replayed["tasks"][0][key], task[key], "{key}");
    }
}
