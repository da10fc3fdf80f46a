//! The workspace: channels, messages, issues and emails, and its seeded starting state.

use rmcp::schemars;
use serde::{Deserialize, Serialize};

/// A chat channel.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Channel {
    /// Channel name, e.g. `general`.
    pub name: String,
    /// What the channel is about.
    pub topic: String,
}

/// A chat message.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatMessage {
    /// Unique message id.
    pub id: u64,
    /// Channel name.
    pub channel: String,
    /// Who wrote it.
    pub author: String,
    /// The text.
    pub text: String,
    /// Emoji reactions, e.g. `["tada"]`.
    pub reactions: Vec<String>,
}

/// An issue in the tracker.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Issue {
    /// Unique issue id.
    pub id: u64,
    /// One-line title.
    pub title: String,
    /// Description.
    pub body: String,
    /// `open` or `closed`.
    pub state: String,
    /// Labels such as `bug`.
    pub labels: Vec<String>,
    /// Comments, oldest first.
    pub comments: Vec<String>,
}

/// An email.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Email {
    /// Unique email id.
    pub id: u64,
    /// Sender address.
    pub from: String,
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Whether it has been read.
    pub read: bool,
}

/// The whole workspace.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkspaceState {
    /// Channels.
    pub channels: Vec<Channel>,
    /// Messages of every channel.
    pub messages: Vec<ChatMessage>,
    /// Issues.
    pub issues: Vec<Issue>,
    /// Inbox and sent mail.
    pub emails: Vec<Email>,
}

impl WorkspaceState {
    /// The initial state: six channels, a few messages, issues and emails.
    pub fn seed() -> Self {
        let channel = |name: &str, topic: &str| Channel {
            name: name.into(),
            topic: topic.into(),
        };
        let message = |id, channel: &str, author: &str, text: &str| ChatMessage {
            id,
            channel: channel.into(),
            author: author.into(),
            text: text.into(),
            reactions: Vec::new(),
        };
        Self {
            channels: vec![
                channel("general", "Company-wide announcements"),
                channel("random", "Anything goes"),
                channel("test-alerts", "Alerts from the test environment"),
                channel("test-deploys", "Deploys to the test environment"),
                channel("engineering", "Engineering discussion"),
                channel("events", "Meetups and conferences"),
            ],
            messages: vec![
                message(1, "general", "ana", "Welcome to the workspace!"),
                message(2, "engineering", "bo", "The build is green again."),
                message(3, "engineering", "cy", "Who reviews the parser change?"),
                message(4, "events", "ana", "RustConf talks are online."),
                message(5, "random", "bo", "Coffee machine fixed."),
            ],
            issues: vec![
                Issue {
                    id: 1,
                    title: "Parser fails on empty input".into(),
                    body: "Steps: run with an empty file.".into(),
                    state: "open".into(),
                    labels: vec!["bug".into()],
                    comments: Vec::new(),
                },
                Issue {
                    id: 2,
                    title: "Add dark mode".into(),
                    body: "Users keep asking.".into(),
                    state: "open".into(),
                    labels: vec!["feature".into()],
                    comments: vec!["+1".into()],
                },
                Issue {
                    id: 3,
                    title: "Old crash on start".into(),
                    body: "Fixed in 0.2.".into(),
                    state: "closed".into(),
                    labels: vec!["bug".into()],
                    comments: Vec::new(),
                },
            ],
            emails: vec![
                Email {
                    id: 1,
                    from: "ops@example.com".into(),
                    to: "me@example.com".into(),
                    subject: "Maintenance window".into(),
                    body: "Saturday 02:00-04:00 UTC.".into(),
                    read: false,
                },
                Email {
                    id: 2,
                    from: "ana@example.com".into(),
                    to: "me@example.com".into(),
                    subject: "Lunch?".into(),
                    body: "Tomorrow at noon?".into(),
                    read: true,
                },
            ],
        }
    }
}
