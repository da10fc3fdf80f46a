//! TypeScript 7 installed on first use, and the built-in checker without npm.

use super::*;

/// A program only TypeScript 7 rejects: the built-in checker does not type string methods.
const TSC_ONLY_ERROR: &str = "const n = 1;\nconst s = n.toFixed(1);\nreturn s.nope();\n";

fn tsc_on_path() -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("tsc").is_file()))
}

/// On a machine without TypeScript 7, the first check installs the pinned release into
/// codemode's cache with npm (a one-line notice), and later runs use it without a notice.
#[test]
fn typescript_7_is_installed_on_first_use() {
    if tsc_on_path() {
        eprintln!("skipped: a tsc is on PATH, so nothing would be installed");
        return;
    }
    let dir = workspace();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.ts"), TSC_ONLY_ERROR).unwrap();
    let check = || {
        Command::new(env!("CARGO_BIN_EXE_codemode"))
            .args(["--catalog", "catalog.json", "check", "p.ts"])
            .current_dir(dir.path())
            .env_remove("CODEMODE_CONFIG")
            .env_remove("CODEMODE_TSC")
            .env_remove("CODEMODE_TSC_INSTALL")
            .env("CODEMODE_CACHE_DIR", cache.path())
            .output()
            .unwrap()
    };
    let first = check();
    let (stdout, stderr) = (text(&first.stdout), text(&first.stderr));
    assert!(stderr.contains("installing typescript@7.0.2"), "{stderr}");
    assert!(stderr.contains("CODEMODE_TSC_INSTALL=0"), "{stderr}");
    assert!(stderr.contains("(checker: tsc 7."), "{stderr}");
    assert!(stdout.contains("p.ts:3:") && stdout.contains("TS2339"), "{stdout}");
    assert_eq!(first.status.code(), Some(1));
    assert!(cache.path().join("typescript-7.0.2/node_modules/.bin/tsc").is_file());
    let second = check();
    let stderr = text(&second.stderr);
    assert!(!stderr.contains("installing"), "{stderr}");
    assert!(stderr.contains("(checker: tsc 7."), "{stderr}");
}

/// Without npm the install cannot work: the run says loudly that the built-in checker ran
/// and why, and `doctor` says so too; turned off, nothing is installed.
#[test]
fn without_npm_the_builtin_checker_runs_and_says_why() {
    if tsc_on_path() {
        eprintln!("skipped: a tsc is on PATH");
        return;
    }
    let dir = workspace();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.ts"), TSC_ONLY_ERROR).unwrap();
    let run = |args: &[&str], install: &str| {
        Command::new(env!("CARGO_BIN_EXE_codemode"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("CODEMODE_CONFIG")
            .env_remove("CODEMODE_TSC")
            .env("CODEMODE_TSC_INSTALL", install)
            .env("CODEMODE_CACHE_DIR", cache.path())
            .env("PATH", dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["--catalog", "catalog.json", "check", "p.ts"], "1");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("npm is not installed"), "{stderr}");
    assert!(
        stderr.contains("warning: the built-in checker runs, not TypeScript 7"),
        "{stderr}"
    );
    assert!(stderr.contains("(checker: builtin"), "{stderr}");
    // The JSON report says it too, for whoever reads only the report.
    let out = run(&["--json", "--catalog", "catalog.json", "exec", "p.ts"], "1");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let warning = report["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("the built-in checker runs") && warning.contains("npm is not installed"),
        "{report:#}"
    );
    assert_eq!(report["checker"], "builtin (oxc)", "{report:#}");
    let doctor = text(&run(&["doctor"], "1").stdout);
    let line = doctor.lines().find(|l| l.starts_with("checker ")).unwrap_or_default();
    assert!(
        line.contains("WARNING") && line.contains("npm is not installed"),
        "{doctor}"
    );
    let off = run(&["--catalog", "catalog.json", "check", "p.ts"], "0");
    let stderr = text(&off.stderr);
    assert!(
        !stderr.contains("installing") && stderr.contains("TypeScript 7 was not found"),
        "{stderr}"
    );
}
