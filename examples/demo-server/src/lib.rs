//! A demo MCP server: an in-memory workspace with chat channels, messages and reactions,
//! issues and comments, and an email inbox. State is deterministic and resettable
//! (`reset_workspace`), so tests can assert on it. Most tools declare output schemas.

use std::sync::{Arc, Mutex};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{Json, ServerHandler, tool, tool_handler, tool_router};

mod state;
mod wire;

pub use state::{Channel, ChatMessage, Email, Issue, WorkspaceState};
pub use wire::{
    AddReactionArgs, ChannelList, CommentArgs, CreateIssueArgs, EmailIdArgs, Inbox, IssueIdArgs, IssueList, IssueState,
    ListInboxArgs, ListIssuesArgs, ListMessagesArgs, MessageList, SendEmailArgs, SendMessageArgs,
};

/// The demo server. Clones share one workspace.
#[derive(Debug, Clone)]
pub struct DemoServer {
    state: Arc<Mutex<WorkspaceState>>,
    tool_router: ToolRouter<Self>,
}

impl Default for DemoServer {
    fn default() -> Self {
        Self::new()
    }
}

impl DemoServer {
    /// A server over the seed workspace.
    pub fn with_state(state: Arc<Mutex<WorkspaceState>>) -> Self {
        Self {
            state,
            tool_router: Self::tool_router(),
        }
    }

    /// A snapshot of the workspace.
    pub fn snapshot(&self) -> WorkspaceState {
        self.with(|s| s.clone())
    }

    /// Changes one issue and returns it, or says that it does not exist.
    fn update_issue(&self, id: u64, change: impl FnOnce(&mut Issue)) -> Result<Json<Issue>, String> {
        self.with(|s| {
            let issue = s
                .issues
                .iter_mut()
                .find(|i| i.id == id)
                .ok_or_else(|| format!("no issue {id}"))?;
            change(issue);
            Ok(Json(issue.clone()))
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut WorkspaceState) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

#[tool_router]
impl DemoServer {
    /// A server over a fresh seed workspace.
    pub fn new() -> Self {
        Self::with_state(Arc::new(Mutex::new(WorkspaceState::seed())))
    }

    #[tool(
        description = "List all chat channels with their topics",
        annotations(read_only_hint = true)
    )]
    fn list_channels(&self) -> Json<ChannelList> {
        Json(ChannelList {
            channels: self.with(|s| s.channels.clone()),
        })
    }

    #[tool(description = "Post a message to a chat channel; returns the new message with its id")]
    fn send_message(&self, Parameters(args): Parameters<SendMessageArgs>) -> Result<Json<ChatMessage>, String> {
        self.with(|s| {
            if !s.channels.iter().any(|c| c.name == args.channel) {
                return Err(format!("no channel named `{}`", args.channel));
            }
            let id = s.messages.iter().map(|m| m.id).max().unwrap_or(0) + 1;
            let message = ChatMessage {
                id,
                channel: args.channel,
                author: "me".into(),
                text: args.text,
                reactions: Vec::new(),
            };
            s.messages.push(message.clone());
            Ok(Json(message))
        })
    }

    #[tool(
        description = "List the messages of a channel, oldest first",
        annotations(read_only_hint = true)
    )]
    fn list_messages(&self, Parameters(args): Parameters<ListMessagesArgs>) -> Result<Json<MessageList>, String> {
        self.with(|s| {
            if !s.channels.iter().any(|c| c.name == args.channel) {
                return Err(format!("no channel named `{}`", args.channel));
            }
            let mut messages: Vec<ChatMessage> = s
                .messages
                .iter()
                .filter(|m| m.channel == args.channel)
                .cloned()
                .collect();
            if let Some(limit) = args.limit {
                let skip = messages.len().saturating_sub(limit);
                messages.drain(..skip);
            }
            Ok(Json(MessageList { messages }))
        })
    }

    #[tool(description = "Add an emoji reaction to a message; returns the updated message")]
    fn add_reaction(&self, Parameters(args): Parameters<AddReactionArgs>) -> Result<Json<ChatMessage>, String> {
        self.with(|s| {
            let message = s
                .messages
                .iter_mut()
                .find(|m| m.id == args.message_id)
                .ok_or_else(|| format!("no message with id {}", args.message_id))?;
            let emoji = args.emoji.trim_matches(':').to_string();
            if !message.reactions.contains(&emoji) {
                message.reactions.push(emoji);
            }
            Ok(Json(message.clone()))
        })
    }

    #[tool(
        description = "List issues, optionally by state and label",
        annotations(read_only_hint = true)
    )]
    fn list_issues(&self, Parameters(args): Parameters<ListIssuesArgs>) -> Json<IssueList> {
        let issues = self.with(|s| {
            s.issues
                .iter()
                .filter(|i| match args.state {
                    Some(IssueState::Open) => i.state == "open",
                    Some(IssueState::Closed) => i.state == "closed",
                    None => true,
                })
                .filter(|i| args.label.as_ref().is_none_or(|l| i.labels.contains(l)))
                .cloned()
                .collect()
        });
        Json(IssueList { issues })
    }

    #[tool(description = "Open a new issue; returns it with its id")]
    fn create_issue(&self, Parameters(args): Parameters<CreateIssueArgs>) -> Json<Issue> {
        self.with(|s| {
            let id = s.issues.iter().map(|i| i.id).max().unwrap_or(0) + 1;
            let issue = Issue {
                id,
                title: args.title,
                body: args.body,
                state: "open".into(),
                labels: args.labels,
                comments: Vec::new(),
            };
            s.issues.push(issue.clone());
            Json(issue)
        })
    }

    #[tool(description = "Comment on an issue; returns the updated issue")]
    fn comment_on_issue(&self, Parameters(args): Parameters<CommentArgs>) -> Result<Json<Issue>, String> {
        self.update_issue(args.issue_id, |issue| issue.comments.push(args.text))
    }

    #[tool(description = "Close an issue; returns the updated issue")]
    fn close_issue(&self, Parameters(args): Parameters<IssueIdArgs>) -> Result<Json<Issue>, String> {
        self.update_issue(args.issue_id, |issue| issue.state = "closed".into())
    }

    #[tool(
        description = "List the emails in my inbox, newest first",
        annotations(read_only_hint = true)
    )]
    fn list_inbox(&self, Parameters(args): Parameters<ListInboxArgs>) -> Json<Inbox> {
        let mut emails: Vec<Email> = self.with(|s| {
            s.emails
                .iter()
                .filter(|e| e.to == "me@example.com" && (!args.unread_only || !e.read))
                .cloned()
                .collect()
        });
        emails.reverse();
        Json(Inbox { emails })
    }

    #[tool(description = "Read one email and mark it read")]
    fn read_email(&self, Parameters(args): Parameters<EmailIdArgs>) -> Result<Json<Email>, String> {
        self.with(|s| {
            let email = s
                .emails
                .iter_mut()
                .find(|e| e.id == args.email_id)
                .ok_or_else(|| format!("no email {}", args.email_id))?;
            email.read = true;
            Ok(Json(email.clone()))
        })
    }

    #[tool(description = "Send an email")]
    fn send_email(&self, Parameters(args): Parameters<SendEmailArgs>) -> String {
        self.with(|s| {
            let id = s.emails.iter().map(|e| e.id).max().unwrap_or(0) + 1;
            s.emails.push(Email {
                id,
                from: "me@example.com".into(),
                to: args.to.clone(),
                subject: args.subject,
                body: args.body,
                read: true,
            });
            format!("sent email {id} to {}", args.to)
        })
    }

    #[tool(
        description = "Dump the whole workspace state (for checking results)",
        annotations(read_only_hint = true)
    )]
    fn get_workspace_state(&self) -> Json<WorkspaceState> {
        Json(self.snapshot())
    }

    #[tool(description = "Reset the workspace to its initial state")]
    fn reset_workspace(&self) -> String {
        self.with(|s| *s = WorkspaceState::seed());
        "workspace reset".into()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for DemoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("A demo workspace: chat channels and messages, issues, and an email inbox.")
    }
}

/// An axum router serving `server` over streamable HTTP at `/mcp`. Every session shares the
/// server's workspace.
pub fn http_router(server: DemoServer) -> axum::Router {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

    let service: StreamableHttpService<DemoServer, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(server.clone()),
        Default::default(),
        StreamableHttpServerConfig::default(),
    );
    axum::Router::new().nest_service("/mcp", service)
}

/// Serves a fresh workspace over stdio until the client disconnects.
pub async fn serve_stdio() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use rmcp::ServiceExt;
    let service = DemoServer::new().serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
