//! The subcommands on their own: help, log colours, check, tools, exec, printed reports.

use super::*;

#[test]
fn help_for_every_subcommand() {
    let dir = workspace();
    let out = codemode(dir.path(), &["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in ["run", "exec", "tools", "types", "check", "doctor", "serve"] {
        assert!(help.contains(cmd), "{cmd} in --help");
        let sub = codemode(dir.path(), &[cmd, "--help"]);
        assert!(sub.status.success(), "{cmd} --help");
        assert!(text(&sub.stdout).contains("Usage: codemode"), "{cmd}");
    }
    assert!(help.contains("Exit codes"));
}

/// Log lines on stderr carry colour codes on a terminal only: piped (CI, an agent reading
/// `codemode serve`'s stderr, a log file) they are plain text.
#[test]
fn log_lines_are_coloured_on_a_terminal_only() {
    // The demo server over stdio: connecting logs at debug level.
    let dir = workspace();
    let exe = env!("CARGO_BIN_EXE_codemode");
    std::fs::write(
        dir.path().join("mcp.json"),
        format!(r#"{{"mcpServers": {{"workspace": {{"command": {exe:?}, "args": ["demo-server"]}}}}}}"#),
    )
    .unwrap();
    let args = ["--mcp-config", "mcp.json", "tools", "list"];
    let piped = command(dir.path())
        .env("CODEMODE_LOG", "debug")
        .args(args)
        .output()
        .unwrap();
    let stderr = text(&piped.stderr);
    assert!(stderr.contains("DEBUG"), "no log line to look at:\n{stderr}");
    assert!(!stderr.contains('\x1b'), "colour codes in a piped log:\n{stderr:?}");

    let mut on_terminal = command(dir.path());
    on_terminal.env("CODEMODE_LOG", "debug").env_remove("NO_COLOR");
    let shown = text(&codemode_on_a_terminal_with(on_terminal, dir.path(), &args, "").stdout);
    assert!(shown.contains("DEBUG"), "{shown}");
    assert!(shown.contains("\x1b["), "no colour on a terminal:\n{shown:?}");
}

#[test]
fn check_prints_compiler_style_diagnostics() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("p.ts"),
        "// send\nawait tools.chat.send_mesage({ channel: 'a', text: 'b' });\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "check", "p.ts"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "p.ts:2:18: TS2339 Property 'send_mesage' does not exist on 'tools.chat'. Did you mean 'send_message'?"
        ),
        "{stdout}"
    );
    std::fs::write(
        dir.path().join("ok.ts"),
        "return await tools.chat.send_message({ channel: 'a', text: 'b' });\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "check", "ok.ts"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn tools_and_types() {
    let dir = workspace();
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "tools", "list"]);
    assert!(
        text(&out.stdout).contains("chat.send_message   Send a message"),
        "{}",
        text(&out.stdout)
    );
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "--json", "tools", "list"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[1]["name"], "send-message");
    let out = codemode(
        dir.path(),
        &["--catalog", "catalog.json", "tools", "show", "send-message"],
    );
    assert!(text(&out.stdout).contains("path:        tools.chat.send_message"));
    let out = codemode(
        dir.path(),
        &["--catalog", "catalog.json", "types", "--tools", "chat.send_message"],
    );
    let types = text(&out.stdout);
    assert!(types.contains("send_message(input: ChatSendMessageInput)"), "{types}");
    assert!(!types.contains("list_channels"));
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "types", "--tools", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no tool `nope`"));
}

#[test]
fn tools_search_ranks_by_the_filter_index() {
    let dir = workspace();
    let out = codemode(
        dir.path(),
        &[
            "--catalog",
            "catalog.json",
            "tools",
            "search",
            "post a message to a channel",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.contains("chat.send_message"), "{stdout}");
    let out = codemode(
        dir.path(),
        &[
            "--catalog",
            "catalog.json",
            "--json",
            "tools",
            "search",
            "channels",
            "--limit",
            "1",
        ],
    );
    let hits: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    assert!(hits[0]["path"].as_str().unwrap().starts_with("chat."));
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "tools", "search", "zebra"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).is_empty());
    assert!(
        text(&out.stderr).contains("shares a word with `zebra`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exec_runs_programs_and_reports_json() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("p.ts"),
        "const xs: number[] = [1, 2, 3];\nconsole.log('sum');\nreturn xs.reduce((a, b) => a + b, 0);\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--json", "exec", "p.ts"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "success");
    assert_eq!(report["output"], 6);
    assert_eq!(report["console"][0], "sum");
    // Static catalog tools can be typed and checked but not called.
    std::fs::write(
        dir.path().join("call.ts"),
        "return await tools.chat.list_channels({});\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--catalog", "catalog.json", "--json", "exec", "call.ts"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "runtime_error");
    assert!(report["error"].as_str().unwrap().contains("static catalog"), "{report}");
    // The timeout flag holds.
    std::fs::write(dir.path().join("loop.ts"), "while (true) {}\n").unwrap();
    let out = codemode(dir.path(), &["--timeout", "1", "--json", "exec", "loop.ts"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "timeout");
    // So does the CPU budget, apart from the wall clock.
    let out = codemode(
        dir.path(),
        &["--timeout", "30", "--cpu-time", "0.3", "--json", "exec", "loop.ts"],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result_type"], "timeout");
    assert!(report["error"].as_str().unwrap().contains("cpu_time_limit"), "{report}");
    let out = codemode(dir.path(), &["--cpu-time", "0", "exec", "loop.ts"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cpu_time_limit"), "{}", text(&out.stderr));
}

#[test]
fn a_large_returned_value_is_cut_in_the_printed_report_and_the_program_sees_it_whole() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("big.ts"),
        "const rows = Array.from({ length: 20000 }, (_, i) => ({ id: i, title: `row ${i}` }));\n\
         console.log(`built ${rows.length}`);\n\
         return { count: rows.length, rows };\n",
    )
    .unwrap();
    let out = codemode(dir.path(), &["--json", "exec", "big.ts"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.len() < 40_000, "printed {} bytes", out.stdout.len());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"]["count"], 20000, "the program saw every row");
    let rows = report["output"]["rows"].as_array().unwrap();
    assert!(rows.len() < 20000 && rows.last().unwrap().as_str().unwrap().contains("more items cut"));
    assert!(
        report["cuts"][0].as_str().unwrap().starts_with("output: cut from"),
        "{}",
        report["cuts"]
    );
    // The human report says it too.
    let out = codemode(dir.path(), &["exec", "big.ts"]);
    assert!(
        text(&out.stdout).contains("note: output: cut from"),
        "{}",
        text(&out.stdout)
    );
    // --report-tokens 0 prints everything.
    let out = codemode(dir.path(), &["--report-tokens", "0", "--json", "exec", "big.ts"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"]["rows"].as_array().unwrap().len(), 20000);
    assert!(report.get("cuts").is_none());
}
