//! Output types learned from tool results, end to end: the in-process fake chat provider
//! (a test double) and a varying provider below (a test double), the default run
//! environment, the built-in checker, and the scripted LLM (a test double) for the planner.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use codemode::learned::{LearnedTypes, ShapeStore};
use codemode::{CodeMode, LlmRole, ResultType, RunOptions, ToolError, ToolProvider, ToolSpec};
use serde_json::{Value, json};
use support::{FakeChatProvider, scripted};

/// `chat.send_message` declares no output; it returns `{id, channel}`.
const WRONG_GUESS: &str = r#"const sent = await tools.chat.send_message({ channel: "eng", text: "hi" });
return sent.messageId;"#;

async fn chat_with(learned: Arc<LearnedTypes>) -> CodeMode {
    CodeMode::builder()
        .tool_provider("chat", Arc::new(FakeChatProvider::default()))
        .environment(codemode::default_environment().expect("the default environment starts"))
        .learned_types(learned)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_wrong_guess_at_an_undeclared_result_is_caught_at_check_time_once_its_type_is_learned() {
    let learned = Arc::new(LearnedTypes::new(ShapeStore::in_memory()));
    let codemode = chat_with(learned.clone()).await;
    assert!(codemode.declarations().contains("type ChatSendMessageOutput = any;"));

    // Cold: nothing says what the result is; the guess runs and "succeeds" with nothing.
    let cold = codemode
        .run(codemode::RunRequest::program(WRONG_GUESS, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(cold.result_type, ResultType::Success, "{cold:#?}");
    assert_eq!(cold.output, Value::Null);

    // The call taught the type: the check now finds the guess. A learned type is what
    // results looked like, not a contract, so `exec` (no model to repair) still runs the
    // program, with the finding as a warning that says where it comes from.
    let declarations = codemode.declarations();
    assert!(
        declarations.contains("/** Learned from 1 result of this tool (it declares no output schema); a result that differs widens it. */\ntype ChatSendMessageOutput = {\n  channel: string;\n  id: number;\n};"),
        "{declarations}"
    );
    let check = codemode.check_program(WRONG_GUESS).await.unwrap();
    assert_eq!(check.diagnostics[0].code, "TS2339", "{:?}", check.diagnostics);
    assert!(check.has_errors());
    let warm = codemode
        .run(codemode::RunRequest::program(WRONG_GUESS, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(warm.result_type, ResultType::Success, "{warm:#?}");
    assert_eq!(warm.diagnostics[0].code, "TS2339", "{:?}", warm.diagnostics);
    assert_eq!(warm.diagnostics[0].severity, codemode::Severity::Warning);
    assert!(
        warm.diagnostics[0].message.contains("learned output type"),
        "{:?}",
        warm.diagnostics
    );
    let right = codemode
        .run(codemode::RunRequest::program(
            "const sent = await tools.chat.send_message({ channel: \"eng\", text: \"hi\" });\nreturn sent.id;",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(right.result_type, ResultType::Success, "{right:#?}");
    assert!(right.diagnostics.is_empty(), "{:?}", right.diagnostics);
    assert_eq!(right.output, json!(3));

    // Declared output schemas win: list_channels is never learned.
    codemode
        .run(codemode::RunRequest::program(
            "return await tools.chat.list_channels({});",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    let tools: Vec<String> = learned.entries().iter().map(|e| e.tool.clone()).collect();
    assert_eq!(tools, ["send_message"]);
    assert_eq!(learned.entries()[0].calls, 3);
}

/// In a run, an error only the learned type finds goes back to the main model once: the
/// guess is repaired at check time, before any tool is called.
#[tokio::test]
async fn in_a_run_the_learned_type_gets_a_wrong_guess_repaired_before_anything_runs() {
    let learned = Arc::new(LearnedTypes::new(ShapeStore::in_memory()));
    let right = "const sent = await tools.chat.send_message({ channel: \"eng\", text: \"hi\" });
return sent.id;";
    let llm = Arc::new(
        scripted(&[
            WRONG_GUESS,
            right,
            WRONG_GUESS,
            &WRONG_GUESS.replace("messageId", "name"),
        ])
        .reply(LlmRole::Strategy, "1. send hi to eng"),
    );
    let chat = Arc::new(FakeChatProvider::default());
    let codemode = CodeMode::builder()
        .llm(llm.clone())
        .tool_provider("chat", chat.clone())
        .environment(codemode::default_environment().unwrap())
        .learned_types(learned)
        .build()
        .await
        .unwrap();
    codemode
        .run(codemode::RunRequest::program(right, RunOptions::default()))
        .await
        .unwrap();

    let report = codemode
        .run(RunOptions::new("say hi in eng, return the id"))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.repairs, 1, "repaired at check time");
    assert_eq!(report.runtime_repairs, 0);
    assert_eq!(report.output, json!(2));
    let repair = llm.requests().into_iter().find(|r| r.step == "repair").unwrap();
    let asked = repair.messages.last().unwrap().content.clone();
    assert!(asked.contains("TS2339") && asked.contains("messageId"), "{asked}");

    // A guess the repair does not fix runs after that one repair, as it would without
    // learned types, with the finding as a warning.
    let report = codemode
        .run(RunOptions::new("say hi in eng, return the id"))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.repairs, 1);
    assert_eq!(report.output, Value::Null);
    assert_eq!(report.diagnostics[0].severity, codemode::Severity::Warning);
    assert_eq!(chat.messages.lock().unwrap().len(), 3);
}

/// One tool whose results change from call to call: an object, a bigger object, a text, and
/// finally text that reads like an error.
#[derive(Default)]
struct Varying {
    calls: AtomicUsize,
}

#[async_trait]
impl ToolProvider for Varying {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        Ok(vec![ToolSpec::new(
            "lookup",
            "Look a name up",
            json!({"type": "object"}),
        )])
    }

    async fn call_tool(&self, _name: &str, _arguments: Value) -> Result<Value, ToolError> {
        Ok(match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => json!({"name": "a"}),
            1 => json!({"name": "b", "size": 2}),
            2 => json!("not found"),
            _ => json!("Database error: no such table: names"),
        })
    }
}

#[tokio::test]
async fn a_result_that_contradicts_the_learned_type_widens_it() {
    let learned = Arc::new(LearnedTypes::new(ShapeStore::in_memory()));
    let codemode = CodeMode::builder()
        .tool_provider("names", Arc::new(Varying::default()))
        .environment(codemode::default_environment().unwrap())
        .learned_types(learned.clone())
        .build()
        .await
        .unwrap();
    let call = "return await tools.names.lookup({});";
    let summaries: Vec<String> = {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let report = codemode
                .run(codemode::RunRequest::program(call, RunOptions::default()))
                .await
                .unwrap();
            assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
            seen.push(
                codemode
                    .catalog()
                    .tool("names.lookup")
                    .unwrap()
                    .learned_output()
                    .unwrap()
                    .summary
                    .clone(),
            );
        }
        seen
    };
    // The error text is flagged in the report and not learned: the type stays as it was.
    assert_eq!(
        summaries,
        [
            "{name}",
            "{name, size?}",
            "string | {name, size?}",
            "string | {name, size?}"
        ]
    );
    assert_eq!(learned.entries()[0].calls, 3);
    let declarations = codemode.declarations();
    assert!(
        declarations.contains("type NamesLookupOutput = string | {\n  name: string;\n  size?: number;\n};"),
        "{declarations}"
    );
}

#[tokio::test]
async fn learned_types_can_be_kept_without_being_used_or_used_without_growing() {
    let store = ShapeStore::in_memory();
    let learning_only = Arc::new(LearnedTypes::new(store).applying(false));
    let codemode = chat_with(learning_only.clone()).await;
    codemode
        .run(codemode::RunRequest::program(WRONG_GUESS, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(learning_only.entries().len(), 1, "learned");
    assert!(
        codemode.declarations().contains("type ChatSendMessageOutput = any;"),
        "not used"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("learned-types.json");
    let mut store = ShapeStore::open(&path).unwrap();
    let key = codemode.catalog().tool("chat.send_message").unwrap().shape_key();
    store.observe(&key, "chat", "send_message", &json!({"id": 1, "channel": "eng"}));
    store.save().unwrap();
    let fixed = Arc::new(LearnedTypes::new(ShapeStore::open(&path).unwrap()).learning(false));
    let codemode = chat_with(fixed.clone()).await;
    let check = codemode.check_program(WRONG_GUESS).await.unwrap();
    assert_eq!(check.diagnostics[0].code, "TS2339", "used: {:?}", check.diagnostics);
    codemode
        .run(codemode::RunRequest::program(WRONG_GUESS, RunOptions::default()))
        .await
        .unwrap();
    codemode
        .run(codemode::RunRequest::program(
            "return (await tools.chat.send_message({ channel: \"x\", text: \"y\" })).id;",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(fixed.entries()[0].calls, 1, "not grown");
}

/// The planner's tool list stays as the tools declare themselves: given `send_email(...) ->
/// string`, the 1.5B planner planned to read the email back by the "id" that string must be
/// (the demo eval's email-ana task, 2026-12-07), so learned types reach the main model only.
#[tokio::test]
async fn the_planner_is_not_given_learned_types() {
    let learned = Arc::new(LearnedTypes::new(ShapeStore::in_memory()));
    let llm = Arc::new(scripted(&["return 1;"]));
    let codemode = CodeMode::builder()
        .llm(llm.clone())
        .tool_provider("chat", Arc::new(FakeChatProvider::default()))
        .environment(codemode::default_environment().unwrap())
        .learned_types(learned)
        .build()
        .await
        .unwrap();
    codemode
        .run(codemode::RunRequest::program(
            "return await tools.chat.send_message({ channel: \"eng\", text: \"hi\" });",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert!(
        codemode
            .catalog()
            .tool("chat.send_message")
            .unwrap()
            .learned_output()
            .is_some()
    );
    codemode.run(RunOptions::new("say hi in eng")).await.unwrap();
    let plan_prompt: String = llm
        .requests()
        .into_iter()
        .find(|r| r.role == LlmRole::Strategy)
        .map(|r| r.messages.iter().map(|m| m.content.clone()).collect())
        .unwrap();
    assert!(
        plan_prompt.contains("- chat.send_message(channel, text): Send a message"),
        "{plan_prompt}"
    );
}
