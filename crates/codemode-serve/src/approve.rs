//! Approvals through the MCP client: a tool call that needs approval is asked about with an
//! elicitation (a form with "approve" and "always"), when the client supports elicitation
//! forms; otherwise the server's own approver decides (by default it denies, saying how to
//! allow).

use std::sync::Arc;

use async_trait::async_trait;
use codemode_core::{ApprovalDecision, ApprovalRequest, Approver};
use rmcp::service::ElicitationError;
use rmcp::{Peer, RoleServer, schemars};
use serde::Deserialize;

/// The question, filled with `{path}`, `{reason}`, `{description}`, `{arguments}`.
const QUESTION: &str = include_str!("descriptions/approval_question.md");
/// Characters of the arguments shown in the question.
const ARGUMENTS_SHOWN: usize = 400;

/// What the user answers in the elicitation form.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ApprovalAnswer {
    /// Run this tool call.
    approve: bool,
    /// Also run every later call of this tool without asking again.
    #[serde(default)]
    always: bool,
}

rmcp::elicit_safe!(ApprovalAnswer);

/// Asks the user of the MCP client that sent the program.
pub(crate) struct ElicitingApprover {
    peer: Peer<RoleServer>,
    fallback: Arc<dyn Approver>,
}

impl ElicitingApprover {
    /// Asks through `peer`; `fallback` decides when the client cannot be asked.
    pub(crate) fn new(peer: Peer<RoleServer>, fallback: Arc<dyn Approver>) -> Self {
        Self { peer, fallback }
    }
}

#[async_trait]
impl Approver for ElicitingApprover {
    fn name(&self) -> &str {
        "mcp-elicitation"
    }

    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        let arguments: String = request.arguments.to_string().chars().take(ARGUMENTS_SHOWN).collect();
        let question = crate::fill(
            QUESTION,
            &[
                ("path", request.path.clone()),
                ("reason", request.reason.clone()),
                ("description", request.description.clone().unwrap_or_default()),
                ("arguments", arguments),
            ],
        );
        match self.peer.elicit::<ApprovalAnswer>(question.trim().to_string()).await {
            Ok(Some(ApprovalAnswer { approve: true, always })) => {
                if always {
                    ApprovalDecision::ApproveAlways
                } else {
                    ApprovalDecision::Approve
                }
            }
            Ok(Some(ApprovalAnswer { approve: false, .. })) => ApprovalDecision::Deny {
                reason: "the user did not approve it".into(),
            },
            Ok(None) | Err(ElicitationError::NoContent) => ApprovalDecision::Deny {
                reason: "the user gave no answer".into(),
            },
            Err(ElicitationError::UserDeclined | ElicitationError::UserCancelled) => ApprovalDecision::Deny {
                reason: "the user declined".into(),
            },
            Err(ElicitationError::CapabilityNotSupported) => self.fallback.decide(request).await,
            Err(e) => {
                tracing::warn!(error = %e, "asking the MCP client for approval failed");
                self.fallback.decide(request).await
            }
        }
    }
}
