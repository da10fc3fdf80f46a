//! What the tools take and return.

use rmcp::schemars;
use serde::{Deserialize, Serialize};

use crate::state::{Channel, ChatMessage, Email, Issue};

/// `list_channels` result.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChannelList {
    /// Every channel.
    pub channels: Vec<Channel>,
}

/// `list_messages` result.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageList {
    /// Messages, oldest first.
    pub messages: Vec<ChatMessage>,
}

/// `list_issues` result.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IssueList {
    /// Matching issues.
    pub issues: Vec<Issue>,
}

/// `list_inbox` result.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Inbox {
    /// Emails addressed to me, newest first.
    pub emails: Vec<Email>,
}

/// `send_message` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SendMessageArgs {
    /// Channel name (see `list_channels`).
    pub channel: String,
    /// Message text.
    pub text: String,
}

/// `list_messages` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListMessagesArgs {
    /// Channel name.
    pub channel: String,
    /// Most recent messages to return (default: all).
    pub limit: Option<usize>,
}

/// `add_reaction` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddReactionArgs {
    /// Message id.
    pub message_id: u64,
    /// Emoji name without colons, e.g. `tada`.
    pub emoji: String,
}

/// `list_issues` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListIssuesArgs {
    /// `open` or `closed`; all when absent.
    pub state: Option<IssueState>,
    /// Only issues with this label.
    pub label: Option<String>,
}

/// Issue state filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    /// Open issues.
    Open,
    /// Closed issues.
    Closed,
}

/// `create_issue` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateIssueArgs {
    /// One-line title.
    pub title: String,
    /// Description.
    pub body: String,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// `comment_on_issue` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CommentArgs {
    /// Issue id.
    pub issue_id: u64,
    /// Comment text.
    pub text: String,
}

/// Arguments naming one issue.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct IssueIdArgs {
    /// Issue id.
    pub issue_id: u64,
}

/// `list_inbox` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListInboxArgs {
    /// Only unread emails.
    #[serde(default)]
    pub unread_only: bool,
}

/// Arguments naming one email.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EmailIdArgs {
    /// Email id.
    pub email_id: u64,
}

/// `send_email` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SendEmailArgs {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
}
