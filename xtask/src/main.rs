//! Project automation: `cargo xtask <task>`.
//!
//! - `cargo xtask test [ARGS]`: installs the npm packages the tests run against (when
//!   missing or stale), then runs `cargo test --workspace [ARGS]`.
//! - `cargo xtask npm`: only the npm packages.
//! - `cargo xtask bench`: the benchmarks (release build), as a table of medians and ratios.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// `npm ci` in tests/npm when node_modules is missing or older than the lock file.
fn npm() -> Result<()> {
    let dir = root().join("tests/npm");
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&installed)) {
        (Ok(l), Ok(i)) => i.modified()? >= l.modified()?,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    eprintln!("xtask: installing the npm packages the tests run against (tests/npm)");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir))
    .context("npm is needed for the tests: install Node.js 20+ with npm")
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("test") => {
            npm()?;
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            run(Command::new(cargo)
                .args(["test", "--workspace"])
                .args(args)
                .current_dir(root()))
        }
        Some("npm") => npm(),
        Some("bench") => {
            npm()?;
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            run(Command::new(cargo)
                .args(["run", "--release", "--quiet", "-p", "codemode-bench", "--"])
                .args(args)
                .current_dir(root()))
        }
        Some("help") | None => {
            println!(
                "cargo xtask <task>\n\ntasks:\n  test [ARGS]  npm packages for the tests, then cargo test --workspace [ARGS]\n  npm          only the npm packages\n  bench        the benchmarks (release), a table of medians and ratios\n  help         this list"
            );
            Ok(())
        }
        Some(other) => bail!("unknown task `{other}`; `cargo xtask help` lists the tasks"),
    }
}
