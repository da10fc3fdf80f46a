//! Printing to stdout that ends quietly when the reader goes away (`codemode ... | head`),
//! and what the commands print: JSON, a run's report, cut text.

use std::io::Write;

use anyhow::Result;
use codemode::RunReport;

/// Writes formatted text to stdout; exits with status 0 if stdout is a closed pipe.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `println!` that handles a closed pipe.
macro_rules! outln {
    () => { $crate::output::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that handles a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write(format_args!($($arg)*)) };
}

pub(crate) use {out, outln};

/// Pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A run's report as the terminal shows it; `full` adds the plan, the selected tools, the
/// code and the timings.
pub(crate) fn print_report(report: &RunReport, full: bool) {
    if full {
        if let Some(plan) = &report.pseudocode {
            outln!("── plan ──\n{}\n", plan.trim_end());
        }
        let selected = if report.selected_tools.is_empty() {
            "(none)".to_string()
        } else {
            report.selected_tools.join("\n")
        };
        outln!("── selected tools ({}) ──\n{selected}\n", report.selected_tools.len());
        if !report.tools_declared_by_check.is_empty() {
            outln!(
                "── declared by the check ({}): the program called them ──\n{}\n",
                report.tools_declared_by_check.len(),
                report.tools_declared_by_check.join("\n")
            );
        }
        if let Some(code) = &report.code {
            outln!(
                "── code ({} repairs, checker: {}) ──\n{}\n",
                report.repairs,
                report.checker.as_deref().unwrap_or("-"),
                code.trim_end()
            );
        }
        for f in &report.filter_failures {
            outln!(
                "note: filter batch {} failed ({}); its {} tools were kept",
                f.batch,
                f.reason,
                f.tools.len()
            );
        }
    }
    for (i, attempt) in report.runtime_attempts.iter().enumerate() {
        outln!(
            "note: program {} failed at run time ({}: {}) after {} tool calls; the main model wrote a new one (runtime repair {})",
            i + 1,
            attempt.result_type,
            truncate(&attempt.error, 160),
            attempt.tool_calls.len(),
            i + 1
        );
    }
    if !report.tool_calls.is_empty() {
        outln!("── tool calls ({}) ──", report.tool_calls.len());
        for c in &report.tool_calls {
            let outcome = match (&c.result, &c.error) {
                (_, Some(e)) => format!("error: {e}"),
                (Some(r), None) => truncate(&r.to_string(), 100),
                (None, None) => String::new(),
            };
            outln!(
                "{:>8.1} ms  {}({})  -> {}",
                c.duration_ms,
                c.path,
                truncate(&c.arguments.to_string(), 80),
                outcome
            );
        }
        outln!();
    }
    if !report.console.is_empty() {
        outln!("── console ──\n{}\n", report.console.join("\n"));
    }
    for a in &report.approvals {
        outln!(
            "approval: tools.{} {} by {} ({})",
            a.path,
            if a.approved { "approved" } else { "denied" },
            a.by,
            a.reason
        );
    }
    for cut in &report.cuts {
        outln!("note: {cut} (--report-tokens)");
    }
    match &report.error {
        Some(e) => outln!("── {} ──\n{e}\n", report.result_type),
        None => outln!(
            "── {} ──\n{}\n",
            report.result_type,
            serde_json::to_string_pretty(&report.output).unwrap_or_default()
        ),
    }
    if full {
        out!("{}", report.timing_table());
    }
}

/// `s` cut to `max` characters, with `…` after the cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}
