//! Approvals: which tool calls a person (or a policy) must allow before they run. The
//! [`Approver`] boundary is `codemode-traits`'; the policy and the gate are here.
//!
//! The policy ([`ApprovalPolicy`], `[run] approval`) says which calls need a decision; an
//! [`Approver`] makes it. A denied call throws in the program (`tools.x was denied: ...`),
//! which the program may catch; every decision is in [`RunReport::approvals`].
//!
//! [`RunReport::approvals`]: crate::RunReport::approvals

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use codemode_traits::ToolAnnotations;
pub use codemode_traits::approval::{ApprovalDecision, ApprovalRecord, ApprovalRequest, ApproveAll, Approver, DenyAll};

use crate::catalog::CatalogEntry;
use crate::limits::ApprovalPolicy;

/// Tools approved "always", kept by a `CodeMode` across runs.
#[derive(Debug, Default)]
pub struct ApprovalMemory(Mutex<BTreeSet<String>>);

impl ApprovalMemory {
    fn remembers(&self, path: &str) -> bool {
        self.0.lock().map(|s| s.contains(path)).unwrap_or(false)
    }

    fn remember(&self, path: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(path.to_string());
        }
    }
}

/// The policy and the approver of one run, as the tool bridge applies them.
pub struct ApprovalGate {
    policy: ApprovalPolicy,
    approver: Arc<dyn Approver>,
    memory: Arc<ApprovalMemory>,
    /// One question at a time (concurrent calls of a program wait in line).
    asking: tokio::sync::Mutex<()>,
    records: Mutex<Vec<ApprovalRecord>>,
}

impl ApprovalGate {
    /// A gate applying `policy` with `approver`, remembering "always" in `memory`.
    pub fn new(policy: ApprovalPolicy, approver: Arc<dyn Approver>, memory: Arc<ApprovalMemory>) -> Self {
        Self {
            policy,
            approver,
            memory,
            asking: tokio::sync::Mutex::new(()),
            records: Mutex::new(Vec::new()),
        }
    }

    /// The decisions made so far.
    pub fn records(&self) -> Vec<ApprovalRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// `Ok` when the call may run; `Err(reason)` when it was denied.
    pub async fn check(&self, entry: &CatalogEntry, arguments: &Value) -> Result<(), String> {
        let Some(reason) = needs_approval(self.policy, entry) else {
            return Ok(());
        };
        let _turn = self.asking.lock().await;
        if self.memory.remembers(&entry.path) {
            self.record(&entry.path, true, "remembered", reason);
            return Ok(());
        }
        let request = ApprovalRequest {
            path: entry.path.clone(),
            arguments: arguments.clone(),
            description: entry.spec.description.clone(),
            reason: reason.clone(),
        };
        let decision = self.approver.decide(&request).await;
        tracing::info!(path = %entry.path, ?decision, approver = self.approver.name(), "approval");
        match decision {
            ApprovalDecision::Approve => {
                self.record(&entry.path, true, self.approver.name(), reason);
                Ok(())
            }
            ApprovalDecision::ApproveAlways => {
                self.memory.remember(&entry.path);
                self.record(
                    &entry.path,
                    true,
                    self.approver.name(),
                    format!("{reason}; approved always"),
                );
                Ok(())
            }
            ApprovalDecision::Deny { reason: why } => {
                self.record(
                    &entry.path,
                    false,
                    self.approver.name(),
                    format!("{reason}; denied: {why}"),
                );
                Err(why)
            }
        }
    }

    fn record(&self, path: &str, approved: bool, by: &str, reason: String) {
        if let Ok(mut records) = self.records.lock() {
            records.push(ApprovalRecord {
                path: path.to_string(),
                approved,
                by: by.to_string(),
                reason,
            });
        }
    }
}

/// Why a call of `entry` needs approval under `policy`, or `None` when it does not.
///
/// `destructive` asks for tools annotated `destructiveHint: true` that are not annotated
/// `readOnlyHint: true`. A tool without annotations is not asked for: the MCP default
/// (`destructiveHint` true when absent) would ask for nearly every call of most servers,
/// which annotate nothing; use `all` for servers you do not trust.
pub fn needs_approval(policy: ApprovalPolicy, entry: &CatalogEntry) -> Option<String> {
    match policy {
        ApprovalPolicy::Never => None,
        ApprovalPolicy::All => Some("approval = \"all\"".to_string()),
        ApprovalPolicy::Destructive => entry
            .spec
            .annotations
            .as_ref()
            .is_some_and(ToolAnnotations::destructive)
            .then(|| "annotated destructiveHint: true".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::bridge::CatalogBridge;
    use crate::catalog::ToolCatalog;
    use codemode_traits::{BridgeError, ToolBridge};
    use codemode_traits::{ToolError, ToolProvider, ToolSpec};

    /// A test double: tools that answer `{"ran": name}`.
    struct Echo;

    #[async_trait]
    impl ToolProvider for Echo {
        async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
            Ok(Vec::new())
        }
        async fn call_tool(&self, name: &str, _arguments: Value) -> Result<Value, ToolError> {
            Ok(json!({"ran": name}))
        }
    }

    /// A test double: answers with `decision` and counts the questions.
    struct Scripted {
        decision: ApprovalDecision,
        asked: AtomicUsize,
    }

    #[async_trait]
    impl Approver for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        async fn decide(&self, _request: &ApprovalRequest) -> ApprovalDecision {
            self.asked.fetch_add(1, Ordering::SeqCst);
            self.decision.clone()
        }
    }

    fn catalog() -> Arc<ToolCatalog> {
        let mut destructive = ToolSpec::new("wipe", "Deletes everything", json!({"type": "object"}));
        destructive.annotations = Some(ToolAnnotations::destructive_hint(true));
        let mut read_only = ToolSpec::new("peek", "Reads", json!({"type": "object"}));
        read_only.annotations = Some(ToolAnnotations {
            read_only_hint: Some(true),
            ..ToolAnnotations::destructive_hint(true)
        });
        let plain = ToolSpec::new("work", "Works", json!({"type": "object"}));
        let mut catalog = ToolCatalog::new();
        catalog.add_tools("fx", Arc::new(Echo), vec![destructive, read_only, plain]);
        Arc::new(catalog)
    }

    fn bridge(policy: ApprovalPolicy, approver: Arc<dyn Approver>, memory: Arc<ApprovalMemory>) -> CatalogBridge {
        CatalogBridge::new(catalog(), 10, Duration::from_secs(1))
            .with_approval(Arc::new(ApprovalGate::new(policy, approver, memory)))
    }

    #[tokio::test]
    async fn always_is_remembered_across_runs_and_a_denial_does_not_call_the_tool() {
        let memory = Arc::new(ApprovalMemory::default());
        let always = Arc::new(Scripted {
            decision: ApprovalDecision::ApproveAlways,
            asked: AtomicUsize::new(0),
        });
        let first = bridge(ApprovalPolicy::Destructive, always.clone(), memory.clone());
        assert_eq!(first.call("fx.wipe", json!({})).await.unwrap(), json!({"ran": "wipe"}));
        assert_eq!(first.call("fx.peek", json!({})).await.unwrap(), json!({"ran": "peek"}));
        assert_eq!(first.call("fx.work", json!({})).await.unwrap(), json!({"ran": "work"}));
        // A later run of the same CodeMode (same memory) is not asked again.
        let second = bridge(ApprovalPolicy::Destructive, always.clone(), memory);
        second.call("fx.wipe", json!({})).await.unwrap();
        assert_eq!(always.asked.load(Ordering::SeqCst), 1);
        assert_eq!(second.approvals()[0].by, "remembered");

        let deny = Arc::new(Scripted {
            decision: ApprovalDecision::Deny {
                reason: "not today".into(),
            },
            asked: AtomicUsize::new(0),
        });
        let denied = bridge(ApprovalPolicy::All, deny, Arc::default());
        let err = denied.call("fx.work", json!({})).await.unwrap_err();
        assert_eq!(err, BridgeError::Denied("fx.work".into(), "not today".into()));
        assert!(!err.ends_run(), "the program can catch it");
        assert_eq!(denied.records()[0].result, None);
        let approvals = denied.approvals();
        assert!(!approvals[0].approved && approvals[0].reason.contains("denied: not today"));
    }
}
