//! The `codemode` binary, run as a user would run it.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

#[path = "../common/mod.rs"]
mod common;
use common::{codemode, codemode_on_a_terminal, codemode_on_a_terminal_with, command, text};

const CATALOG: &str = r#"{
  "chat": {"tools": [
    {"name": "send-message", "description": "Send a message", "inputSchema": {"type": "object", "properties": {"channel": {"type": "string"}, "text": {"type": "string"}}, "required": ["channel", "text"]}},
    {"name": "list_channels", "description": "List channels", "inputSchema": {"type": "object"}}
  ]}
}"#;

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("catalog.json"), CATALOG).unwrap();
    dir
}

mod checkers;
mod commands;
mod configuration;
mod models;
mod repairs;
