//! Approving tool calls on the terminal: `codemode run` and `codemode exec` ask before a
//! call that needs approval (see `--approval`) when stdin and stderr are a terminal.

use std::io::{BufRead, Write};

use async_trait::async_trait;
use codemode::{ApprovalDecision, ApprovalRequest, Approver};

/// Characters of the arguments shown in the question.
const ARGUMENTS_SHOWN: usize = 400;
/// Answers that are not understood before the call is denied.
const TRIES: usize = 3;

/// Asks on stderr and reads the answer from stdin: yes, no, or always for this tool.
pub struct TerminalApprover;

#[async_trait]
impl Approver for TerminalApprover {
    fn name(&self) -> &str {
        "terminal"
    }

    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        let request = request.clone();
        let asked = tokio::task::spawn_blocking(move || {
            ask(&request, &mut std::io::stdin().lock(), &mut std::io::stderr().lock())
        })
        .await;
        asked.unwrap_or_else(|e| ApprovalDecision::Deny {
            reason: format!("the terminal could not be asked: {e}"),
        })
    }
}

/// Asks about `request` on `output` and reads answers from `input` until one is understood
/// (at most [`TRIES`]); end of input denies.
pub fn ask(request: &ApprovalRequest, input: &mut impl BufRead, output: &mut impl Write) -> ApprovalDecision {
    let arguments = crate::output::truncate(&request.arguments.to_string(), ARGUMENTS_SHOWN);
    let _ = writeln!(
        output,
        "\ncodemode: the program calls tools.{} ({})",
        request.path, request.reason
    );
    if let Some(description) = &request.description {
        let _ = writeln!(output, "  {}", crate::output::truncate(description.trim(), 200));
    }
    let _ = writeln!(output, "  arguments: {arguments}");
    for _ in 0..TRIES {
        let _ = write!(output, "Allow it? [y]es / [n]o / [a]lways for this tool: ");
        let _ = output.flush();
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return ApprovalDecision::Approve,
            "a" | "always" => return ApprovalDecision::ApproveAlways,
            "n" | "no" => {
                return ApprovalDecision::Deny {
                    reason: "denied on the terminal".into(),
                };
            }
            _ => {
                let _ = writeln!(output, "  answer y, n or a");
            }
        }
    }
    ApprovalDecision::Deny {
        reason: "no answer on the terminal".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            path: "files.delete_file".into(),
            arguments: json!({"path": "/tmp/x"}),
            description: Some("Deletes a file".into()),
            reason: "annotated destructiveHint: true".into(),
        }
    }

    fn answer(text: &str) -> (ApprovalDecision, String) {
        let mut shown = Vec::new();
        let decision = ask(&request(), &mut text.as_bytes(), &mut shown);
        (decision, String::from_utf8(shown).unwrap())
    }

    #[test]
    fn the_terminal_answers_yes_no_always_and_asks_again_when_not_understood() {
        let (decision, shown) = answer("y\n");
        assert_eq!(decision, ApprovalDecision::Approve);
        assert!(
            shown.contains("tools.files.delete_file (annotated destructiveHint: true)")
                && shown.contains(r#"arguments: {"path":"/tmp/x"}"#)
                && shown.contains("Deletes a file"),
            "{shown}"
        );
        assert_eq!(answer("Always\n").0, ApprovalDecision::ApproveAlways);
        assert!(matches!(answer("no\n").0, ApprovalDecision::Deny { .. }));
        let (decision, shown) = answer("maybe\nyes\n");
        assert_eq!(decision, ApprovalDecision::Approve);
        assert!(shown.contains("answer y, n or a"), "{shown}");
        let (decision, _) = answer("");
        assert_eq!(
            decision,
            ApprovalDecision::Deny {
                reason: "no answer on the terminal".into()
            }
        );
    }
}
