//! A run end to end, and the check step with its repairs.

use super::*;

#[tokio::test]
async fn success_path_reports_everything() {
    let llm = Arc::new(scripted(&[SEED_PROGRAM]));
    let chat = Arc::new(FakeChatProvider::default());
    let cm = pipeline(llm.clone(), chat.clone()).await;
    let report = cm.run(RunOptions::new("send hello to test channels")).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!({"sent": 2}));
    assert_eq!(report.console, vec!["sent 2"]);
    assert_eq!(report.tool_calls.len(), 5);
    assert_eq!(report.tool_calls[0].path, "chat.list_channels");
    assert_eq!(chat.messages.lock().unwrap().len(), 2);
    // The filter asks for a short answer (a list of paths: 32 + 12 tokens per tool listed),
    // the plan for at most 384 tokens (longer plans repeat their steps), the program for
    // what the model's configuration allows.
    for request in llm.requests() {
        let budget = match request.step.as_str() {
            "filter" => Some(32 + 12 * 5),
            "plan" => Some(384),
            _ => None,
        };
        assert_eq!(request.max_output_tokens, budget, "{}", request.step);
    }
    let steps: Vec<Step> = report.timings.iter().map(|t| t.step).collect();
    assert_eq!(
        steps,
        vec![
            Step::Plan,
            Step::Filter,
            Step::Types,
            Step::Implement,
            Step::Check,
            Step::Execute
        ]
    );
    assert_eq!(report.selected_tools.len(), 5);
    assert!(report.pseudocode.as_deref().unwrap().starts_with("1. list channels"));
    assert_eq!(report.code.as_deref(), Some(SEED_PROGRAM));
    for role in ["strategy", "tiny", "main"] {
        assert_eq!(report.token_usage[role].calls, 1, "{role}");
        assert!(report.token_usage[role].prompt_tokens > 0);
    }
    assert!(report.timing_table().contains("execute"));
    // The planner saw the small catalog tool by tool (arguments, descriptions), not schemas.
    let plan_prompt = llm.requests()[0].messages.last().unwrap().content.clone();
    assert!(
        plan_prompt
            .starts_with("Tool catalog (5 tools), each as `path(arguments): what it does`:\n- chat.add_reaction("),
        "{plan_prompt}"
    );
    assert!(!plan_prompt.contains("additionalProperties"));
    // The implementer saw the declarations of the selected tools.
    let implement = llm.requests().into_iter().find(|r| r.step == "implement").unwrap();
    assert!(
        implement
            .messages
            .last()
            .unwrap()
            .content
            .contains("send_message(input: ChatSendMessageInput): Promise<ChatSendMessageOutput>;")
    );
}

#[tokio::test]
async fn compile_error_is_repaired_on_the_second_try() {
    let broken = "await tools.chat.send_mesage({ channel: 'test-1', text: 'x' });\nreturn 1;";
    let llm = Arc::new(scripted(&[
        broken,
        "await tools.chat.send_message({ channel: 'test-1', text: 'x' });\nreturn 2;",
    ]));
    let cm = pipeline(llm.clone(), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q")).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!(2));
    assert_eq!(report.repairs, 1);
    let repair = llm
        .requests()
        .into_iter()
        .find(|r| r.step == "repair")
        .expect("a repair request");
    let feedback = &repair.messages.last().unwrap().content;
    assert!(
        feedback.contains("program.ts:1:18: TS2339 Property 'send_mesage' does not exist"),
        "{feedback}"
    );
    assert!(feedback.contains("Did you mean 'send_message'?"));
    assert_eq!(report.token_usage["main"].calls, 2);
}

#[tokio::test]
async fn compile_error_after_max_repairs() {
    let llm = Arc::new(scripted(&[
        "await tools.chat.nope({});",
        "await tools.chat.nope2({});",
        "await tools.chat.nope3({});",
        "await tools.chat.nope4({});",
    ]));
    let cm = pipeline(llm.clone(), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q").max_repairs(2)).await.unwrap();
    assert_eq!(report.result_type, ResultType::CompileError);
    assert_eq!(report.repairs, 2);
    assert_eq!(report.token_usage["main"].calls, 3);
    assert_eq!(report.diagnostics[0].code, "TS2339");
    assert!(report.timing(Step::Execute).is_none());
    assert!(report.error.as_deref().unwrap().contains("program.ts:1:18"));
}

/// The `n`th (0-based) repair request, which must be a fresh conversation (system, worked
/// example, request, failing program, the ask), and the text of its ask.
fn fresh_repair_request(llm: &ScriptedLlm, n: usize) -> (codemode::LlmRequest, String) {
    let request = llm
        .requests()
        .into_iter()
        .filter(|r| r.step == "repair")
        .nth(n)
        .expect("a repair request");
    assert_eq!(request.messages.len(), 6, "{:#?}", request.messages);
    let ask = request.messages[5].content.clone();
    (request, ask)
}

#[tokio::test]
async fn a_repair_that_sends_the_same_program_back_is_asked_for_the_failing_line() {
    // Seen from Qwen2.5-Coder-1.5B: the identical program on every repair.
    let broken = "const r = await tools.chat.send_mesage({ channel: 'eng', text: 'hi' });\nreturn r;";
    let line = "const r = await tools.chat.send_message({ channel: 'eng', text: 'hi' });";
    let llm = Arc::new(scripted(&[broken, &format!("{broken}\n"), line]));
    let cm = pipeline(llm.clone(), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q").max_repairs(1)).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.repairs, 1, "the repeated answer is not counted as a repair");
    assert_eq!(report.token_usage["main"].calls, 3);
    // The answer replaced the failing line; the rest of the program stayed.
    assert_eq!(report.code.as_deref(), Some(format!("{line}\nreturn r;").as_str()));
    // A fresh conversation: system, the worked example (a request and its program), the
    // request, the failing program, the error of its first failing line.
    let (again, feedback) = fresh_repair_request(&llm, 1);
    assert!(feedback.contains("Line 1 of it is wrong"), "{feedback}");
    assert!(feedback.contains("TS2339"), "{feedback}");
    // The line is not quoted (quoted, the model copied it) and the answer is sampled.
    assert!(!feedback.contains("1 | const r"), "{feedback}");
    assert_eq!(again.sampling, codemode::Sampling::Varied);
    let first = llm.requests().into_iter().find(|r| r.step == "repair").unwrap();
    assert_eq!(first.sampling, codemode::Sampling::Configured);
}

#[tokio::test]
async fn when_the_line_comes_back_too_the_whole_program_is_asked_again_afresh() {
    let broken = "const r = await tools.chat.send_mesage({ channel: 'eng', text: 'hi' });\nreturn r;";
    let fixed = "const r = await tools.chat.send_message({ channel: 'eng', text: 'hi' });\nreturn r;";
    let same_line = "const r = await tools.chat.send_mesage({ channel: 'eng', text: 'hi' });";
    let llm = Arc::new(scripted(&[broken, broken, same_line, fixed]));
    let cm = pipeline(llm.clone(), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q").max_repairs(1)).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.repairs, 1);
    assert_eq!(report.code.as_deref(), Some(fixed));
    let (last, feedback) = fresh_repair_request(&llm, 2);
    assert!(feedback.contains("the same program again"), "{feedback}");
    assert!(
        feedback.contains("    1 | const r = await tools.chat.send_mesage("),
        "the offending line is quoted: {feedback}"
    );
    assert_eq!(last.sampling, codemode::Sampling::Varied);
}

#[tokio::test]
async fn a_program_that_mocks_tools_is_refused_and_repaired() {
    // Seen from Qwen2.5-Coder-1.5B with TypeScript 7: a mock `tools` type-checks, then dies
    // at run time with "invalid redefinition of parameter name".
    let mock = "const tools = { chat: { send_message: async (a: any) => ({ id: 1 }) } };\nreturn (await tools.chat.send_message({})).id;";
    let real = "const r = await tools.chat.send_message({ channel: 'eng', text: 'hi' });\nreturn r;";
    let llm = Arc::new(scripted(&[mock, real]));
    let chat = Arc::new(FakeChatProvider::default());
    let cm = pipeline(llm.clone(), chat.clone()).await;
    let report = cm.run(RunOptions::new("q")).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.repairs, 1);
    let repair = llm
        .requests()
        .into_iter()
        .find(|r| r.step == "repair")
        .expect("a repair");
    let feedback = &repair.messages.last().unwrap().content;
    assert!(
        feedback.contains("TS2451") && feedback.contains("declares its own `tools`"),
        "{feedback}"
    );
    assert_eq!(chat.messages.lock().unwrap().len(), 1, "the real tool was called");
}

/// Test double: cuts off the first `cut` answers for the main role at the "token limit"
/// (`truncated`), then answers as `inner` does.
struct CutOff {
    inner: Arc<ScriptedLlm>,
    cut: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl codemode::Llm for CutOff {
    async fn complete(&self, request: &codemode::LlmRequest) -> Result<codemode::LlmResponse, codemode::LlmError> {
        use std::sync::atomic::Ordering;
        if request.role == LlmRole::Main && self.cut.load(Ordering::SeqCst) > 0 {
            self.cut.fetch_sub(1, Ordering::SeqCst);
            let mut partial =
                codemode::LlmResponse::text("```typescript\nconst r = await tools.chat.send_message({ channel:");
            partial.truncated = true;
            return Ok(partial);
        }
        self.inner.complete(request).await
    }
}

#[tokio::test]
async fn an_answer_cut_off_at_the_token_limit_is_never_checked_as_a_program() {
    let whole = "const r = await tools.chat.send_message({ channel: 'eng', text: 'hi' });\nreturn r;";
    for (cut, expected) in [(1, ResultType::Success), (2, ResultType::LlmError)] {
        let inner = Arc::new(scripted(&[whole]));
        let llm = Arc::new(CutOff {
            inner: inner.clone(),
            cut: cut.into(),
        });
        let cm = CodeMode::builder()
            .llm(llm)
            .tool_provider("chat", Arc::new(FakeChatProvider::default()))
            .environment(codemode::default_environment().unwrap())
            .build()
            .await
            .unwrap();
        let report = cm.run(RunOptions::new("q")).await.unwrap();
        assert_eq!(report.result_type, expected, "{report:#?}");
        assert_eq!(report.repairs, 0, "{report:#?}");
        if expected == ResultType::LlmError {
            let error = report.error.unwrap_or_default();
            assert!(error.contains("cut off at its token limit twice"), "{error}");
        } else {
            let retry = inner.requests().into_iter().find(|r| r.role == LlmRole::Main).unwrap();
            assert!(
                retry
                    .messages
                    .last()
                    .unwrap()
                    .content
                    .contains("cut off at the token limit"),
                "{:#?}",
                retry.messages
            );
        }
    }
}
