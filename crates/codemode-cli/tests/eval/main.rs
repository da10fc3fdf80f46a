//! `codemode eval`, run as a user would run it. A scripted model (a test double) answers;
//! the demo MCP server, the checks of the final workspace, recording and replay are real.

use std::path::Path;

use serde_json::{Value, json};

#[path = "../common/mod.rs"]
mod common;
use common::{codemode, command, livemcpbench, text};

/// Two tasks: the first program posts to the wrong channel and returns normally (a run
/// that says `success`), the second answers the question right.
fn scripted(dir: &Path) {
    let script = json!({
        "strategy": ["1. Send the message with `workspace.send_message`.", "1. List the open issues.\n2. Return how many."],
        "tiny": ["[\"workspace.send_message\"]", "[\"workspace.list_issues\"]"],
        "main": [
            "```typescript\nawait tools.workspace.send_message({ channel: \"random\", text: \"Deploy finished\" });\nreturn \"sent\";\n```",
            "```typescript\nconst { issues } = await tools.workspace.list_issues({ state: \"open\" });\nreturn issues.length;\n```",
        ],
    });
    std::fs::write(dir.join("script.json"), script.to_string()).unwrap();
    std::fs::write(
        dir.join("codemode.toml"),
        "[llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n[run]\ntype_checker = \"builtin\"\n",
    )
    .unwrap();
}

fn results(dir: &Path, file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

mod judging;
mod recall;
mod replays;
