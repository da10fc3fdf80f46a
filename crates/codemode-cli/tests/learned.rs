//! Learned output types through the `codemode` binary, as a user meets them: the real
//! `server-everything` over stdio, the real TypeScript 7 compiler, a store file of the test's own.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

mod common;
use common::{command, text};

/// A folder with `codemode.toml` (server-everything, TypeScript 7 from tests/npm, the learned
/// types in `learned-types.json` there); and that file's path.
fn everything_workspace() -> (tempfile::TempDir, PathBuf) {
    let npm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/npm/node_modules/.bin");
    let (everything, tsc) = (npm.join("mcp-server-everything"), npm.join("tsc"));
    assert!(
        everything.is_file() && tsc.is_file(),
        "run `npm ci --prefix tests/npm` first (.ci/run does)"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[run]\ntype_checker = \"tsc\"\ntsc_path = {:?}\nlearned_types_file = \"learned-types.json\"\n\n[mcp_servers.everything]\ncommand = {:?}\nargs = [\"stdio\"]\n",
            tsc.display().to_string(),
            everything.display().to_string()
        ),
    )
    .unwrap();
    let store = dir.path().join("learned-types.json");
    (dir, store)
}

/// The binary in `dir` with learned types on (the shared test helper turns them off).
fn codemode(dir: &Path, args: &[&str]) -> Output {
    command(dir)
        .env_remove("CODEMODE_LEARNED_TYPES")
        .args(args)
        .output()
        .expect("the codemode binary runs")
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)))
}

/// `get_sum` answers with text ("The sum of 2 and 3 is 5."). The first run reads a property
/// of it and "succeeds" with nothing, unnoticed; once the text result is learned, TypeScript
/// finds the mistake before the program runs.
#[test]
fn a_text_result_read_as_an_object_is_found_at_check_time_once_learned() {
    let (dir, store) = everything_workspace();
    std::fs::write(
        dir.path().join("guess.ts"),
        "const r = await tools.everything.get_sum({ a: 2, b: 3 });\nreturn r.sum;\n",
    )
    .unwrap();
    let cold = codemode(dir.path(), &["--json", "exec", "guess.ts"]);
    let cold = report(&cold);
    assert_eq!(cold["result_type"], "success", "{cold}");
    assert_eq!(cold["output"], Value::Null);
    assert!(store.is_file(), "the call's shape was kept");
    let kept = std::fs::read_to_string(&store).unwrap();
    assert!(!kept.contains("The sum of"), "shapes, never values: {kept}");

    // `codemode check` reports the learned type's finding as an error.
    let check = codemode(dir.path(), &["check", "guess.ts"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check.stdout).contains("TS2339 Property 'sum' does not exist on type 'string'."),
        "{}",
        text(&check.stdout)
    );
    // `exec` runs it (a learned type is not a contract), saying what the check found.
    let warm = codemode(dir.path(), &["--json", "exec", "guess.ts"]);
    let warm = report(&warm);
    assert_eq!(warm["result_type"], "success", "{warm}");
    let first = &warm["diagnostics"][0];
    assert_eq!(first["code"], "TS2339", "{warm}");
    assert_eq!(first["severity"], "warning", "{warm}");
    let message = first["message"].as_str().unwrap();
    assert!(
        message.contains("Property 'sum' does not exist on type 'string'") && message.contains("learned output type"),
        "{warm}"
    );

    let types = codemode(dir.path(), &["types", "--tools", "everything.get_sum"]);
    assert!(
        text(&types.stdout).contains("/** Learned from 2 results of this tool (it declares no output schema); a result that differs widens it. */\ntype EverythingGetSumOutput = string;"),
        "{}",
        text(&types.stdout)
    );
}

#[test]
fn tools_shapes_shows_what_was_learned_and_clear_forgets_it() {
    let (dir, store) = everything_workspace();
    let out = codemode(dir.path(), &["tools", "shapes"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("no learned output types yet"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(
        dir.path().join("p.ts"),
        "return await Promise.all([tools.everything.get_sum({ a: 1, b: 2 }), tools.everything.echo({ message: 'x' })]);\n",
    )
    .unwrap();
    assert_eq!(codemode(dir.path(), &["exec", "p.ts"]).status.code(), Some(0));
    let out = codemode(dir.path(), &["tools", "shapes"]);
    let listing = text(&out.stdout);
    assert!(listing.contains("everything.get-sum"), "{listing}");
    assert!(listing.contains("everything.echo"), "{listing}");
    assert!(
        listing
            .lines()
            .any(|l| l.contains("get-sum") && l.trim_end().ends_with("1  string")),
        "{listing}"
    );
    let json: Value = serde_json::from_slice(&codemode(dir.path(), &["--json", "tools", "shapes"]).stdout).unwrap();
    assert_eq!(json["tools"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(
        json["tools"][0]["schema"],
        serde_json::json!({"type": "string"}),
        "{json}"
    );

    let doctor = text(&codemode(dir.path(), &["doctor"]).stdout);
    assert!(
        doctor
            .lines()
            .any(|l| l.starts_with("learned types ") && l.contains("  on: 2 tools in ")),
        "{doctor}"
    );
    let out = codemode(dir.path(), &["tools", "shapes", "--clear"]);
    assert!(
        text(&out.stdout).contains("forgot 2 learned output types"),
        "{}",
        text(&out.stdout)
    );
    assert!(!store.exists());

    // Off by configuration: nothing is kept.
    let config = std::fs::read_to_string(dir.path().join("codemode.toml")).unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        config.replace("[run]\n", "[run]\nlearned_types = false\n"),
    )
    .unwrap();
    assert_eq!(codemode(dir.path(), &["exec", "p.ts"]).status.code(), Some(0));
    assert!(!store.exists());
    assert!(text(&codemode(dir.path(), &["tools", "shapes"]).stderr).contains("learned output types are off"));
}

#[test]
fn a_store_that_cannot_be_read_is_reported_and_left_alone() {
    let (dir, store) = everything_workspace();
    std::fs::write(&store, "not json").unwrap();
    std::fs::write(
        dir.path().join("p.ts"),
        "return await tools.everything.echo({ message: 'x' });\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["exec", "p.ts"]);
    assert_eq!(out.status.code(), Some(0), "the run goes on: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("learned output types are off for this run")
            && text(&out.stderr).contains("learned-types.json"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "not json");
    let out = codemode(dir.path(), &["tools", "shapes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&codemode(dir.path(), &["tools", "shapes", "--clear"]).stdout).contains("removed"));
    assert!(!store.exists());
}

/// `tools learn` calls only the tools annotated read-only that need no arguments, once each;
/// one that runs past `--tool-timeout` is reported, not learned.
#[test]
fn tools_learn_calls_the_read_only_tools_that_need_no_arguments() {
    let (dir, store) = everything_workspace();
    let out = codemode(dir.path(), &["--tool-timeout", "3", "--json", "tools", "learn"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let learned: Value = report(&out);
    let called: Vec<(&str, &str)> = learned["called"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["path"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert!(called.contains(&("everything.get_tiny_image", "learned")), "{called:?}");
    assert!(
        called.contains(&("everything.trigger_long_running_operation", "failed")),
        "past --tool-timeout: {called:?}"
    );
    for (path, _) in &called {
        assert!(
            !path.contains("get_sum") && !path.contains("echo"),
            "needs arguments or not read-only: {path}"
        );
    }
    assert!(
        learned["needing_arguments"].as_array().is_some_and(|n| !n.is_empty()),
        "{learned}"
    );
    let types = codemode(dir.path(), &["types", "--tools", "everything.get_tiny_image"]);
    assert!(
        text(&types.stdout).contains("Learned from 1 result"),
        "{}",
        text(&types.stdout)
    );
    assert!(store.is_file());
}

/// Without `[run] learned_types` or a file, nothing is learned or kept; `on` in the
/// environment keeps them in the cache directory.
#[test]
fn learned_types_are_off_by_default() {
    let (dir, _) = everything_workspace();
    let config = std::fs::read_to_string(dir.path().join("codemode.toml")).unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        config.replace("learned_types_file = \"learned-types.json\"\n", ""),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.ts"),
        "return await tools.everything.echo({ message: 'x' });\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let run = |learned: Option<&str>| {
        let mut command = command(dir.path());
        command
            .env_remove("CODEMODE_LEARNED_TYPES")
            .env("CODEMODE_CACHE_DIR", cache.path());
        if let Some(value) = learned {
            command.env("CODEMODE_LEARNED_TYPES", value);
        }
        command.args(["exec", "p.ts"]).output().unwrap()
    };
    assert_eq!(run(None).status.code(), Some(0));
    assert!(!cache.path().join("learned-types.json").exists());
    let doctor = codemode(dir.path(), &["doctor"]);
    assert!(
        text(&doctor.stdout)
            .lines()
            .any(|l| l.starts_with("learned types ") && l.ends_with("  off ([run] learned_types = true turns them on)")),
        "{}",
        text(&doctor.stdout)
    );
    assert_eq!(run(Some("on")).status.code(), Some(0));
    assert!(cache.path().join("learned-types.json").is_file());
}
