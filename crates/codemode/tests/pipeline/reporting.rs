//! Failures in the report, prompt logs, programs of one's own, arguments, the second chance.

use super::*;

#[tokio::test]
async fn llm_failure_is_reported() {
    let llm = Arc::new(ScriptedLlm::new());
    let report = pipeline(llm, Arc::new(FakeChatProvider::default()))
        .await
        .run(RunOptions::new("q"))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::LlmError);
    assert!(report.error.as_deref().unwrap().starts_with("plan step:"));
}

#[tokio::test]
async fn prompt_logs_are_written_and_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "sk-proj-THISISASECRETKEY0123456789";
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "plan mentioning Bearer abcdefghijklmnopqrstuv")
            .respond_with(LlmRole::Tiny, select_all)
            .reply(LlmRole::Main, fenced("return 1;")),
    );
    let cm = CodeMode::builder()
        .llm(llm)
        .tool_provider("chat", Arc::new(FakeChatProvider::default()))
        .environment(codemode::default_environment().unwrap())
        .secret("my-custom-secret-value")
        .build()
        .await
        .unwrap();
    let query = format!("use key {secret} and my-custom-secret-value");
    let report = cm.run(RunOptions::new(query).log_dir(dir.path())).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["001-plan-strategy.md", "002-filter-tiny.md", "003-implement-main.md"]
    );
    for name in names {
        let text = std::fs::read_to_string(dir.path().join(&name)).unwrap();
        assert!(text.contains("## response"), "{name}");
        assert!(!text.contains("THISISASECRETKEY"), "{name} leaks the key");
        assert!(!text.contains("my-custom-secret-value"), "{name} leaks the secret");
        assert!(!text.contains("abcdefghijklmnopqrstuv"), "{name} leaks the token");
    }
    let plan = std::fs::read_to_string(dir.path().join("001-plan-strategy.md")).unwrap();
    assert!(plan.contains("[REDACTED]"));
}

#[tokio::test]
async fn exec_runs_a_program_with_main_and_no_model() {
    let chat = Arc::new(FakeChatProvider::default());
    let cm = without_models(chat.clone()).await;
    let program = "async function main() {\n  const r = await tools.chat.send_message({ channel: 'eng', text: 'hi' });\n  return r.id;\n}";
    let report = cm
        .run(codemode::RunRequest::program(program, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!(1));
    assert!(cm.run(RunOptions::new("q")).await.is_err(), "run needs models");
    let started = Instant::now();
    let report = cm
        .run(codemode::RunRequest::program(
            "await tools.chat.send_message({ channel: 1 });",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::CompileError);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn repair_with_typescript_7_diagnostics() {
    let tsc_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/npm/node_modules/.bin/tsc");
    assert!(tsc_path.is_file(), "run `cargo xtask npm` first");
    let checker: Arc<dyn codemode::TypeChecker> =
        Arc::new(codemode::TscTypeChecker::discover(Some(&tsc_path)).unwrap());
    assert!(checker.name().starts_with("tsc 7."));
    // The object used as its list (seen from Qwen2.5-Coder-1.5B): tsc says only that `map`
    // does not exist on the type, the built-in checker's hint says where the list is.
    let broken = "const result = await tools.chat.list_channels({});\nreturn result.map((c) => c).length;";
    let fixed = "const { channels } = await tools.chat.list_channels({});\nreturn channels.length;";
    let llm = Arc::new(scripted(&[broken, fixed]));
    let cm = CodeMode::builder()
        .llm(llm.clone())
        .tool_provider("chat", Arc::new(FakeChatProvider::default()))
        .environment(codemode::default_environment().unwrap())
        .type_checker(checker)
        .build()
        .await
        .unwrap();
    let report = cm.run(RunOptions::new("count the channels")).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!(5));
    assert_eq!(report.repairs, 1);
    assert!(report.checker.as_deref().unwrap().starts_with("tsc 7."));
    let repair = llm.requests().into_iter().find(|r| r.step == "repair").unwrap();
    let feedback = &repair.messages.last().unwrap().content;
    assert!(feedback.contains("program.ts:2:15: TS2339"), "{feedback}");
    assert!(
        feedback.contains("    hint: Property 'map' does not exist on the result of tools.chat.list_channels")
            && feedback.contains(
                "Its list is the property 'channels': declare `result` as `const { channels: result } = await tools.chat.list_channels(...)`."
            ),
        "{feedback}"
    );
}

#[tokio::test]
async fn arguments_are_validated_against_the_schema_before_the_call() {
    let chat = Arc::new(FakeChatProvider::default());
    let cm = without_models(chat.clone()).await;
    // `any` hides the mistake from the type checker; the bridge still refuses it.
    let program = "const args: any = { channel: 42, text: 'x', extra: true };\ntry {\n  await tools.chat.send_message(args);\n} catch (e) {\n  return String(e.message);\n}";
    let report = cm
        .run(codemode::RunRequest::program(program, RunOptions::default()))
        .await
        .unwrap();
    let message = report.output.as_str().unwrap().to_string();
    assert!(
        message.starts_with("tools.chat.send_message: invalid arguments:"),
        "{message}"
    );
    assert!(message.contains("/channel"), "{message}");
    assert!(chat.messages.lock().unwrap().is_empty(), "the tool was not called");
    assert!(report.tool_calls[0].error.is_some());
}

/// An answer with no program (an apology, a plan in words) is asked for once more as one
/// code block; it does not cost a repair.
#[tokio::test]
async fn an_answer_without_code_is_asked_for_again() {
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "1. list channels")
            .respond_with(LlmRole::Tiny, select_all)
            .reply(LlmRole::Main, "I would first list the channels and then count them.")
            .reply(
                LlmRole::Main,
                fenced("const { channels } = await tools.chat.list_channels({});\nreturn channels.length;"),
            ),
    );
    let cm = pipeline(llm.clone(), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("count the channels")).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!(5));
    assert_eq!(report.repairs, 0);
    let main: Vec<_> = llm.requests().into_iter().filter(|r| r.role == LlmRole::Main).collect();
    assert_eq!(main.len(), 2);
    assert_eq!(main[1].step, "implement");
    assert!(main[1].messages.last().unwrap().content.contains("has no program"));
}

/// The pipeline over the fake chat tools with a tiny model that keeps only `list_channels`
/// and `send_message` (run it with `retrieval_keep(0)`, so the search adds none), and the
/// main model answering `programs` in turn.
async fn with_two_tools_offered(programs: &[&str]) -> (Arc<ScriptedLlm>, Arc<FakeChatProvider>, CodeMode) {
    let mut llm = ScriptedLlm::new()
        .reply(
            LlmRole::Strategy,
            "1. list channels\n2. send to test channels\n3. react",
        )
        .respond_with(LlmRole::Tiny, |_| {
            Ok(r#"["chat.list_channels", "chat.send_message"]"#.to_string())
        });
    for program in programs {
        llm = llm.reply(LlmRole::Main, fenced(program));
    }
    let llm = Arc::new(llm);
    let chat = Arc::new(FakeChatProvider::default());
    let cm = pipeline(llm.clone(), chat.clone()).await;
    (llm, chat, cm)
}

#[tokio::test]
async fn a_program_calling_a_catalog_tool_the_filter_left_out_gets_it_declared() {
    let program = "const m = await tools.chat.send_message({ channel: 'test-1', text: 'hi' });\nawait tools.chat.add_reaction({ message_id: m.id, emoji: 'wave' });\nreturn m.id;";
    let (llm, chat, cm) = with_two_tools_offered(&[program]).await;
    let report = cm
        .run(RunOptions::new("say hi in test-1 and wave").retrieval_keep(0))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.selected_tools, ["chat.list_channels", "chat.send_message"]);
    assert_eq!(report.tools_declared_by_check, ["chat.add_reaction"]);
    // Declared and checked again at once: no repair, one program from the main model.
    assert_eq!(report.repairs, 0);
    assert_eq!(report.token_usage["main"].calls, 1);
    assert_eq!(chat.reactions.lock().unwrap().len(), 1);
    assert!(llm.requests().iter().all(|r| r.step != "repair"));
}

#[tokio::test]
async fn a_program_calling_a_tool_the_catalog_lacks_is_repaired_with_the_matches_declared() {
    let wrong = "const m = await tools.chat.send_message({ channel: 'test-1', text: 'hi' });\nawait tools.chat.react({ message_id: m.id, emoji: 'wave' });\nreturn m.id;";
    let right = "const m = await tools.chat.send_message({ channel: 'test-1', text: 'hi' });\nawait tools.chat.add_reaction({ message_id: m.id, emoji: 'wave' });\nreturn m.id;";
    let (llm, chat, cm) = with_two_tools_offered(&[wrong, right]).await;
    let report = cm
        .run(RunOptions::new("say hi in test-1 and wave").retrieval_keep(0))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.repairs, 1);
    assert_eq!(
        report.tools_declared_by_check.first().map(String::as_str),
        Some("chat.add_reaction")
    );
    assert_eq!(chat.reactions.lock().unwrap().len(), 1);
    let repair = llm
        .requests()
        .into_iter()
        .find(|r| r.step == "repair")
        .expect("a repair");
    let ask = &repair.messages.last().unwrap().content;
    assert!(
        ask.starts_with("The program calls tools that were not declared to it (`tools.chat.react`)."),
        "{ask}"
    );
    assert!(ask.contains("add_reaction(input: ChatAddReactionInput)"), "{ask}");
    assert!(
        ask.contains("There is no tool `tools.chat.react`: call one of the tools declared above instead."),
        "{ask}"
    );
    // The checker's own words follow, as in every repair.
    assert!(ask.contains("Property 'react' does not exist"), "{ask}");

    // A program that keeps calling the missing name is not offered the tools again: the
    // check ends as a compile error once the repairs are spent.
    let still_wrong = wrong.replace("'wave'", "'smile'");
    let (llm, _, cm) = with_two_tools_offered(&[wrong, &still_wrong]).await;
    let report = cm
        .run(RunOptions::new("say hi in test-1 and wave").max_repairs(1))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::CompileError, "{report:#?}");
    assert_eq!(report.code.as_deref(), Some(still_wrong.as_str()));
    let asks_with_the_note = llm
        .requests()
        .iter()
        .filter(|r| {
            r.messages
                .last()
                .is_some_and(|m| m.content.starts_with("The program calls tools that were not declared"))
        })
        .count();
    assert_eq!(asks_with_the_note, 1, "the note is sent in one repair only");
}
