//! `cargo xtask servers`: installs the MCP servers of the real-server eval
//! (`codemode eval --suite servers`) into a cache outside the clone.
//!
//! Everything is pinned in `xtask/servers/`: the npm servers by `package-lock.json`, the
//! PyPI servers by `requirements.txt` (git, time, fetch) and `requirements-sqlite.txt`
//! (`mcp-server-sqlite`, which needs an older `mcp` than the others and so has a virtual
//! environment of its own). The cache is `$CODEMODE_SERVERS_DIR`, else
//! `~/.cache/codemode/servers`; it is installed again only when a pinned file changed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// The pinned files, in the order they are compared with what the cache was built from.
const PINNED: [&str; 4] = [
    "package.json",
    "package-lock.json",
    "requirements.txt",
    "requirements-sqlite.txt",
];

/// Where the servers are installed.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CODEMODE_SERVERS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/codemode/servers")
}

/// What the cache was installed from: the pinned files' contents, one after another.
fn pins(root: &Path) -> Result<String> {
    let mut text = String::new();
    for file in PINNED {
        let path = root.join("xtask/servers").join(file);
        text.push_str(&std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?);
        text.push('\u{0}');
    }
    Ok(text)
}

/// Installs the servers unless the cache already holds exactly the pinned ones.
pub fn install(root: &Path) -> Result<PathBuf> {
    let dir = dir();
    let pins = pins(root)?;
    let stamp = dir.join(".installed-from");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == pins) {
        return Ok(dir);
    }
    eprintln!(
        "xtask: installing the real-server eval's MCP servers into {}",
        dir.display()
    );
    let _ = std::fs::remove_file(&stamp);
    let npm_dir = dir.join("npm");
    std::fs::create_dir_all(&npm_dir).with_context(|| format!("cannot create {}", npm_dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(root.join("xtask/servers").join(file), npm_dir.join(file))
            .with_context(|| format!("cannot copy {file}"))?;
    }
    crate::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&npm_dir),
    )
    .context("npm is needed for the eval's npm servers: install Node.js 20+ with npm")?;
    for (venv, requirements) in [("py", "requirements.txt"), ("py-sqlite", "requirements-sqlite.txt")] {
        let venv = dir.join(venv);
        if !venv.join("bin/python").is_file() {
            crate::run(Command::new(python()).args(["-m", "venv"]).arg(&venv))
                .context("Python 3.10+ with venv is needed for the eval's PyPI servers")?;
        }
        crate::run(
            Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(root.join("xtask/servers").join(requirements)),
        )?;
    }
    std::fs::write(&stamp, pins).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(dir)
}

/// The Python to make the virtual environments with.
fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}
