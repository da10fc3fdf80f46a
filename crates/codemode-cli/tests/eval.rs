//! `codemode eval`, run as a user would run it. A scripted model (a test double) answers;
//! the demo MCP server, the checks of the final workspace, recording and replay are real.

use std::path::Path;

use serde_json::{Value, json};

mod common;
use common::{codemode, command, livemcpbench, text};

/// Two tasks: the first program posts to the wrong channel and returns normally (a run
/// that says `success`), the second answers the question right.
fn scripted(dir: &Path) {
    let script = json!({
        "strategy": ["1. Send the message with `workspace.send_message`.", "1. List the open issues.\n2. Return how many."],
        "tiny": ["[\"workspace.send_message\"]", "[\"workspace.list_issues\"]"],
        "main": [
            "```typescript\nawait tools.workspace.send_message({ channel: \"random\", text: \"Deploy finished\" });\nreturn \"sent\";\n```",
            "```typescript\nconst { issues } = await tools.workspace.list_issues({ state: \"open\" });\nreturn issues.length;\n```",
        ],
    });
    std::fs::write(dir.join("script.json"), script.to_string()).unwrap();
    std::fs::write(
        dir.join("codemode.toml"),
        "[llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n[run]\ntype_checker = \"builtin\"\n",
    )
    .unwrap();
}

fn results(dir: &Path, file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

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

#[test]
fn eval_without_models_or_with_an_unknown_task_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = codemode(dir.path(), &["eval", "--tasks", "post-general"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("codemode eval needs models"),
        "{}",
        text(&out.stderr)
    );
    scripted(dir.path());
    let out = codemode(dir.path(), &["eval", "--tasks", "no-such-task"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("post-general"), "{}", text(&out.stderr));
}

/// The filter's recall over the real LiveMCPBench catalog (527 tools), with scripted models
/// (test doubles): the plan names no tool, the strategy model's search keywords say
/// "museum", and the tiny model keeps nothing, so what is kept is the search's trusted best.
/// The first task's gold tools (the Met Museum's object search and lookup) share no word
/// with "find the painting ...": without the keywords the search does not find them.
#[test]
fn recall_counts_the_gold_tools_the_filter_kept() {
    let Some(data) = livemcpbench() else {
        eprintln!("skipped: the LiveMCPBench data is not here (set CODEMODE_SHARED_DIR)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = json!({
        "strategy": ["1. Find the painting.\n2. Return what it says.", "museum art collection object"],
        "tiny": ["[]"],
    });
    with_scripted_models(dir.path(), &script);
    let recall = |keywords: &str| {
        let out = codemode(
            dir.path(),
            &[
                "eval",
                "--tasks",
                "none",
                "--recall",
                "1",
                // The tiny model's answer alone beside the search's trusted best.
                "--retrieval-keep",
                "0",
                "--search-keywords",
                keywords,
                "--livemcpbench",
                data.to_str().unwrap(),
                "--output",
                "recall.json",
            ],
        );
        assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
        (
            results(dir.path(), "recall.json")["recall"][0].clone(),
            text(&out.stdout),
        )
    };

    let (r, stdout) = recall("true");
    assert_eq!(r["catalog"], 527, "{r:#}");
    assert_eq!(
        r["gold"],
        json!(["search-museum-objects", "get-museum-object"]),
        "{r:#}"
    );
    assert_eq!(r["keywords"], "museum art collection object", "{r:#}");
    assert_eq!(r["found"], r["gold"], "{r:#}");
    assert_eq!(r["recall"], 1.0, "{r:#}");
    // 50 candidates: the best 30 kept, the last 20 in one batch the tiny model emptied.
    assert_eq!(r["selected"], 30, "{r:#}");
    assert_eq!(r["model_calls"], 3, "a plan, the keywords and one filter batch: {r:#}");
    assert_eq!(r["tiny_calls"], 1, "{r:#}");
    assert!(stdout.contains("mean recall 1.00 over 1 tasks"), "{stdout}");

    let (r, _) = recall("false");
    assert!(r.get("keywords").is_none(), "{r:#}");
    assert_eq!(r["found"], json!([]), "no word of the request finds the museum: {r:#}");
    assert_eq!(r["model_calls"], 2, "{r:#}");
}

/// Writes `script` (answers per role) and a `codemode.toml` whose models answer from it
/// (the scripted test double), with the checker the machine has.
fn with_scripted_models(dir: &Path, script: &Value) {
    std::fs::write(dir.join("script.json"), script.to_string()).unwrap();
    std::fs::write(
        dir.join("codemode.toml"),
        "[llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n",
    )
    .unwrap();
}

/// `--recall N --recall-programs`: the whole pipeline runs for each task; a program that
/// calls a gold tool the filter left out gets it declared by the check's second chance, and
/// the eval counts it (the static catalog's tools are checked, never called).
#[test]
fn recall_programs_count_the_tools_the_check_declared() {
    let Some(data) = livemcpbench() else {
        eprintln!("skipped: the LiveMCPBench data is not here (set CODEMODE_SHARED_DIR)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let program =
        "const ids = await tools.met_museum.search_museum_objects({ q: \"Corridor in the Asylum\" });\nreturn ids;";
    let script = json!({
        "strategy": ["1. Find the painting.\n2. Return what it says."],
        "tiny": ["[]"],
        "main": [format!("```typescript\n{program}\n```")],
    });
    with_scripted_models(dir.path(), &script);
    let out = codemode(
        dir.path(),
        &[
            "eval",
            "--tasks",
            "none",
            "--recall",
            "1",
            "--recall-programs",
            "--retrieval-keep",
            "0",
            "--search-keywords",
            "false",
            "--livemcpbench",
            data.to_str().unwrap(),
            "--output",
            "recall.json",
        ],
    );
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let r = results(dir.path(), "recall.json")["recall"][0].clone();
    // The filter found neither museum tool; the program called one, which the check declared.
    assert_eq!(r["found"], json!([]), "{r:#}");
    let program = &r["program"];
    assert_eq!(program["declared_by_check"], json!(["search-museum-objects"]), "{r:#}");
    assert_eq!(program["found_after_check"], json!(["search-museum-objects"]), "{r:#}");
    assert_eq!(program["recall_after_check"], 0.5, "{r:#}");
    assert_eq!(program["called_gold"], json!(["search-museum-objects"]), "{r:#}");
    assert_eq!(program["checked"], true, "{r:#}");
    // It ran, and failed at its call: a static catalog's tools are never called.
    assert_eq!(r["result_type"], "runtime_error", "{r:#}");
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .contains("pipeline programs: mean recall after the check 0.50; the check declared tools in 1 of 1 tasks"),
        "{stdout}"
    );
}

/// `--recall N --mode direct`: the tools a direct tool-calling agent would be offered for
/// each task (the search's best that fit its definition budget; no model answers), their
/// recall and the prompt they make.
#[test]
fn recall_of_the_tools_a_direct_agent_is_offered() {
    let Some(data) = livemcpbench() else {
        eprintln!("skipped: the LiveMCPBench data is not here (set CODEMODE_SHARED_DIR)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = codemode(
        dir.path(),
        &[
            "eval",
            "--mode",
            "direct",
            "--tasks",
            "none",
            "--recall",
            "2",
            "--livemcpbench",
            data.to_str().unwrap(),
            "--output",
            "recall.json",
        ],
    );
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let eval = results(dir.path(), "recall.json");
    let rows = eval["recall"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{eval:#}");
    for r in rows {
        assert_eq!(r["mode"], "direct");
        assert_eq!(r["model_calls"], 0);
        let selected = r["selected"].as_u64().unwrap();
        assert!((5..=40).contains(&selected), "a budget's worth of the 527 tools: {r:#}");
        let prompt = r["prompt_tokens"].as_u64().unwrap();
        assert!(
            (2_000..=3_200).contains(&prompt),
            "2,800 tokens of definitions and the request: {r:#}"
        );
    }
    for r in rows {
        let (found, gold) = (r["found"].as_array().unwrap(), r["gold"].as_array().unwrap());
        assert!(found.iter().all(|f| gold.contains(f)), "{r:#}");
        assert_eq!(
            r["recall"].as_f64().unwrap(),
            found.len() as f64 / gold.len() as f64,
            "{r:#}"
        );
    }
    // The request alone does not lead the search to the museum's tools (the pipeline's plan
    // does): this is what a direct agent with a cut catalog loses.
    assert_eq!(rows[0]["recall"], 0.0, "{:#}", rows[0]);
    assert!(
        eval.get("mean_recall").is_none(),
        "the pipeline's figure is not made up: {eval:#}"
    );
    assert!(
        text(&out.stdout).contains("direct: mean recall"),
        "{}",
        text(&out.stdout)
    );
}

/// A real eval, recorded: Qwen2.5-Coder 1.5B (strategy, main) and 0.5B (tiny) on the 18
/// demo tasks with TypeScript 7 (`cargo xtask eval --local --record ...`). Replayed offline,
/// every task ends as it did live. When a change to the pipeline or its prompts makes the
/// models answer differently, this fails: record the eval again and update docs/status.md.
#[test]
fn a_recorded_real_model_eval_replays_to_the_same_results() {
    replays_to_the_same_results("eval-qwen2.5-coder", "demo");
}

/// The recorded real-server runs lay their fixtures at the paths their prompts name
/// (`/tmp/codemode-eval/<task>`), so two of them replay one after the other.
static SERVER_FIXTURES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The real-server suite warm: the same models with the output types learned from the cold
/// run above (`--learned-types-to` on its replay, kept beside the recording as
/// `*.learned-types.json` and given with `--learned-types-from`).
#[test]
fn a_recorded_warm_eval_of_real_servers_replays_to_the_same_results() {
    if servers_installed().is_none() {
        eprintln!("skipped: the real-server suite's servers are not installed (cargo xtask servers)");
        return;
    }
    let _fixtures = SERVER_FIXTURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    replays_to_the_same_results("eval-servers-warm-qwen2.5-coder", "servers");
}

/// The published comparison of the demo suite (docs/status.md): the pipeline's recording
/// above and the direct tool-calling agent's (`--mode direct`), the same models, replayed
/// as `--modes pipeline,direct` to the same verdicts and the same per-mode totals.
#[test]
fn the_recorded_comparison_with_direct_tool_calling_replays_to_the_same_table() {
    replays_to_the_same_results("eval-compare-qwen2.5-coder", "demo");
}

/// The same comparison on the real-server suite: six MCP servers from npm and PyPI on fresh
/// fixtures (installed by `cargo xtask servers`, which `cargo xtask test` runs). It is also
/// the replay of the pipeline's cold recording of that suite (`eval-servers-qwen2.5-coder`).
#[test]
fn the_recorded_comparison_on_real_servers_replays_to_the_same_table() {
    if servers_installed().is_none() {
        eprintln!("skipped: the real-server suite's servers are not installed (cargo xtask servers)");
        return;
    }
    let _fixtures = SERVER_FIXTURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    replays_to_the_same_results("eval-servers-compare-qwen2.5-coder", "servers");
}

/// The servers' cache when `cargo xtask servers` has filled it.
fn servers_installed() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("CODEMODE_SERVERS_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/codemode/servers")))?;
    dir.join(".installed-from").is_file().then_some(dir)
}

fn replays_to_the_same_results(name: &str, suite: &str) {
    let tsc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/npm/node_modules/.bin/tsc");
    if !tsc.is_file() {
        eprintln!("skipped: TypeScript 7 is not installed in tests/npm (cargo xtask npm)");
        return;
    }
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/recordings");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(recorded.join(format!("{name}.json"))).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[run]\ntype_checker = \"tsc\"\ntsc_path = {:?}\n",
            tsc.display().to_string()
        ),
    )
    .unwrap();
    // A comparison of modes replays the recordings of each, one after the other.
    let recording = match expected["recordings"].as_array() {
        None => recorded.join(format!("{name}.jsonl")),
        Some(files) => {
            let combined = dir.path().join("combined.jsonl");
            let text: String = files
                .iter()
                .map(|f| std::fs::read_to_string(recorded.join(f.as_str().unwrap())).unwrap())
                .collect();
            std::fs::write(&combined, text).unwrap();
            combined
        }
    };
    let mut ids: Vec<&str> = Vec::new();
    for t in expected["tasks"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let ids = ids.join(",");
    let mut args = vec![
        "eval",
        "--suite",
        suite,
        "--tasks",
        &ids,
        "--replay",
        recording.to_str().unwrap(),
        "--output",
        "replayed.json",
    ];
    if let Some(modes) = expected["modes"].as_str() {
        args.extend(["--modes", modes]);
    }
    // A warm recording: the learned output types its run had.
    let learned = recorded.join(format!("{name}.learned-types.json"));
    if learned.is_file() {
        args.extend(["--learned-types-from", learned.to_str().unwrap()]);
    }
    let out = codemode(dir.path(), &args);
    let replayed = results(dir.path(), "replayed.json");
    let summary = |eval: &Value| -> Vec<(String, String, bool, String)> {
        eval["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["mode"].as_str().unwrap_or("pipeline").to_string(),
                    t["id"].as_str().unwrap().to_string(),
                    t["passed"].as_bool().unwrap(),
                    t["result_type"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        summary(&replayed),
        summary(&expected),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // A published comparison: each mode's totals (all but time) come back the same.
    for (i, published) in expected["summaries"].as_array().into_iter().flatten().enumerate() {
        for (key, value) in published.as_object().unwrap() {
            assert_eq!(&replayed["modes"][i][key], value, "{key} of {}", published["mode"]);
        }
    }
}

/// The real-server suite, run as a user would, with a scripted model (a test double): the
/// servers, fixtures and judges are real. One program answers right through the SQLite
/// server (whose Python-repr rows reach the program as JSON); the other writes the wrong
/// text and says `success`, and fails its task.
#[test]
fn real_server_tasks_are_judged_by_their_fixtures() {
    if servers_installed().is_none() {
        eprintln!("skipped: the real-server suite's servers are not installed (cargo xtask servers)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Fixtures of its own: the replay test lays the same tasks' fixtures at the same time.
    let fixtures = dir.path().join("fixtures");
    let script = json!({
        "strategy": ["1. Count the Berlin customers with sqlite.read_query.", "1. Write the file."],
        "tiny": ["[\"sqlite.read_query\"]", "[\"filesystem.write_file\"]"],
        "main": [
            "```typescript\nconst rows = await tools.sqlite.read_query({ query: \"SELECT COUNT(*) AS n FROM customers WHERE city = 'Berlin'\" });\nreturn rows[0].n;\n```",
            format!(
                "```typescript\nawait tools.filesystem.write_file({{ path: {:?}, content: \"Goodbye\" }});\nreturn \"written\";\n```",
                fixtures.join("fs-write/hello.txt").display().to_string()
            ),
        ],
    });
    std::fs::write(dir.path().join("script.json"), script.to_string()).unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        "[llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n[run]\ntype_checker = \"builtin\"\n",
    )
    .unwrap();
    let out = command(dir.path())
        .env("CODEMODE_EVAL_FIXTURES", &fixtures)
        .args([
            "eval",
            "--suite",
            "servers",
            "--tasks",
            "sql-berlin,fs-write",
            "--output",
            "servers.json",
        ])
        .output()
        .unwrap();
    let eval = results(dir.path(), "servers.json");
    assert_eq!(out.status.code(), Some(1), "{eval:#}\n{}", text(&out.stderr));
    let [berlin, write] = [&eval["tasks"][0], &eval["tasks"][1]];
    assert_eq!(berlin["suite"], "servers");
    assert_eq!(berlin["passed"], true, "{berlin:#}");
    assert_eq!(berlin["output"], 2, "{berlin:#}");
    assert_eq!(write["result_type"], "success", "{write:#}");
    assert_eq!(write["passed"], false, "{write:#}");
    assert!(
        write["why"].as_str().unwrap().contains("hello.txt reads \"Goodbye\""),
        "{write:#}"
    );
    assert_eq!(eval["false_successes"], 1);
    assert!(
        text(&out.stdout).contains("1 of 2 servers tasks passed"),
        "{}",
        text(&out.stdout)
    );
}
