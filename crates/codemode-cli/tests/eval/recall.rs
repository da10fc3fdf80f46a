//! Usage errors, and the recall of the filter, the programs and a direct agent.

use super::*;

#[test]
fn eval_without_models_or_with_an_unknown_task_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = codemode(dir.path(), &["eval", "--tasks", "post-general"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("codemode eval needs models"),
        "{}",
        text(&out.stderr)
    );
    scripted(dir.path());
    let out = codemode(dir.path(), &["eval", "--tasks", "no-such-task"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("post-general"), "{}", text(&out.stderr));
}

/// The filter's recall over the real LiveMCPBench catalog (527 tools), with scripted models
/// (test doubles): the plan names no tool, the strategy model's search keywords say
/// "museum", and the tiny model keeps nothing, so what is kept is the search's trusted best.
/// The first task's gold tools (the Met Museum's object search and lookup) share no word
/// with "find the painting ...": without the keywords the search does not find them.
#[test]
fn recall_counts_the_gold_tools_the_filter_kept() {
    let Some(data) = livemcpbench() else {
        eprintln!("skipped: the LiveMCPBench data is not here (set CODEMODE_SHARED_DIR)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = json!({
        "strategy": ["1. Find the painting.\n2. Return what it says.", "museum art collection object"],
        "tiny": ["[]"],
    });
    with_scripted_models(dir.path(), &script);
    let recall = |keywords: &str| {
        let out = codemode(
            dir.path(),
            &[
                "eval",
                "--tasks",
                "none",
                "--recall",
                "1",
                // The tiny model's answer alone beside the search's trusted best.
                "--retrieval-keep",
                "0",
                "--search-keywords",
                keywords,
                "--livemcpbench",
                data.to_str().unwrap(),
                "--output",
                "recall.json",
            ],
        );
        assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
        (
            results(dir.path(), "recall.json")["recall"][0].clone(),
            text(&out.stdout),
        )
    };

    let (r, stdout) = recall("true");
    assert_eq!(r["catalog"], 527, "{r:#}");
    assert_eq!(
        r["gold"],
        json!(["search-museum-objects", "get-museum-object"]),
        "{r:#}"
    );
    assert_eq!(r["keywords"], "museum art collection object", "{r:#}");
    assert_eq!(r["found"], r["gold"], "{r:#}");
    assert_eq!(r["recall"], 1.0, "{r:#}");
    // 50 candidates: the best 30 kept, the last 20 in one batch the tiny model emptied.
    assert_eq!(r["selected"], 30, "{r:#}");
    assert_eq!(r["model_calls"], 3, "a plan, the keywords and one filter batch: {r:#}");
    assert_eq!(r["tiny_calls"], 1, "{r:#}");
    assert!(stdout.contains("mean recall 1.00 over 1 tasks"), "{stdout}");

    let (r, _) = recall("false");
    assert!(r.get("keywords").is_none(), "{r:#}");
    assert_eq!(r["found"], json!([]), "no word of the request finds the museum: {r:#}");
    assert_eq!(r["model_calls"], 2, "{r:#}");
}

/// Writes `script` (answers per role) and a `codemode.toml` whose models answer from it
/// (the scripted test double), with the checker the machine has.
fn with_scripted_models(dir: &Path, script: &Value) {
    std::fs::write(dir.join("script.json"), script.to_string()).unwrap();
    std::fs::write(
        dir.join("codemode.toml"),
        "[llm.main]\nprovider = \"scripted\"\nscript = \"script.json\"\n",
    )
    .unwrap();
}

/// `--recall N --recall-programs`: the whole pipeline runs for each task; a program that
/// calls a gold tool the filter left out gets it declared by the check's second chance, and
/// the eval counts it (the static catalog's tools are checked, never called).
#[test]
fn recall_programs_count_the_tools_the_check_declared() {
    let Some(data) = livemcpbench() else {
        eprintln!("skipped: the LiveMCPBench data is not here (set CODEMODE_SHARED_DIR)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let program =
        "const ids = await tools.met_museum.search_museum_objects({ q: \"Corridor in the Asylum\" });\nreturn ids;";
    let script = json!({
        "strategy": ["1. Find the painting.\n2. Return what it says."],
        "tiny": ["[]"],
        "main": [format!("```typescript\n{program}\n```")],
    });
    with_scripted_models(dir.path(), &script);
    let out = codemode(
        dir.path(),
        &[
            "eval",
            "--tasks",
            "none",
            "--recall",
            "1",
            "--recall-programs",
            "--retrieval-keep",
            "0",
            "--search-keywords",
            "false",
            "--livemcpbench",
            data.to_str().unwrap(),
            "--output",
            "recall.json",
        ],
    );
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let r = results(dir.path(), "recall.json")["recall"][0].clone();
    // The filter found neither museum tool; the program called one, which the check declared.
    assert_eq!(r["found"], json!([]), "{r:#}");
    let program = &r["program"];
    assert_eq!(program["declared_by_check"], json!(["search-museum-objects"]), "{r:#}");
    assert_eq!(program["found_after_check"], json!(["search-museum-objects"]), "{r:#}");
    assert_eq!(program["recall_after_check"], 0.5, "{r:#}");
    assert_eq!(program["called_gold"], json!(["search-museum-objects"]), "{r:#}");
    assert_eq!(program["checked"], true, "{r:#}");
    // It ran, and failed at its call: a static catalog's tools are never called.
    assert_eq!(r["result_type"], "runtime_error", "{r:#}");
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .contains("pipeline programs: mean recall after the check 0.50; the check declared tools in 1 of 1 tasks"),
        "{stdout}"
    );
}

/// `--recall N --mode direct`: the tools a direct tool-calling agent would be offered for
/// each task (the search's best that fit its definition budget; no model answers), their
/// recall and the prompt they make.
#[test]
fn recall_of_the_tools_a_direct_agent_is_offered() {
    let Some(data) = livemcpbench() else {
        eprintln!("skipped: the LiveMCPBench data is not here (set CODEMODE_SHARED_DIR)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = codemode(
        dir.path(),
        &[
            "eval",
            "--mode",
            "direct",
            "--tasks",
            "none",
            "--recall",
            "2",
            "--livemcpbench",
            data.to_str().unwrap(),
            "--output",
            "recall.json",
        ],
    );
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let eval = results(dir.path(), "recall.json");
    let rows = eval["recall"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{eval:#}");
    for r in rows {
        assert_eq!(r["mode"], "direct");
        assert_eq!(r["model_calls"], 0);
        let selected = r["selected"].as_u64().unwrap();
        assert!((5..=40).contains(&selected), "a budget's worth of the 527 tools: {r:#}");
        let prompt = r["prompt_tokens"].as_u64().unwrap();
        assert!(
            (2_000..=3_200).contains(&prompt),
            "2,800 tokens of definitions and the request: {r:#}"
        );
    }
    for r in rows {
        let (found, gold) = (r["found"].as_array().unwrap(), r["gold"].as_array().unwrap());
        assert!(found.iter().all(|f| gold.contains(f)), "{r:#}");
        assert_eq!(
            r["recall"].as_f64().unwrap(),
            found.len() as f64 / gold.len() as f64,
            "{r:#}"
        );
    }
    // The request alone does not lead the search to the museum's tools (the pipeline's plan
    // does): this is what a direct agent with a cut catalog loses.
    assert_eq!(rows[0]["recall"], 0.0, "{:#}", rows[0]);
    assert!(
        eval.get("mean_recall").is_none(),
        "the pipeline's figure is not made up: {eval:#}"
    );
    assert!(
        text(&out.stdout).contains("direct: mean recall"),
        "{}",
        text(&out.stdout)
    );
}
