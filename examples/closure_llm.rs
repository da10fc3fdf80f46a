//! A custom `Llm` from a closure: any `Fn(String) -> impl Future<Output = Result<String, E>>`
//! is an `Llm`. This one is a canned responder (not a model), so the example runs offline.
//!
//! ```sh
//! cargo run --example closure_llm
//! ```

use std::sync::Arc;

use codemode::{CodeMode, Llm, RunOptions, StaticToolProvider};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let llm: Arc<dyn Llm> = Arc::new(|prompt: String| async move {
        // A real closure would call a model here (an HTTP client, a local runtime, ...).
        let answer = if prompt.contains("You are the planner") {
            "1. compute the answer\n2. return it".to_string()
        } else if prompt.contains("You select tools") {
            "[]".to_string()
        } else {
            "```typescript\nconst answer: number = [1, 2, 3].reduce((a, b) => a + b, 0) * 7;\nreturn { answer };\n```"
                .to_string()
        };
        Ok::<_, std::convert::Infallible>(answer)
    });
    let codemode = CodeMode::builder()
        .llm(llm)
        .tool_provider("none", Arc::new(StaticToolProvider::default()))
        .environment(codemode::default_environment()?)
        .build()
        .await?;
    let report = codemode.run(RunOptions::new("What is (1 + 2 + 3) * 7?")).await?;
    println!("{}: {}", report.result_type, report.output);
    Ok(())
}
