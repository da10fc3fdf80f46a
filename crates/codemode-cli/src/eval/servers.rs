//! The real-server suite of `codemode eval` (`--suite servers`): MCP servers nobody here
//! wrote, from the npm registry and PyPI, each task on fixtures laid fresh for it and judged
//! by the state the run leaves behind (files, commits, rows, the knowledge graph) or by the
//! value the program returns.
//!
//! The servers are installed by `cargo xtask servers` (pinned in `xtask/servers/`) into
//! `$CODEMODE_SERVERS_DIR`, else `~/.cache/codemode/servers`. Every task is offered all six
//! servers, as a user who configured them would have them: `filesystem` and `memory` (npm),
//! `git`, `sqlite`, `time` and `fetch` (PyPI). Pages for `fetch` are served on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use codemode::mcp::{McpServerConfig, McpToolProvider};
use serde_json::Value;

use super::fixture_data::PAGES;

/// The servers' cache, as `cargo xtask servers` lays it out.
#[derive(Debug, Clone)]
pub struct Installed {
    dir: PathBuf,
}

impl Installed {
    /// The cache at `dir`, else `$CODEMODE_SERVERS_DIR`, else `~/.cache/codemode/servers`;
    /// an error says how to install it when a server is missing.
    pub fn find(dir: Option<&Path>) -> Result<Self> {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => default_dir(),
        };
        let installed = Self { dir };
        for server in installed.binaries() {
            if !server.is_file() {
                bail!(
                    "the real-server suite's MCP servers are not installed in {} ({} is missing): run `cargo xtask servers`",
                    installed.dir.display(),
                    server.display()
                );
            }
        }
        Ok(installed)
    }

    fn npm(&self, name: &str) -> PathBuf {
        self.dir.join("npm/node_modules/.bin").join(name)
    }

    fn pypi(&self, name: &str) -> PathBuf {
        self.dir.join("py/bin").join(name)
    }

    fn sqlite(&self) -> PathBuf {
        self.dir.join("py-sqlite/bin/mcp-server-sqlite")
    }

    /// The Python that has `sqlite3`, for laying and reading the database.
    fn python(&self) -> PathBuf {
        self.dir.join("py-sqlite/bin/python")
    }

    fn binaries(&self) -> Vec<PathBuf> {
        vec![
            self.npm("mcp-server-filesystem"),
            self.npm("mcp-server-memory"),
            self.pypi("mcp-server-git"),
            self.pypi("mcp-server-time"),
            self.pypi("mcp-server-fetch"),
            self.sqlite(),
            self.python(),
        ]
    }

    /// The six servers over `fixture`, as a user's configuration would name them.
    fn configs(&self, fixture: &Fixture) -> Vec<(&'static str, McpServerConfig)> {
        let stdio = |command: PathBuf, args: Vec<String>| McpServerConfig {
            command: Some(command.display().to_string()),
            args,
            cwd: Some(fixture.dir.clone()),
            ..McpServerConfig::default()
        };
        let dir = fixture.dir.display().to_string();
        let mut memory = stdio(self.npm("mcp-server-memory"), Vec::new());
        memory.env.insert(
            "MEMORY_FILE_PATH".into(),
            fixture.path("memory.jsonl").display().to_string(),
        );
        vec![
            ("filesystem", stdio(self.npm("mcp-server-filesystem"), vec![dir])),
            ("memory", memory),
            (
                "git",
                stdio(
                    self.pypi("mcp-server-git"),
                    vec!["--repository".into(), fixture.path("repo").display().to_string()],
                ),
            ),
            (
                "sqlite",
                stdio(
                    self.sqlite(),
                    vec!["--db-path".into(), fixture.path("shop.db").display().to_string()],
                ),
            ),
            (
                "time",
                stdio(
                    self.pypi("mcp-server-time"),
                    vec!["--local-timezone".into(), "UTC".into()],
                ),
            ),
            (
                "fetch",
                stdio(self.pypi("mcp-server-fetch"), vec!["--ignore-robots-txt".into()]),
            ),
        ]
    }

    /// Starts the six servers over `fixture`, concurrently.
    pub async fn start(&self, fixture: &Fixture) -> Result<Vec<(&'static str, Arc<McpToolProvider>)>> {
        let starts = self.configs(fixture).into_iter().map(|(name, config)| async move {
            McpToolProvider::connect(name, &config)
                .await
                .map(|provider| (name, Arc::new(provider)))
                .with_context(|| format!("the {name} server"))
        });
        futures::future::try_join_all(starts).await
    }
}

fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CODEMODE_SERVERS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/codemode/servers")
}

/// One task's world: a folder with files, a git repository, an SQLite database and a
/// knowledge graph, and the pages at `url`. Paths in a task's request are written
/// `{dir}` and `{url}`.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The folder, `<temp>/codemode-eval/<task id>` (the same on every run, so that a
    /// recorded eval's prompts match when it is replayed; `$CODEMODE_EVAL_FIXTURES` instead
    /// of `<temp>/codemode-eval` keeps two evals on one machine apart).
    pub dir: PathBuf,
    /// Where the pages are served, `http://127.0.0.1:PORT`.
    pub url: String,
    python: PathBuf,
}

impl Fixture {
    /// Lays the fixture for task `id` afresh.
    pub fn lay(installed: &Installed, id: &str, url: &str) -> Result<Self> {
        let root = std::env::var_os("CODEMODE_EVAL_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("codemode-eval"));
        let dir = root.join(id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let fixture = Self {
            dir,
            url: url.to_string(),
            python: installed.python(),
        };
        for (path, text) in super::fixture_data::FILES {
            let path = fixture.path(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
        std::fs::write(fixture.path("memory.jsonl"), super::fixture_data::MEMORY)?;
        fixture.lay_repo()?;
        fixture.python_sqlite(super::fixture_data::DATABASE, &[])?;
        Ok(fixture)
    }

    /// `rel` inside the fixture.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// A request with `{dir}` and `{url}` filled in.
    pub fn request(&self, template: &str) -> String {
        template
            .replace("{dir}", &self.dir.display().to_string())
            .replace("{url}", &self.url)
    }

    /// The repository: three commits with fixed authors and dates (the same hashes on
    /// every run), then a changed and an untracked file.
    fn lay_repo(&self) -> Result<()> {
        let repo = self.path("repo");
        std::fs::create_dir_all(&repo)?;
        self.git(&["init", "-q", "-b", "main"])?;
        self.git(&["config", "user.name", "Eval User"])?;
        self.git(&["config", "user.email", "eval@example.com"])?;
        for (i, (author, file, text, message)) in super::fixture_data::COMMITS.iter().enumerate() {
            std::fs::write(repo.join(file), text)?;
            self.git(&["add", file])?;
            let date = format!("2026-11-0{} 10:00:00 +0000", i + 1);
            let output = Command::new("git")
                .current_dir(&repo)
                .args(["commit", "-q", "-m", message, "--author", author])
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .env("GIT_COMMITTER_NAME", "Eval User")
                .env("GIT_COMMITTER_EMAIL", "eval@example.com")
                .output()
                .context("git is needed for the real-server suite")?;
            if !output.status.success() {
                bail!("git commit: {}", String::from_utf8_lossy(&output.stderr));
            }
        }
        for (file, text) in super::fixture_data::UNCOMMITTED {
            std::fs::write(repo.join(file), text)?;
        }
        Ok(())
    }

    /// Runs git in the repository; its stdout.
    pub fn git(&self, args: &[&str]) -> Result<String> {
        let output = Command::new("git")
            .current_dir(self.path("repo"))
            .args(args)
            .output()
            .context("git is needed for the real-server suite")?;
        if !output.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The rows of an SQL query on the database, as JSON arrays.
    pub fn sql(&self, query: &str) -> Result<Vec<Vec<Value>>> {
        let out = self.python_sqlite(
            "import json, sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nprint(json.dumps(c.execute(sys.argv[2]).fetchall()))",
            &[query],
        )?;
        serde_json::from_str(out.trim()).context("the rows of an SQL query")
    }

    fn python_sqlite(&self, script: &str, args: &[&str]) -> Result<String> {
        let output = Command::new(&self.python)
            .arg("-c")
            .arg(script)
            .arg(self.path("shop.db"))
            .args(args)
            .output()
            .with_context(|| format!("cannot run {}", self.python.display()))?;
        if !output.status.success() {
            bail!("sqlite: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A file's text, or an error naming it.
    pub fn read(&self, rel: &str) -> Result<String, String> {
        std::fs::read_to_string(self.path(rel)).map_err(|e| format!("{rel}: {e}"))
    }
}

/// Serves [`PAGES`] on 127.0.0.1 for the eval's lifetime: on port 18093 when it is free (so
/// that a recording's prompts match), else on any free port. Returns the base URL.
pub fn serve_pages() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:18093")
        .or_else(|_| TcpListener::bind("127.0.0.1:0"))
        .context("cannot serve the fetch suite's pages on 127.0.0.1")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream);
        }
    });
    Ok(url)
}

/// One HTTP/1.1 request: the page at its path, else 404.
fn answer(mut stream: std::net::TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&chunk[..n]);
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match PAGES.iter().find(|(p, _)| *p == path) {
        Some((_, body)) => ("200 OK", *body),
        None => ("404 Not Found", "<html><body><h1>Not found</h1></body></html>"),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
