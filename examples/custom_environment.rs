//! A custom `RunEnvironment`: wraps another environment and logs every program and outcome.
//! (A real one might run programs on a remote worker that speaks the JSON-lines protocol.)
//!
//! ```sh
//! cargo run --example custom_environment
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use codemode::{CodeMode, ExecutionRequest, RunEnvironment, RunOptions, RunOutcome, ToolBridge};

struct Logged {
    inner: Arc<dyn RunEnvironment>,
}

#[async_trait]
impl RunEnvironment for Logged {
    fn name(&self) -> &str {
        "logged-node"
    }

    async fn execute(&self, request: ExecutionRequest, bridge: Arc<dyn ToolBridge>) -> RunOutcome {
        eprintln!(
            "running {} bytes of JavaScript, deadline {:?}",
            request.javascript.len(),
            request.limits.total_timeout
        );
        let outcome = self.inner.execute(request, bridge).await;
        eprintln!("outcome: {:?}", outcome.result.as_ref().map(|v| v.to_string()));
        outcome
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = Logged {
        inner: codemode::default_environment()?,
    };
    let codemode = CodeMode::builder().environment(Arc::new(env)).build().await?;
    let report = codemode
        .run(codemode::RunRequest::program(
            "const xs: number[] = [3, 1, 2];\nreturn xs.sort();",
            RunOptions::default(),
        ))
        .await?;
    println!(
        "{} in {}: {}",
        report.result_type,
        codemode.environment_name().unwrap_or("?"),
        report.output
    );
    Ok(())
}
