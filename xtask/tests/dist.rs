//! `cargo xtask dist` end to end: a custom binary with two features of the CLI and the
//! third-party plugin crate in `examples/third-party-plugin`, built for real (a debug build,
//! to share the test build's cache), whose `doctor` lists exactly what it links and which
//! runs a program through the plugin's model and tools.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn line<'a>(doctor: &'a str, key: &str) -> &'a str {
    doctor
        .lines()
        .find_map(|l| l.strip_prefix(key).filter(|rest| rest.starts_with(' ')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no `{key}` line in:\n{doctor}"))
}

/// The workspace's own `codemode` binary: its size and modification time, when it exists.
fn workspace_binary() -> Option<(u64, std::time::SystemTime)> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let meta = std::fs::metadata(target.join("debug/codemode")).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

#[test]
fn a_custom_binary_links_only_its_features_and_the_third_party_plugins() {
    let out = tempfile::tempdir().unwrap();
    let before = workspace_binary();
    let built = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "dist",
            "--debug",
            "--features",
            "env-process,mcp,openai",
            "--plugin-path",
        ])
        .arg(root().join("examples/third-party-plugin"))
        .arg("--out")
        .arg(out.path())
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "xtask dist failed:\n{stderr}");
    let binary = PathBuf::from(String::from_utf8_lossy(&built.stdout).trim());
    assert_eq!(binary, out.path().join("codemode"));
    // The build shares the workspace's cache but not its binary: after `cargo xtask test`
    // the `codemode` a user runs is still the workspace's, with every feature.
    assert_eq!(
        workspace_binary(),
        before,
        "xtask dist replaced the workspace's target/debug/codemode"
    );

    // The plugin's `command` model is a script here: a test double that answers each step
    // of the pipeline with a fixed text (the plugin, the binary and the run are real).
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("model.sh"),
        r#"#!/bin/sh
request=$(cat)
case "$request" in
  *'"step":"plan"'*) echo '1. convert 5 km to miles with units.convert; 2. return the value' ;;
  *'"step":"filter"'*) echo '["units.convert"]' ;;
  *) printf '```typescript\nconst r = await tools.units.convert({ value: 5, from: "km", to: "mi" });\nreturn Math.round(r.value * 1000) / 1000;\n```\n' ;;
esac
"#,
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(work.path().join("model.sh"))
        .status()
        .unwrap();
    std::fs::write(
        work.path().join("codemode.toml"),
        "[llm.main]\nprovider = \"command\"\ncommand = [\"./model.sh\"]\n\
         [tool_providers.units]\nprovider = \"units\"\n[run]\ntype_checker = \"builtin\"\n",
    )
    .unwrap();
    let codemode = |args: &[&str]| {
        let output = Command::new(&binary)
            .args(args)
            .current_dir(work.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "codemode {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    };

    let doctor = codemode(&["doctor"]);
    assert_eq!(line(&doctor, "llm providers"), "command, openai, replay", "{doctor}");
    assert_eq!(line(&doctor, "tool providers"), "mcp, units", "{doctor}");
    // `env-process` without `env-local`: the subprocess environments, no wasm sandbox.
    let environments = line(&doctor, "environments");
    assert!(
        environments.contains("node") && environments.contains("deno"),
        "{doctor}"
    );
    assert!(!environments.contains("wasm"), "{doctor}");
    assert!(line(&doctor, "environment").starts_with("node"), "{doctor}");
    for absent in ["scripted", "openrouter", "composio", "pipedream", "e2b", "plugin "] {
        assert!(
            !doctor.contains(absent),
            "`{absent}` is not linked but doctor says:\n{doctor}"
        );
    }
    let help = codemode(&["--help"]);
    for command in ["demo", "eval", "serve"] {
        let listed = help.lines().any(|l| l.trim_start().starts_with(&format!("{command} ")));
        assert!(!listed, "`{command}` is not linked but listed:\n{help}");
    }
    assert!(help.lines().any(|l| l.trim_start().starts_with("run ")), "{help}");

    let report: serde_json::Value =
        serde_json::from_str(&codemode(&["--json", "run", "How many miles are 5 km?"])).unwrap();
    assert_eq!(report["result_type"], "success", "{report:#}");
    assert_eq!(report["output"], 3.107, "{report:#}");
    let calls = report["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{report:#}");
    assert_eq!(calls[0]["path"], "units.convert", "{report:#}");
}

/// What a plugin crate compiles of codemode: `codemode-traits` and its dependencies, which
/// must stay light. Its normal dependency tree (resolved from the workspace's lock file) has
/// none of the engine's heavy crates, and its direct dependencies are the few it declares.
#[test]
fn the_traits_a_plugin_depends_on_pull_in_no_engine() {
    let tree = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "tree",
            "--offline",
            "-p",
            "codemode-traits",
            "-e",
            "normal",
            "--prefix",
            "depth",
            "--format",
            "{p}",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&tree.stdout);
    assert!(
        tree.status.success(),
        "cargo tree failed:\n{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    let crates: Vec<(usize, &str)> = stdout
        .lines()
        .filter_map(|l| {
            let depth_end = l.find(|c: char| !c.is_ascii_digit())?;
            let depth = l[..depth_end].parse().ok()?;
            Some((depth, l[depth_end..].split_whitespace().next()?))
        })
        .collect();
    assert_eq!(crates.first().map(|c| c.1), Some("codemode-traits"), "{stdout}");
    for heavy in [
        "oxc",
        "jsonschema",
        "tiktoken-rs",
        "wasmtime",
        "rquickjs",
        "codemode-typescript",
        "codemode-core",
        "tokio",
        "reqwest",
        "rmcp",
    ] {
        let found: Vec<&str> = crates
            .iter()
            .map(|c| c.1)
            .filter(|n| *n == heavy || n.starts_with(&format!("{heavy}_")))
            .collect();
        assert!(found.is_empty(), "codemode-traits pulls in {found:?}:\n{stdout}");
    }
    let direct: Vec<&str> = crates.iter().filter(|c| c.0 == 1).map(|c| c.1).collect();
    let light = [
        "async-trait",
        "inventory",
        "serde",
        "serde_json",
        "thiserror",
        "tracing",
    ];
    for name in &direct {
        assert!(
            light.contains(name),
            "codemode-traits depends on `{name}`, not one of {light:?}"
        );
    }
    assert_eq!(direct.len(), light.len(), "{direct:?}");
}
