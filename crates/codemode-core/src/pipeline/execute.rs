//! Step 6, **execute**: the JavaScript runs in the run environment, whose only door to the
//! world is the tool bridge, under `max_tool_calls`, `total_execution_timeout`,
//! `tool_call_timeout`, `cpu_time_limit` and `memory_limit_mb`.

use std::sync::Arc;
use std::time::Duration;

use codemode_typescript::Transpiled;
use serde_json::Value;

use super::run::StepFailure;
use crate::approval::{ApprovalGate, ApprovalRecord};
use crate::bridge::CatalogBridge;
use crate::catalog::ToolCatalog;
use crate::limits::RunOptions;
use crate::report::ResultType;
use codemode_traits::{
    ExecutionLimits, ExecutionRequest, FailureKind, RunEnvironment, RunFailure, ToolBridge, ToolCallRecord,
};

/// Grace the pipeline gives an environment past its own deadline before giving up on it.
const ENVIRONMENT_GRACE: Duration = Duration::from_secs(5);

/// What a program did.
pub(super) struct Executed {
    /// Every tool call it made.
    pub tool_calls: Vec<ToolCallRecord>,
    /// Its console output.
    pub console: Vec<String>,
    /// The value it returned, or how it failed.
    pub result: Result<Value, StepFailure>,
    /// The TypeScript line of a runtime error, when known.
    pub error_line: Option<u32>,
    /// The approval decisions on its calls.
    pub approvals: Vec<ApprovalRecord>,
    /// The step's detail for the report: `3 tool calls in wasm`.
    pub detail: String,
}

/// Runs `program` in `environment` with the tools of `catalog`.
pub(super) async fn execute(
    environment: &dyn RunEnvironment,
    program: &Transpiled,
    catalog: Arc<ToolCatalog>,
    options: &RunOptions,
    approval: Arc<ApprovalGate>,
    replay: Vec<ToolCallRecord>,
) -> Executed {
    let bridge = Arc::new(
        CatalogBridge::new(catalog, options.max_tool_calls, options.tool_timeout())
            .with_approval(approval)
            .with_replay(replay),
    );
    let limits = ExecutionLimits {
        total_timeout: options.execution_timeout(),
        cpu_time: options.cpu_time(),
        memory_limit_bytes: options.memory_limit_mb * 1024 * 1024,
        ..ExecutionLimits::default()
    };
    let request = ExecutionRequest {
        javascript: program.code.clone(),
        limits,
    };
    let dyn_bridge: Arc<dyn ToolBridge> = bridge.clone();
    let outcome = tokio::time::timeout(
        limits.total_timeout + ENVIRONMENT_GRACE,
        environment.execute(request, dyn_bridge),
    )
    .await;
    let tool_calls = bridge.records();
    let approvals = bridge.approvals();
    let detail = format!("{} tool calls in {}", tool_calls.len(), environment.name());
    let Ok(outcome) = outcome else {
        return Executed {
            tool_calls,
            approvals,
            console: Vec::new(),
            result: Err(StepFailure::Ended {
                result_type: ResultType::Timeout,
                message: RunFailure::did_not_stop(
                    &format!("the run environment `{}`", environment.name()),
                    limits.total_timeout,
                    ENVIRONMENT_GRACE,
                )
                .message,
            }),
            error_line: None,
            detail,
        };
    };
    let mut error_line = None;
    let result = outcome.result.map_err(|failure| {
        error_line = failure.line.and_then(|l| program.original_line(l));
        StepFailure::Ended {
            result_type: result_type(failure.kind),
            message: match error_line {
                Some(line) => format!("{} (program.ts line {line})", failure.message),
                None => failure.message,
            },
        }
    });
    Executed {
        tool_calls,
        approvals,
        console: outcome.console,
        result,
        error_line,
        detail,
    }
}

/// The result type a run environment's failure ends the run as.
fn result_type(kind: FailureKind) -> ResultType {
    match kind {
        FailureKind::Runtime => ResultType::RuntimeError,
        FailureKind::Timeout => ResultType::Timeout,
        FailureKind::ToolCallLimit => ResultType::ToolCallLimit,
        FailureKind::MemoryLimit => ResultType::MemoryLimit,
        FailureKind::Tool => ResultType::ToolError,
        FailureKind::Environment => ResultType::EnvironmentError,
    }
}
