//! Soak: many runs in a row in one process (wasm sandbox, the demo MCP server over stdio),
//! watching resident memory, open file descriptors and child processes; and 100 runs at
//! once. A run that fails, memory that grows more than 10 % after the warm-up, or a
//! descriptor or process left behind fails the group.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use codemode::mcp::McpServerConfig;
use codemode::{CodeMode, RunOptions};

use crate::serve::quantile;
use crate::{Row, ms};

/// A program with two dependent tool calls and a little work on their answers.
const PROGRAM: &str = "const { channels } = await tools.workspace.list_channels({});\n\
const { messages } = await tools.workspace.list_messages({ channel: channels[0].name });\n\
return { channels: channels.length, words: messages.map((m) => m.text.split(' ').length) };";
/// Runs started at once in the concurrent part.
const CONCURRENT: usize = 100;
/// Most growth of resident memory allowed from the warm-up to the end.
const MAX_GROWTH: f64 = 0.10;

/// This process's resident memory, in KiB (`VmRSS` of `/proc/self/status`).
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Processes whose parent is this process.
fn child_processes() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
            status
                .lines()
                .any(|l| l.starts_with("PPid:") && l.split_whitespace().nth(1) == Some(me.as_str()))
        })
        .count()
}

/// The `soak` group: `sequential` runs in a row, then `CONCURRENT` at once.
pub async fn soak_benches(rows: &mut Vec<Row>, demo: &McpServerConfig, sequential: usize) -> Result<()> {
    let codemode = Arc::new(crate::demo_codemode(demo).await?);
    let options = RunOptions::default();
    let run = |codemode: Arc<CodeMode>, options: RunOptions| async move {
        let started = Instant::now();
        let report = codemode
            .run(codemode::RunRequest::program(PROGRAM, options.clone()))
            .await?;
        if !report.is_success() {
            bail!("a run failed: {:?} {:?}", report.result_type, report.error);
        }
        Ok(started.elapsed())
    };

    // Warm-up: the first tenth (at least 100 runs) settles allocators and caches.
    let warm_up = (sequential / 10).max(100);
    for _ in 0..warm_up {
        run(codemode.clone(), options.clone()).await?;
    }
    let (rss_before, fds_before, children_before) = (resident_kib(), open_fds(), child_processes());
    let mut latencies = Vec::with_capacity(sequential);
    let started = Instant::now();
    for _ in 0..sequential {
        latencies.push(run(codemode.clone(), options.clone()).await?);
    }
    let wall = started.elapsed();
    let (rss_after, fds_after, children_after) = (resident_kib(), open_fds(), child_processes());
    latencies.sort();
    let growth = rss_after as f64 / rss_before.max(1) as f64 - 1.0;
    rows.push(Row {
        name: format!("soak: {sequential} sequential runs (wasm, demo server over stdio, p50)"),
        median: quantile(&latencies, 0.5),
        note: format!(
            "p99 {:.2} ms; {:.0} runs/s; resident {:.1} -> {:.1} MiB ({:+.1}% after {warm_up} warm-up runs); fds {fds_before} -> {fds_after}; child processes {children_before} -> {children_after}; 0 errors",
            ms(quantile(&latencies, 0.99)),
            sequential as f64 / wall.as_secs_f64(),
            rss_before as f64 / 1024.0,
            rss_after as f64 / 1024.0,
            growth * 100.0
        ),
    });

    let started = Instant::now();
    let outcomes =
        futures::future::join_all((0..CONCURRENT).map(|_| tokio::spawn(run(codemode.clone(), options.clone())))).await;
    let wall = started.elapsed();
    let mut latencies = Vec::with_capacity(CONCURRENT);
    for outcome in outcomes {
        latencies.push(outcome??);
    }
    latencies.sort();
    rows.push(Row {
        name: format!("soak: {CONCURRENT} concurrent runs in one process (p50)"),
        median: quantile(&latencies, 0.5),
        note: format!(
            "p99 {:.1} ms; all {CONCURRENT} done in {:.1} ms; 0 errors",
            ms(quantile(&latencies, 0.99)),
            ms(wall)
        ),
    });

    if growth > MAX_GROWTH {
        bail!(
            "resident memory grew {:.1}% over {sequential} runs (at most {:.0}%)",
            growth * 100.0,
            MAX_GROWTH * 100.0
        );
    }
    if fds_after > fds_before {
        bail!(
            "{} file descriptors were left open over {sequential} runs",
            fds_after - fds_before
        );
    }
    if children_after > children_before {
        bail!(
            "{} child processes were left behind over {sequential} runs",
            children_after - children_before
        );
    }
    Ok(())
}
