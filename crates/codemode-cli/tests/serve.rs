//! `codemode serve` as an agent meets it: the binary started by an MCP client over stdio,
//! or listening on loopback HTTP, with the demo server behind it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use codemode::ToolProvider;
use codemode::mcp::{McpServerConfig, McpToolProvider};
use serde_json::json;

mod common;
use common::{codemode, command, text};

/// A folder whose `codemode.toml` puts the demo server behind code mode, with the built-in
/// checker (no TypeScript install) and no models.
fn demo_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_codemode");
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!("[run]\ntype_checker = \"builtin\"\n\n[mcp_servers.workspace]\ncommand = {exe:?}\nargs = [\"demo-server\"]\n"),
    )
    .unwrap();
    dir
}

async fn search_describe_execute(agent: &McpToolProvider) {
    let names: Vec<String> = agent.list_tools().await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["search_tools", "describe_tools", "execute_code"]);
    let found = agent
        .call_tool("search_tools", json!({"query": "open a new issue", "limit": 2}))
        .await
        .unwrap();
    assert!(
        found.as_str().unwrap().contains("tools.workspace.create_issue("),
        "{found}"
    );
    let declared = agent
        .call_tool("describe_tools", json!({"paths": ["workspace.create_issue"]}))
        .await
        .unwrap();
    assert!(declared.as_str().unwrap().contains("create_issue(input:"), "{declared}");
    let program = "const issue = await tools.workspace.create_issue({ title: \"From serve\", body: \"b\" });\nreturn issue.title;";
    let ran = agent.call_tool("execute_code", json!({"code": program})).await.unwrap();
    assert_eq!(ran["result_type"], "success", "{ran}");
    assert_eq!(ran["value"], "From serve");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_client_starts_serve_over_stdio_and_runs_a_program() {
    let dir = demo_config();
    let config = McpServerConfig {
        command: Some(env!("CARGO_BIN_EXE_codemode").into()),
        args: vec![
            "serve".into(),
            "--config".into(),
            dir.path().join("codemode.toml").display().to_string(),
        ],
        env: [("CODEMODE_TSC_INSTALL".to_string(), "0".to_string())].into(),
        ..McpServerConfig::default()
    };
    let agent = McpToolProvider::connect("codemode", &config).await.unwrap();
    search_describe_execute(&agent).await;
}

/// A `codemode serve` process, killed and reaped when dropped (also when a test panics).
struct ServeProcess(std::process::Child);

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `codemode serve --http 127.0.0.1:0` in `dir` and reads its URL from the banner.
fn serve_http(dir: &Path) -> (ServeProcess, String) {
    let child = command(dir)
        .args(["serve", "--http", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = ServeProcess(child);
    let stderr = BufReader::new(child.0.stderr.take().unwrap());
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(at) = line.find("http://") {
            let url = line[at..].split_whitespace().next().unwrap().trim_end_matches(';');
            return (child, url.to_string());
        }
    }
    panic!("serve printed no URL");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_over_http_answers_on_loopback() {
    let dir = demo_config();
    let (_serve, url) = serve_http(dir.path());
    let agent = McpToolProvider::connect(
        "codemode",
        &McpServerConfig {
            url: Some(url),
            ..McpServerConfig::default()
        },
    )
    .await
    .unwrap();
    search_describe_execute(&agent).await;
}

#[test]
fn serving_beyond_loopback_without_a_token_is_a_usage_error() {
    let dir = demo_config();
    let out = codemode(dir.path(), &["serve", "--http", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--token-env"), "{}", text(&out.stderr));
    let out = codemode(
        dir.path(),
        &["serve", "--http", "127.0.0.1:0", "--token-env", "CODEMODE_NO_SUCH_VAR"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("CODEMODE_NO_SUCH_VAR"),
        "{}",
        text(&out.stderr)
    );
}

/// The Claude Desktop and Cursor snippets of docs/serve.md, as written, with the `codemode`
/// command and the config path pointed at this build and a demo configuration.
#[tokio::test(flavor = "multi_thread")]
async fn the_client_snippets_in_the_docs_start_serve() {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/serve.md")).unwrap();
    let snippets: Vec<&str> = docs
        .split("```json\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(json, _)| json))
        .filter(|json| json.contains("\"mcpServers\""))
        .collect();
    assert_eq!(snippets.len(), 2, "docs/serve.md: the Claude Desktop and Cursor blocks");
    let dir = demo_config();
    for snippet in snippets {
        let mut file: serde_json::Value = serde_json::from_str(snippet).unwrap();
        let entry = &mut file["mcpServers"]["codemode"];
        assert_eq!(entry["command"], "codemode", "{entry}");
        entry["command"] = json!(env!("CARGO_BIN_EXE_codemode"));
        let args = entry["args"].as_array_mut().unwrap();
        let at = args.iter().position(|a| a == "/path/to/codemode.toml").unwrap();
        args[at] = json!(dir.path().join("codemode.toml"));
        entry["env"] = json!({"CODEMODE_TSC_INSTALL": "0"});
        let config: McpServerConfig = serde_json::from_value(entry.clone()).unwrap();
        let agent = McpToolProvider::connect("codemode", &config).await.unwrap();
        search_describe_execute(&agent).await;
    }
}
