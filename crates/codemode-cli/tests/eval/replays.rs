//! Recorded real-model evals replayed, and the real-server tasks judged by their fixtures.

use super::*;

/// A real eval, recorded: Qwen2.5-Coder 1.5B (strategy, main) and 0.5B (tiny) on the 18
/// demo tasks with TypeScript 7 (`cargo xtask eval --local --record ...`). Replayed offline,
/// every task ends as it did live. When a change to the pipeline or its prompts makes the
/// models answer differently, this fails: record the eval again and update docs/status.md.
#[test]
fn a_recorded_real_model_eval_replays_to_the_same_results() {
    replays_to_the_same_results("eval-qwen2.5-coder", "demo");
}

/// The recorded real-server runs lay their fixtures at the paths their prompts name
/// (`/tmp/codemode-eval/<task>`), so two of them replay one after the other.
static SERVER_FIXTURES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The real-server suite warm: the same models with the output types learned from the cold
/// run above (`--learned-types-to` on its replay, kept beside the recording as
/// `*.learned-types.json` and given with `--learned-types-from`).
#[test]
fn a_recorded_warm_eval_of_real_servers_replays_to_the_same_results() {
    if servers_installed().is_none() {
        eprintln!("skipped: the real-server suite's servers are not installed (cargo xtask servers)");
        return;
    }
    let _fixtures = SERVER_FIXTURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    replays_to_the_same_results("eval-servers-warm-qwen2.5-coder", "servers");
}

/// The published comparison of the demo suite (docs/status.md): the pipeline's recording
/// above and the direct tool-calling agent's (`--mode direct`), the same models, replayed
/// as `--modes pipeline,direct` to the same verdicts and the same per-mode totals.
#[test]
fn the_recorded_comparison_with_direct_tool_calling_replays_to_the_same_table() {
    replays_to_the_same_results("eval-compare-qwen2.5-coder", "demo");
}

/// The same comparison on the real-server suite: six MCP servers from npm and PyPI on fresh
/// fixtures (installed by `cargo xtask servers`, which `cargo xtask test` runs). It is also
/// the replay of the pipeline's cold recording of that suite (`eval-servers-qwen2.5-coder`).
#[test]
fn the_recorded_comparison_on_real_servers_replays_to_the_same_table() {
    if servers_installed().is_none() {
        eprintln!("skipped: the real-server suite's servers are not installed (cargo xtask servers)");
        return;
    }
    let _fixtures = SERVER_FIXTURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    replays_to_the_same_results("eval-servers-compare-qwen2.5-coder", "servers");
}

/// The servers' cache when `cargo xtask servers` has filled it.
fn servers_installed() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("CODEMODE_SERVERS_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/codemode/servers")))?;
    dir.join(".installed-from").is_file().then_some(dir)
}

fn replays_to_the_same_results(name: &str, suite: &str) {
    let tsc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/npm/node_modules/.bin/tsc");
    if !tsc.is_file() {
        eprintln!("skipped: TypeScript 7 is not installed in tests/npm (cargo xtask npm)");
        return;
    }
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/recordings");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(recorded.join(format!("{name}.json"))).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        format!(
            "[run]\ntype_checker = \"tsc\"\ntsc_path = {:?}\n",
            tsc.display().to_string()
        ),
    )
    .unwrap();
    // A comparison of modes replays the recordings of each, one after the other.
    let recording = match expected["recordings"].as_array() {
        None => recorded.join(format!("{name}.jsonl")),
        Some(files) => {
            let combined = dir.path().join("combined.jsonl");
            let text: String = files
                .iter()
                .map(|f| std::fs::read_to_string(recorded.join(f.as_str().unwrap())).unwrap())
                .collect();
            std::fs::write(&combined, text).unwrap();
            combined
        }
    };
    let mut ids: Vec<&str> = Vec::new();
    for t in expected["tasks"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let ids = ids.join(",");
    let mut args = vec![
        "eval",
        "--suite",
        suite,
        "--tasks",
        &ids,
        "--replay",
        recording.to_str().unwrap(),
        "--output",
        "replayed.json",
    ];
    if let Some(modes) = expected["modes"].as_str() {
        args.extend(["--modes", modes]);
    }
    // A warm recording: the learned output types its run had.
    let learned = recorded.join(format!("{name}.learned-types.json"));
    if learned.is_file() {
        args.extend(["--learned-types-from", learned.to_str().unwrap()]);
    }
    let out = codemode(dir.path(), &args);
    let replayed = results(dir.path(), "replayed.json");
    let summary = |eval: &Value| -> Vec<(String, String, bool, String)> {
        eval["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["mode"].as_str().unwrap_or("pipeline").to_string(),
                    t["id"].as_str().unwrap().to_string(),
                    t["passed"].as_bool().unwrap(),
                    t["result_type"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        summary(&replayed),
        summary(&expected),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // A published comparison: each mode's totals (all but time) come back the same.
    for (i, published) in expected["summaries"].as_array().into_iter().flatten().enumerate() {
        for (key, value) in published.as_object().unwrap() {
            assert_eq!(&replayed["modes"][i][key], value, "{key} of {}", published["mode"]);
        }
    }
}

/// The real-server suite, run as a user would, with a scripted model (a test double): the
/// servers, fixtures and judges are real. One program answers right through the SQLite
/// server (whose Python-repr rows reach the program as JSON); the other writes the wrong
/// text and says `success`, and fails its task.
#[test]
fn real_server_tasks_are_judged_by_their_fixtures() {
    if servers_installed().is_none() {
        eprintln!("skipped: the real-server suite's servers are not installed (cargo xtask servers)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Fixtures of its own: the replay test lays the same tasks' fixtures at the same time.
    let fixtures = dir.path().join("fixtures");
    let script = json!({
        "strategy": ["1. Count the Berlin customers with sqlite.read_query.", "1. Write the file."],
        "tiny": ["[\"sqlite.read_query\"]", "[\"filesystem.write_file\"]"],
        "main": [
            "```typescript\nconst rows = await tools.sqlite.read_query({ query: \"SELECT COUNT(*) AS n FROM customers WHERE city = 'Berlin'\" });\nreturn rows[0].n;\n```",
            format!(
                "```typescript\nawait tools.filesystem.write_file({{ path: {:?}, content: \"Goodbye\" }});\nreturn \"written\";\n```",
                fixtures.join("fs-write/hello.txt").display().to_string()
            ),
        ],
    });
    std::fs::write(dir.path().join("script.json"), script.to_string()).unwrap();
    std::fs::write(
        dir.path().join("codemode.toml"),
        "[llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n[run]\ntype_checker = \"builtin\"\n",
    )
    .unwrap();
    let out = command(dir.path())
        .env("CODEMODE_EVAL_FIXTURES", &fixtures)
        .args([
            "eval",
            "--suite",
            "servers",
            "--tasks",
            "sql-berlin,fs-write",
            "--output",
            "servers.json",
        ])
        .output()
        .unwrap();
    let eval = results(dir.path(), "servers.json");
    assert_eq!(out.status.code(), Some(1), "{eval:#}\n{}", text(&out.stderr));
    let [berlin, write] = [&eval["tasks"][0], &eval["tasks"][1]];
    assert_eq!(berlin["suite"], "servers");
    assert_eq!(berlin["passed"], true, "{berlin:#}");
    assert_eq!(berlin["output"], 2, "{berlin:#}");
    assert_eq!(write["result_type"], "success", "{write:#}");
    assert_eq!(write["passed"], false, "{write:#}");
    assert!(
        write["why"].as_str().unwrap().contains("hello.txt reads \"Goodbye\""),
        "{write:#}"
    );
    assert_eq!(eval["false_successes"], 1);
    assert!(
        text(&out.stdout).contains("1 of 2 servers tasks passed"),
        "{}",
        text(&out.stdout)
    );
}
