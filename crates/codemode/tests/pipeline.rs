//! The pipeline end to end with the scripted LLM (a test double), the in-process fake chat
//! provider (a test double) and the real Node.js process environment.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use codemode::testing::ScriptedLlm;
use codemode::{
    CodeMode, FilterMode, LlmRole, ResultType, RunOptions, StaticToolProvider, Step, ToolCatalog, ToolProvider,
    ToolSpec,
};
use serde_json::json;
use support::{FakeChatProvider, fenced, pipeline, scripted, select_all, without_models};

const SEED_PROGRAM: &str = r#"const { channels } = await tools.chat.list_channels({});
const sent = await Promise.all(
  channels.filter((c) => c.startsWith("test")).map((channel) => tools.chat.send_message({ channel, text: "hello" })),
);
for (const m of sent) {
  await tools.chat.add_reaction({ message_id: m.id, emoji: "wave" });
}
console.log(`sent ${sent.length}`);
return { sent: sent.length };"#;

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

#[tokio::test]
async fn runtime_error_points_at_the_typescript_line() {
    let program =
        "type T = { a: number };\nconst t: T = { a: 1 };\n\nif (t.a === 1) {\n  throw new Error('boom');\n}\nreturn t;";
    let llm = Arc::new(scripted(&[program, program, program]));
    let cm = pipeline(llm.clone(), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q")).await.unwrap();
    assert_eq!(report.result_type, ResultType::RuntimeError, "{report:#?}");
    assert_eq!(report.error_line, Some(5), "{report:#?}");
    let error = report.error.as_deref().unwrap();
    assert!(error.starts_with("Error: boom"), "{error}");
    // No tool was called, so the error went back to the model; it sent the same program,
    // was asked once more in a fresh conversation, sent it again, and it was not run again.
    assert!(
        error.ends_with("the runtime repair returned the same program"),
        "{error}"
    );
    assert_eq!((report.runtime_repairs, report.runtime_attempts.len()), (0, 0));
    let steps: Vec<String> = llm.requests().into_iter().map(|r| r.step).collect();
    assert_eq!(
        steps[steps.len() - 2..],
        ["runtime_repair", "runtime_repair"],
        "{steps:?}"
    );
    let again = llm.requests().pop().unwrap();
    assert_eq!(again.messages.len(), 6, "a fresh conversation: {:#?}", again.messages);
    assert!(again.messages[5].content.contains("same program again"));
    assert_eq!(again.sampling, codemode::Sampling::Varied);
}

#[tokio::test]
async fn tool_call_limit_ends_the_run() {
    let program = "for (let i = 0; i < 10; i++) {\n  try { await tools.chat.list_channels({}); } catch (e) {}\n}\nreturn 'unreachable';";
    let cm = pipeline(Arc::new(scripted(&[program])), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q").max_tool_calls(3)).await.unwrap();
    assert_eq!(report.result_type, ResultType::ToolCallLimit, "{report:#?}");
    assert!(report.error.as_deref().unwrap().contains("more than 3 tool calls"));
    assert_eq!(report.tool_calls.iter().filter(|c| c.result.is_some()).count(), 3);
}

#[tokio::test]
async fn total_timeout_stops_an_endless_loop() {
    let cm = pipeline(
        Arc::new(scripted(&["while (true) {}"])),
        Arc::new(FakeChatProvider::default()),
    )
    .await;
    let report = cm.run(RunOptions::new("q").total_execution_timeout(1.5)).await.unwrap();
    assert_eq!(report.result_type, ResultType::Timeout, "{report:#?}");
    assert!(report.error.as_deref().unwrap().contains("1.5 s"));
    let execute = report.timing(Step::Execute).unwrap().duration_ms;
    assert!(execute < 1.5 * 1000.0 * 1.2, "the deadline held: {execute} ms");
}

#[tokio::test]
async fn failing_tool_becomes_an_exception_naming_the_tool() {
    let program = "try {\n  await tools.chat.fail({});\n} catch (e) {\n  return String(e.message);\n}";
    let cm = pipeline(Arc::new(scripted(&[program])), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q")).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(
        report.output,
        json!("tools.chat.fail failed: the fake tool failed on purpose")
    );
    assert!(report.tool_calls[0].error.is_some());
}

#[tokio::test]
async fn promise_all_runs_tool_calls_concurrently() {
    let program =
        "const r = await Promise.all([1, 2, 3, 4, 5, 6].map(() => tools.chat.slow({ ms: 300 })));\nreturn r.length;";
    let cm = pipeline(Arc::new(scripted(&[program])), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q")).await.unwrap();
    assert_eq!(report.output, json!(6), "{report:#?}");
    let first_end = report
        .tool_calls
        .iter()
        .map(|c| c.started_ms + c.duration_ms)
        .fold(f64::MAX, f64::min);
    assert!(
        report.tool_calls.iter().all(|c| c.started_ms < first_end),
        "all six calls started before any finished"
    );
}

#[tokio::test]
async fn filter_over_1000_tools_respects_the_concurrency_cap_and_sees_each_tool_once() {
    let mut catalog = ToolCatalog::new();
    for ns in 0..10 {
        let tools: Vec<ToolSpec> = (0..100)
            .map(|i| {
                ToolSpec::new(
                    format!("tool_{i:03}"),
                    format!("tool {i} of namespace {ns}"),
                    json!({"type": "object"}),
                )
            })
            .collect();
        let provider: Arc<dyn ToolProvider> = Arc::new(StaticToolProvider::new(tools.clone()));
        catalog.add_tools(&format!("ns{ns}"), provider, tools);
    }
    assert_eq!(catalog.len(), 1000);
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "plan")
            .respond_with(LlmRole::Tiny, |req| {
                // Picks tool_007 of each namespace when it is in the batch, by index.
                let listing = &req.messages[1].content;
                let picks: Vec<String> = listing
                    .lines()
                    .filter(|l| l.contains(".tool_007("))
                    .map(|l| l.split('.').next().unwrap().to_string())
                    .collect();
                Ok(format!("Relevant: [{}]", picks.join(", ")))
            })
            .reply(LlmRole::Main, fenced("return 1;"))
            .with_delay(Duration::from_millis(20)),
    );
    let cm = CodeMode::builder()
        .llm(llm.clone())
        .catalog(catalog)
        .environment(codemode::default_environment().unwrap())
        .build()
        .await
        .unwrap();
    let report = cm
        .run(
            RunOptions::new("q")
                .filter_mode(FilterMode::Llm)
                .max_concurrent_threads(5)
                .max_tools_per_prompt(20),
        )
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    let filters: Vec<_> = llm.requests().into_iter().filter(|r| r.step == "filter").collect();
    assert_eq!(filters.len(), 50);
    assert!(
        llm.max_in_flight() <= 5,
        "at most 5 filter prompts in flight, saw {}",
        llm.max_in_flight()
    );
    assert_eq!(llm.max_in_flight(), 5, "the cap was reached");
    let mut seen: Vec<String> = filters
        .iter()
        .flat_map(|r| {
            r.messages[1]
                .content
                .lines()
                .filter_map(|l| {
                    l.split_once(". ")
                        .map(|(_, rest)| rest.split('(').next().unwrap().to_string())
                })
                .filter(|p| p.starts_with("ns"))
                .collect::<Vec<_>>()
        })
        .collect();
    seen.sort();
    let total = seen.len();
    seen.dedup();
    assert_eq!((total, seen.len()), (1000, 1000), "every tool seen exactly once");
    let expected: Vec<String> = (0..10).map(|ns| format!("ns{ns}.tool_007")).collect();
    assert_eq!(report.selected_tools, expected);
    assert!(
        report
            .timing(Step::Filter)
            .unwrap()
            .detail
            .contains("10 of 1000 tools, 50 batches")
    );
}

/// 1,000 tools in 10 namespaces; `ns3.tool_042` and `ns7.tool_042` are about invoices.
fn thousand_tools() -> ToolCatalog {
    let mut catalog = ToolCatalog::new();
    for ns in 0..10 {
        let tools: Vec<ToolSpec> = (0..100)
            .map(|i| {
                let topic = if i == 42 && (ns == 3 || ns == 7) {
                    "invoices"
                } else {
                    "weather"
                };
                ToolSpec::new(
                    format!("tool_{i:03}"),
                    format!("Reads {topic} records, number {i} of namespace {ns}"),
                    json!({"type": "object", "properties": {"city": {"type": "string"}}}),
                )
            })
            .collect();
        let provider: Arc<dyn ToolProvider> = Arc::new(StaticToolProvider::new(tools.clone()));
        catalog.add_tools(&format!("ns{ns}"), provider, tools);
    }
    catalog
}

/// A pipeline over [`thousand_tools`]: the strategy model answers `plan`, then the search
/// keywords "billing records", the tiny model selects every tool it is shown, the main model
/// returns 1.
async fn over_thousand_tools(plan: &str) -> (Arc<ScriptedLlm>, CodeMode) {
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, plan)
            .reply(LlmRole::Strategy, "Billing, records.")
            .respond_with(LlmRole::Tiny, select_all)
            .reply(LlmRole::Main, fenced("return 1;")),
    );
    let cm = CodeMode::builder()
        .llm(llm.clone())
        .catalog(thousand_tools())
        .environment(codemode::default_environment().unwrap())
        .build()
        .await
        .unwrap();
    (llm, cm)
}

#[tokio::test]
async fn hybrid_filter_asks_the_tiny_model_about_the_search_candidates_only() {
    let (llm, cm) = over_thousand_tools("1. Read the invoices.").await;
    let report = cm
        .run(RunOptions::new("sum the invoices").retrieval_candidates(30))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    let requests = llm.requests();
    let keywords: Vec<_> = requests.iter().filter(|r| r.step == "keywords").collect();
    assert_eq!(keywords.len(), 1, "one keywords call before the search");
    assert!(keywords[0].messages[1].content.contains("sum the invoices"));
    assert_eq!(report.search_keywords.as_deref(), Some("billing records"));
    let filters: Vec<_> = requests.iter().filter(|r| r.step == "filter").collect();
    assert_eq!(
        filters.len(),
        1,
        "30 candidates: the best 10 are kept, the tiny model judges the last 20"
    );
    let listing = &filters[0].messages[1].content;
    // The two invoice tools rank first: kept without asking the tiny model.
    for invoices in ["ns3.tool_042", "ns7.tool_042"] {
        assert!(report.selected_tools.iter().any(|t| t == invoices));
        assert!(!listing.contains(invoices), "{listing}");
    }
    // The best 10 of the fused ranking are kept without asking.
    let shown = |path: &String| listing.contains(&format!("{path}(")) || listing.contains(&format!("{path}:"));
    let trusted: Vec<&String> = report.selected_tools.iter().filter(|p| !shown(p)).collect();
    assert_eq!(trusted.len(), 10, "{:?}", report.selected_tools);
    // The scripted tiny model keeps every tool it is shown, which filters nothing: the
    // batch keeps only its tools among the best 10 of one search of the request, the
    // keywords and the plan (every tool but two ties on "records" here, so which ones
    // depends on ties).
    let best: Vec<String> = thousand_tools()
        .search("sum the invoices\nbilling records\n1. Read the invoices.", 10)
        .into_iter()
        .map(|hit| hit.path)
        .collect();
    for path in report.selected_tools.iter().filter(|p| shown(p)) {
        assert!(best.contains(path), "{path} kept from the batch: {best:?}");
    }
    for path in best.iter().filter(|p| shown(p)) {
        assert!(
            report.selected_tools.contains(path),
            "{path} of the search's best dropped"
        );
    }
    let detail = &report.timing(Step::Filter).unwrap().detail;
    assert_eq!(
        detail,
        &format!(
            "{} of 1000 tools, 30 candidates by search, 1 batch",
            report.selected_tools.len()
        )
    );

    // Keywords off: no keywords call, the same split.
    let (llm, cm) = over_thousand_tools("1. Read the invoices.").await;
    let report = cm
        .run(
            RunOptions::new("sum the invoices")
                .retrieval_candidates(30)
                .search_keywords(false),
        )
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert!(llm.requests().iter().all(|r| r.step != "keywords"));
    assert_eq!(report.search_keywords, None);
    assert_eq!(report.selected_tools.len(), 10, "{:?}", report.selected_tools);

    // Without descriptions the listing shows names and parameters only.
    let (llm, cm) = over_thousand_tools("plan").await;
    let report = cm
        .run(
            RunOptions::new("sum the invoices")
                .retrieval_candidates(5)
                .include_descriptions_in_filter(false),
        )
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    let filter = llm.requests().into_iter().find(|r| r.step == "filter").unwrap();
    let listing = &filter.messages[1].content;
    assert!(listing.contains("ns3.tool_042(city)\n"), "{listing}");
    assert!(!listing.contains("Reads invoices"), "{listing}");
}

#[tokio::test]
async fn hybrid_filter_keeps_the_best_ranked_tools_whatever_the_tiny_model_answers() {
    // The tiny model selects nothing; the two invoice tools rank best for the request.
    let run = |keep: usize| async move {
        let llm = Arc::new(
            ScriptedLlm::new()
                .reply(LlmRole::Strategy, "1. Read the invoices.")
                .respond_with(LlmRole::Tiny, |_| Ok("[]".to_string()))
                .reply(LlmRole::Main, fenced("return 1;")),
        );
        let cm = CodeMode::builder()
            .llm(llm)
            .catalog(thousand_tools())
            .environment(codemode::default_environment().unwrap())
            .build()
            .await
            .unwrap();
        // 20 candidates, one batch: the tiny model judges them all.
        let options = RunOptions::new("sum the invoices")
            .retrieval_candidates(20)
            .retrieval_keep(keep);
        cm.run(options).await.unwrap()
    };
    let report = run(2).await;
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.selected_tools, ["ns3.tool_042", "ns7.tool_042"]);
    // 0 turns it off: the tiny model's empty answer is the selection.
    let report = run(0).await;
    assert!(report.selected_tools.is_empty(), "{:?}", report.selected_tools);
}

#[tokio::test]
async fn a_tiny_model_that_keeps_every_tool_of_a_batch_is_read_as_no_answer() {
    // 20 candidates in one batch; the tiny model answers with all of its tools. That
    // filters nothing: the batch keeps only its tools the search ranks among the best 10
    // for the request and the plan.
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "1. Read the invoices.")
            .respond_with(LlmRole::Tiny, select_all)
            .reply(LlmRole::Main, fenced("return 1;")),
    );
    let cm = CodeMode::builder()
        .llm(llm)
        .catalog(thousand_tools())
        .environment(codemode::default_environment().unwrap())
        .build()
        .await
        .unwrap();
    let report = cm
        .run(RunOptions::new("sum the invoices").retrieval_candidates(20))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert!(
        report.selected_tools.len() <= 10,
        "{} tools kept: {:?}",
        report.selected_tools.len(),
        report.selected_tools
    );
    for invoices in ["ns3.tool_042", "ns7.tool_042"] {
        assert!(
            report.selected_tools.iter().any(|t| t == invoices),
            "{:?}",
            report.selected_tools
        );
    }
}

#[tokio::test]
async fn retrieval_filter_needs_no_tiny_model() {
    // Strategy and main models only: the filter runs on search alone.
    let strategy = Arc::new(ScriptedLlm::new().reply(LlmRole::Strategy, "1. Read the invoices."));
    let main = Arc::new(ScriptedLlm::new().reply(LlmRole::Main, fenced("return 1;")));
    let cm = CodeMode::builder()
        .strategy_llm(strategy)
        .main_llm(main)
        .catalog(thousand_tools())
        .environment(codemode::default_environment().unwrap())
        .build()
        .await
        .unwrap();
    let options = RunOptions::new("sum the invoices").retrieval_candidates(2);
    let err = cm.run(options.clone()).await.unwrap_err();
    assert!(err.to_string().contains("retrieval"), "{err}");
    let report = cm.run(options.filter_mode(FilterMode::Retrieval)).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.selected_tools, ["ns3.tool_042", "ns7.tool_042"]);
    assert_eq!(
        report.timing(Step::Filter).unwrap().detail,
        "2 of 1000 tools, 2 candidates by search, 0 batches"
    );
}

#[tokio::test]
async fn unparseable_filter_answer_is_retried_once_then_the_batch_is_kept() {
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "plan")
            .reply(LlmRole::Tiny, "I am not sure what you mean.")
            .reply(LlmRole::Tiny, "Still thinking...")
            .reply(LlmRole::Main, fenced("return 1;")),
    );
    let cm = pipeline(llm.clone(), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q")).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success);
    assert_eq!(report.filter_failures.len(), 1);
    assert_eq!(report.filter_failures[0].tools.len(), 5);
    assert_eq!(report.selected_tools.len(), 5, "the failed batch's tools are kept");
    let tiny: Vec<_> = llm.requests().into_iter().filter(|r| r.role == LlmRole::Tiny).collect();
    assert_eq!(tiny.len(), 2);
    assert!(tiny[1].messages.last().unwrap().content.contains("could not be read"));

    // A retry that succeeds selects normally.
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "plan")
            .reply(LlmRole::Tiny, "hmm")
            .reply(LlmRole::Tiny, "[\"chat.send_message\"]")
            .reply(LlmRole::Main, fenced("return 1;")),
    );
    let report = pipeline(llm, Arc::new(FakeChatProvider::default()))
        .await
        .run(RunOptions::new("q"))
        .await
        .unwrap();
    assert!(report.filter_failures.is_empty());
    assert_eq!(report.selected_tools, vec!["chat.send_message"]);
}

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
