//! Approvals: which tool calls a person (or a policy) must allow before they run.
//!
//! The policy (`[run] approval`, applied by the engine) says which calls need a decision;
//! an [`Approver`] makes it. A denied call throws in the program (`tools.x was denied:
//! ...`), which the program may catch; every decision is an [`ApprovalRecord`] in the run's
//! report.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tool call waiting for a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    /// Path under `tools`, e.g. `files.delete_file`.
    pub path: String,
    /// The arguments the program passed.
    pub arguments: Value,
    /// The tool's description.
    pub description: Option<String>,
    /// Why it needs approval, e.g. `annotated destructiveHint: true`.
    pub reason: String,
}

/// What an [`Approver`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalDecision {
    /// Run this call.
    Approve,
    /// Run this call and every later call of the same tool (for as long as this `CodeMode`
    /// lives).
    ApproveAlways,
    /// Do not run it; the program's call throws with `reason`.
    Deny {
        /// Why, as the program and the report see it.
        reason: String,
    },
}

/// Decides on tool calls that need approval: a terminal prompt, an MCP elicitation, a rule.
#[async_trait]
pub trait Approver: Send + Sync {
    /// A short name for the report (`terminal`, `--yes`, ...).
    fn name(&self) -> &str;

    /// Decides on one call. Calls are asked one at a time.
    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision;
}

/// Approves every call (the CLI's `--yes`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApproveAll;

#[async_trait]
impl Approver for ApproveAll {
    fn name(&self) -> &str {
        "approve-all"
    }

    async fn decide(&self, _request: &ApprovalRequest) -> ApprovalDecision {
        ApprovalDecision::Approve
    }
}

/// Denies every call that needs approval, with a message that says how to allow it: what
/// runs without anyone to ask (a script, CI, a library user who set no approver).
#[derive(Debug, Clone)]
pub struct DenyAll {
    how_to_allow: String,
}

impl DenyAll {
    /// Denies, telling the program `how_to_allow` (e.g. "pass --yes").
    pub fn new(how_to_allow: impl Into<String>) -> Self {
        Self {
            how_to_allow: how_to_allow.into(),
        }
    }
}

impl Default for DenyAll {
    fn default() -> Self {
        Self::new("give the CodeMode an approver (CodeModeBuilder::approver), or set approval = \"never\"")
    }
}

#[async_trait]
impl Approver for DenyAll {
    fn name(&self) -> &str {
        "no-approver"
    }

    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        ApprovalDecision::Deny {
            reason: format!(
                "it needs approval ({}) and there is no one to ask; to allow it, {}",
                request.reason, self.how_to_allow
            ),
        }
    }
}

/// One decision, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// Path under `tools`.
    pub path: String,
    /// Whether the call ran.
    pub approved: bool,
    /// Who decided: the approver's name, or `remembered` for a tool approved "always" before.
    pub by: String,
    /// Why it needed approval and, when denied, why it was denied.
    pub reason: String,
}
