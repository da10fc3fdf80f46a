//! The execute step: lines of runtime errors, limits, failing tools, concurrency.

use super::*;

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
