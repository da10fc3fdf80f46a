//! TypeScript 7 on the newcomer's path: when no `tsc` 7 is found, codemode installs the
//! pinned release with npm into its own cache, once, and uses it from then on.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::TscError;

/// The TypeScript release codemode installs (the one its tests run against).
pub const PINNED_TYPESCRIPT: &str = "7.0.2";

/// Turns the install off when set to `0`, `false`, `no` or `off`.
pub const INSTALL_ENV: &str = "CODEMODE_TSC_INSTALL";

/// Where codemode keeps its own TypeScript: `typescript-7.0.2` under `CODEMODE_CACHE_DIR`,
/// else `$XDG_CACHE_HOME/codemode`, else `~/.cache/codemode`. `None` without a home.
pub fn install_dir() -> Option<PathBuf> {
    let base = std::env::var_os("CODEMODE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("codemode")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/codemode")))?;
    Some(base.join(format!("typescript-{PINNED_TYPESCRIPT}")))
}

fn tsc_in(dir: &Path) -> PathBuf {
    dir.join("node_modules/.bin/tsc")
}

/// The compiler an earlier install left in the cache, when there is one.
pub fn installed_tsc() -> Option<PathBuf> {
    install_dir().map(|d| tsc_in(&d)).filter(|p| p.is_file())
}

/// False when [`INSTALL_ENV`] turns the install off.
pub fn install_allowed_by_env() -> bool {
    !std::env::var(INSTALL_ENV)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off"))
        .unwrap_or(false)
}

/// Installs `typescript@7.0.2` into [`install_dir`] with `npm install` and returns its
/// `tsc`. The install goes to a temporary folder next to the cache first and is renamed
/// into place, so a concurrent process sees either nothing or a whole install.
pub fn install_pinned() -> Result<PathBuf, TscError> {
    let dir = install_dir().ok_or_else(|| TscError::Install {
        version: PINNED_TYPESCRIPT,
        dir: PathBuf::from("~/.cache/codemode"),
        message: "no home folder (set CODEMODE_CACHE_DIR)".into(),
    })?;
    let failed = |message: String| TscError::Install {
        version: PINNED_TYPESCRIPT,
        dir: dir.clone(),
        message,
    };
    if tsc_in(&dir).is_file() {
        return Ok(tsc_in(&dir));
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| failed(e.to_string()))?;
    let staging = parent.join(format!(".typescript-{PINNED_TYPESCRIPT}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| failed(e.to_string()))?;
    let output = Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" })
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&staging)
        .arg(format!("typescript@{PINNED_TYPESCRIPT}"))
        .output();
    let result = match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(failed("npm is not installed (install Node.js 20+ with npm)".into()))
        }
        Err(e) => Err(failed(format!("cannot run npm: {e}"))),
        Ok(out) if !out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
            Err(failed(format!("npm install failed ({}): {}", out.status, last.trim())))
        }
        Ok(_) if !tsc_in(&staging).is_file() => Err(failed("npm installed no node_modules/.bin/tsc".into())),
        Ok(_) => match std::fs::rename(&staging, &dir) {
            Ok(()) => Ok(tsc_in(&dir)),
            // Another process finished first: use its install.
            Err(_) if tsc_in(&dir).is_file() => Ok(tsc_in(&dir)),
            Err(e) => Err(failed(format!("cannot move the install into place: {e}"))),
        },
    };
    let _ = std::fs::remove_dir_all(&staging);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pinned release is the one the tests install (tests/npm/package.json).
    #[test]
    fn the_pin_matches_the_tests_package() {
        let manifest =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/npm/package.json")).unwrap();
        assert!(
            manifest.contains(&format!("\"typescript\": \"{PINNED_TYPESCRIPT}\"")),
            "{manifest}"
        );
    }
}
