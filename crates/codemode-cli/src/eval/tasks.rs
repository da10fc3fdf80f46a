//! The eval's tasks against the demo MCP server, each judged by the workspace it leaves
//! behind (and, for questions, by the value the program returns), never by the run's own
//! verdict: a run that says `success` and leaves the wrong state fails its task.

use codemode_demo_server::{ChatMessage, Email, Issue, WorkspaceState};
use serde_json::Value;

/// What a task checks: the final workspace and the program's output. `Err` says what is wrong.
pub type Check = fn(&WorkspaceState, &Value) -> Result<(), String>;

/// One task of the eval.
pub struct EvalTask {
    /// A short, stable id (`--task` picks by it).
    pub id: &'static str,
    /// The kind of work: `single`, `filter`, `chain`, `conditional`, `parallel`, `question`.
    pub kind: &'static str,
    /// The request, as a user would type it.
    pub query: &'static str,
    /// Judges the outcome.
    pub check: Check,
}

/// Every demo task, in the order the eval runs them.
pub const TASKS: &[EvalTask] = &[
    EvalTask {
        id: "post-general",
        kind: "single",
        query: "Send the message 'Deploy finished' to the general channel.",
        check: |s, _| {
            expect_message(s, "general", "deploy finished")?;
            only_new_messages_in(s, &["general"])
        },
    },
    EvalTask {
        id: "create-issue",
        kind: "single",
        query: "Open an issue titled 'Login button misaligned' with the body 'The login button overlaps the logo on mobile.' and the label 'bug'.",
        check: |s, _| {
            let issue = issue_titled(s, "login button misaligned")?;
            ensure(issue.state == "open", "the new issue is not open")?;
            ensure(
                contains(&issue.body, "overlaps the logo"),
                format!("the new issue's body is {:?}", issue.body),
            )?;
            ensure(
                issue.labels.iter().any(|l| l == "bug"),
                format!("the new issue's labels are {:?}, not bug", issue.labels),
            )
        },
    },
    EvalTask {
        id: "close-issue",
        kind: "single",
        query: "Close issue 1.",
        check: |s, _| {
            expect_issue_state(s, 1, "closed")?;
            expect_issue_state(s, 2, "open")?;
            no_new_issues(s)
        },
    },
    EvalTask {
        id: "email-ana",
        kind: "single",
        query: "Email ana@example.com with the subject 'Lunch' and the body 'Yes, noon works for me.'",
        check: |s, _| {
            let sent = expect_sent(s, "ana@example.com")?;
            ensure(
                contains(&sent.subject, "lunch"),
                format!("the subject is {:?}", sent.subject),
            )?;
            ensure(contains(&sent.body, "noon"), format!("the body is {:?}", sent.body))
        },
    },
    EvalTask {
        id: "react-welcome",
        kind: "single",
        query: "Add a 'wave' reaction to message 1.",
        check: |s, _| {
            expect_reaction(s, 1, "wave")?;
            only_reacted(s, &[1])
        },
    },
    EvalTask {
        id: "seed-query",
        kind: "chain",
        query: "Get all channels, send a message to every channel that starts with 'test', and set an emoji on each message in channels that start with the letter 'e'.",
        check: |s, _| {
            expect_any_message(s, "test-alerts")?;
            expect_any_message(s, "test-deploys")?;
            only_new_messages_in(s, &["test-alerts", "test-deploys"])?;
            for id in [2, 3, 4] {
                let m = message(s, id)?;
                ensure(
                    !m.reactions.is_empty(),
                    format!("message {id} in {} has no reaction", m.channel),
                )?;
            }
            only_reacted(s, &[2, 3, 4])
        },
    },
    EvalTask {
        id: "comment-open-bugs",
        kind: "filter",
        query: "Comment 'Triaged' on every open issue labelled 'bug'.",
        check: |s, _| {
            let bug = issue(s, 1)?;
            ensure(
                bug.comments.iter().any(|c| contains(c, "triaged")),
                "open bug 1 has no 'Triaged' comment",
            )?;
            ensure(issue(s, 3)?.comments.is_empty(), "closed issue 3 was commented on")?;
            ensure(
                !issue(s, 2)?.comments.iter().any(|c| contains(c, "triaged")),
                "feature issue 2 was commented on",
            )
        },
    },
    EvalTask {
        id: "close-features",
        kind: "filter",
        query: "Close every open issue that has the label 'feature'.",
        check: |s, _| {
            expect_issue_state(s, 2, "closed")?;
            expect_issue_state(s, 1, "open")
        },
    },
    EvalTask {
        id: "react-engineering",
        kind: "filter",
        query: "Add an 'eyes' reaction to every message in the engineering channel.",
        check: |s, _| {
            expect_reaction(s, 2, "eyes")?;
            expect_reaction(s, 3, "eyes")?;
            only_reacted(s, &[2, 3])
        },
    },
    EvalTask {
        id: "read-unread",
        kind: "filter",
        query: "Read every unread email in my inbox.",
        check: |s, _| {
            let unread: Vec<u64> = s
                .emails
                .iter()
                .filter(|e| e.to == "me@example.com" && !e.read)
                .map(|e| e.id)
                .collect();
            ensure(unread.is_empty(), format!("emails {unread:?} are still unread"))?;
            no_sent_mail(s)
        },
    },
    EvalTask {
        id: "forward-unread",
        kind: "chain",
        query: "Forward each unread email in my inbox to team@example.com, with the same subject and the original body.",
        check: |s, _| {
            let sent = expect_sent(s, "team@example.com")?;
            ensure(
                contains(&sent.subject, "maintenance window"),
                format!("the forwarded subject is {:?}", sent.subject),
            )?;
            ensure(
                contains(&sent.body, "saturday"),
                format!("the forwarded body is {:?}", sent.body),
            )?;
            ensure(
                !s.emails
                    .iter()
                    .any(|e| e.to == "team@example.com" && contains(&e.subject, "lunch")),
                "the read email (Lunch?) was forwarded too",
            )
        },
    },
    EvalTask {
        id: "count-to-chat",
        kind: "chain",
        query: "Count the open issues and post the number to the general channel, as 'Open issues: N'.",
        check: |s, _| {
            let m = expect_message(s, "general", "open issues")?;
            ensure(
                m.text.contains('2'),
                format!("the message says {:?}; 2 issues are open", m.text),
            )?;
            only_new_messages_in(s, &["general"])
        },
    },
    EvalTask {
        id: "issue-from-email",
        kind: "chain",
        query: "Open an issue for the unread email from ops@example.com: the issue's title is the email's subject and its body is the email's body.",
        check: |s, _| {
            let issue = issue_titled(s, "maintenance window")?;
            ensure(
                contains(&issue.body, "saturday"),
                format!("the issue's body is {:?}", issue.body),
            )
        },
    },
    EvalTask {
        id: "bugs-or-not",
        kind: "conditional",
        query: "If there are open issues labelled 'bug', post 'Bugs need attention' to the engineering channel; otherwise post 'No open bugs' there.",
        check: |s, _| {
            expect_message(s, "engineering", "bugs need attention")?;
            ensure(
                !new_messages(s).any(|m| contains(&m.text, "no open bugs")),
                "it also posted 'No open bugs'",
            )?;
            only_new_messages_in(s, &["engineering"])
        },
    },
    EvalTask {
        id: "critical-or-not",
        kind: "conditional",
        query: "If any open issue has the label 'critical', email oncall@example.com about it; otherwise send the message 'No critical issues' to the general channel.",
        check: |s, _| {
            ensure(
                !s.emails.iter().any(|e| e.to == "oncall@example.com"),
                "it emailed oncall although no issue is critical",
            )?;
            expect_message(s, "general", "no critical issues")?;
            only_new_messages_in(s, &["general"])
        },
    },
    EvalTask {
        id: "announce-three",
        kind: "parallel",
        query: "Send the message 'Maintenance on Saturday' to the general, engineering and random channels, all at once.",
        check: |s, _| {
            for channel in ["general", "engineering", "random"] {
                expect_message(s, channel, "maintenance on saturday")?;
            }
            only_new_messages_in(s, &["general", "engineering", "random"])
        },
    },
    EvalTask {
        id: "count-open-issues",
        kind: "question",
        query: "How many open issues are there? Return the number.",
        check: |s, output| {
            ensure(
                number_in(output) == Some(2),
                format!("the program returned {output}; 2 issues are open"),
            )?;
            no_changes(s)
        },
    },
    EvalTask {
        id: "test-channels",
        kind: "question",
        query: "Which channels have a name starting with 'test'? Return their names.",
        check: |s, output| {
            let text = output.to_string();
            for name in ["test-alerts", "test-deploys"] {
                ensure(
                    text.contains(name),
                    format!("the program returned {output}, without {name}"),
                )?;
            }
            ensure(
                !text.contains("general"),
                format!("the program returned {output}, with general"),
            )?;
            no_changes(s)
        },
    },
];

/// `Ok` when `condition` holds, else `why`.
pub(super) fn ensure(condition: bool, why: impl Into<String>) -> Result<(), String> {
    if condition { Ok(()) } else { Err(why.into()) }
}

/// Case-insensitive substring.
fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// Messages the program wrote (the seed's are by other authors).
fn new_messages(s: &WorkspaceState) -> impl Iterator<Item = &ChatMessage> {
    s.messages.iter().filter(|m| m.author == "me")
}

/// The one item a task asked for: none, or the same thing done twice, is a wrong state.
fn exactly_one<'a, T>(mut found: impl Iterator<Item = &'a T>, what: impl Fn() -> String) -> Result<&'a T, String> {
    let first = found.next().ok_or_else(|| format!("no {}", what()))?;
    match found.count() {
        0 => Ok(first),
        more => Err(format!("{} {} (one was asked for)", more + 1, what())),
    }
}

fn expect_message<'a>(s: &'a WorkspaceState, channel: &str, text: &str) -> Result<&'a ChatMessage, String> {
    exactly_one(
        new_messages(s).filter(|m| m.channel == channel && contains(&m.text, text)),
        || format!("new message containing {text:?} in #{channel}"),
    )
}

fn expect_any_message(s: &WorkspaceState, channel: &str) -> Result<(), String> {
    ensure(
        new_messages(s).any(|m| m.channel == channel),
        format!("no new message in #{channel}"),
    )
}

fn only_new_messages_in(s: &WorkspaceState, channels: &[&str]) -> Result<(), String> {
    match new_messages(s).find(|m| !channels.contains(&m.channel.as_str())) {
        Some(m) => Err(format!("it also posted to #{}: {:?}", m.channel, m.text)),
        None => Ok(()),
    }
}

fn message(s: &WorkspaceState, id: u64) -> Result<&ChatMessage, String> {
    s.messages
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| format!("message {id} is gone"))
}

fn expect_reaction(s: &WorkspaceState, id: u64, emoji: &str) -> Result<(), String> {
    let m = message(s, id)?;
    ensure(
        m.reactions.iter().any(|r| r == emoji),
        format!("message {id} has reactions {:?}, not {emoji}", m.reactions),
    )
}

/// No message outside `ids` got a reaction (the seed has none).
fn only_reacted(s: &WorkspaceState, ids: &[u64]) -> Result<(), String> {
    match s
        .messages
        .iter()
        .find(|m| !m.reactions.is_empty() && !ids.contains(&m.id))
    {
        Some(m) => Err(format!("message {} in #{} got a reaction too", m.id, m.channel)),
        None => Ok(()),
    }
}

fn issue(s: &WorkspaceState, id: u64) -> Result<&Issue, String> {
    s.issues
        .iter()
        .find(|i| i.id == id)
        .ok_or_else(|| format!("issue {id} is gone"))
}

fn issue_titled<'a>(s: &'a WorkspaceState, title: &str) -> Result<&'a Issue, String> {
    exactly_one(
        s.issues.iter().filter(|i| i.id > 3 && contains(&i.title, title)),
        || format!("new issue titled {title:?}"),
    )
}

fn expect_issue_state(s: &WorkspaceState, id: u64, state: &str) -> Result<(), String> {
    let i = issue(s, id)?;
    ensure(i.state == state, format!("issue {id} is {}, not {state}", i.state))
}

fn no_new_issues(s: &WorkspaceState) -> Result<(), String> {
    ensure(
        s.issues.len() == 3,
        format!("{} issues were opened", s.issues.len() - 3),
    )
}

/// Mail the program sent (the seed's mail is to me).
fn sent_mail(s: &WorkspaceState) -> impl Iterator<Item = &Email> {
    s.emails.iter().filter(|e| e.from == "me@example.com")
}

fn expect_sent<'a>(s: &'a WorkspaceState, to: &str) -> Result<&'a Email, String> {
    exactly_one(sent_mail(s).filter(|e| e.to == to), || format!("email sent to {to}"))
}

fn no_sent_mail(s: &WorkspaceState) -> Result<(), String> {
    match sent_mail(s).next() {
        Some(e) => Err(format!("it sent an email to {}", e.to)),
        None => Ok(()),
    }
}

/// The workspace is as seeded, apart from emails marked read.
fn no_changes(s: &WorkspaceState) -> Result<(), String> {
    let seed = WorkspaceState::seed();
    let issues = |w: &WorkspaceState| serde_json::to_value(&w.issues).unwrap_or_default();
    let messages = |w: &WorkspaceState| serde_json::to_value(&w.messages).unwrap_or_default();
    ensure(issues(s) == issues(&seed), "the issues changed")?;
    ensure(messages(s) == messages(&seed), "the messages changed")?;
    no_sent_mail(s)
}

/// The number a question's answer gives: the value itself, or the only number in an
/// object's values or a string.
fn number_in(output: &Value) -> Option<u64> {
    match output {
        Value::Number(n) => n.as_u64(),
        Value::String(text) => {
            let numbers: Vec<u64> = text
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|t| t.parse().ok())
                .collect();
            (numbers.len() == 1).then(|| numbers[0])
        }
        Value::Object(map) => {
            let numbers: Vec<u64> = map.values().filter_map(number_in).collect();
            (numbers.len() == 1).then(|| numbers[0])
        }
        Value::Array(items) => Some(items.len() as u64).filter(|_| items.iter().all(Value::is_object)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_unique_and_every_kind_is_covered() {
        let mut ids: Vec<_> = TASKS.iter().map(|t| t.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), TASKS.len());
        assert!(TASKS.len() >= 15);
        for kind in ["single", "filter", "chain", "conditional", "parallel", "question"] {
            assert!(TASKS.iter().any(|t| t.kind == kind), "{kind}");
        }
    }

    /// Nothing done is never a pass: every task fails on the untouched seed workspace,
    /// except that questions pass only with the right answer.
    #[test]
    fn the_untouched_workspace_fails_every_task() {
        let seed = WorkspaceState::seed();
        for task in TASKS {
            assert!((task.check)(&seed, &Value::Null).is_err(), "{}", task.id);
        }
        let count = TASKS.iter().find(|t| t.id == "count-open-issues").unwrap();
        assert!((count.check)(&seed, &json!(2)).is_ok());
        assert!((count.check)(&seed, &json!({"open": 2})).is_ok());
        assert!((count.check)(&seed, &json!("There are 2 open issues")).is_ok());
        assert!((count.check)(&seed, &json!(3)).is_err());
    }

    /// An agent that opens the asked-for issue four times (seen with direct tool calling)
    /// did not do what was asked.
    #[test]
    fn the_same_thing_done_twice_fails() {
        let task = TASKS.iter().find(|t| t.id == "create-issue").unwrap();
        let mut s = WorkspaceState::seed();
        let issue = |id| codemode_demo_server::Issue {
            id,
            title: "Login button misaligned".into(),
            body: "The login button overlaps the logo on mobile.".into(),
            state: "open".into(),
            labels: vec!["bug".into()],
            comments: Vec::new(),
        };
        s.issues.push(issue(4));
        assert_eq!((task.check)(&s, &Value::Null), Ok(()));
        s.issues.push(issue(5));
        let why = (task.check)(&s, &Value::Null).unwrap_err();
        assert!(
            why.contains("2 new issue") && why.contains("one was asked for"),
            "{why}"
        );
    }

    #[test]
    fn a_right_state_passes_and_collateral_damage_fails() {
        let task = TASKS.iter().find(|t| t.id == "react-engineering").unwrap();
        let mut s = WorkspaceState::seed();
        for m in s.messages.iter_mut().filter(|m| m.channel == "engineering") {
            m.reactions.push("eyes".into());
        }
        assert_eq!((task.check)(&s, &Value::Null), Ok(()));
        s.messages[0].reactions.push("eyes".into());
        let why = (task.check)(&s, &Value::Null).unwrap_err();
        assert!(why.contains("message 1"), "{why}");
    }
}
