//! Type checking with the TypeScript 7 native compiler (`tsc` of the npm package
//! `typescript@7`).
//!
//! The program is wrapped in an async function after a prelude of our own `console`
//! declaration and the tool declarations; `tsc --strict --noEmit` runs with a minimal lib
//! (es2023, no DOM), and diagnostics are mapped back to the lines of the program as written.
//!
//! By default one compiler process is kept warm across checks (`tsc --lsp --stdio`, see
//! `lsp.rs`); [`TscChecker::cold`] runs a fresh `tsc` for every check instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::diagnostic::{Diagnostic, Severity};
use crate::error::TscError;
use crate::lsp::LspSession;

/// The globals every run environment provides beyond the ES2023 library (`console` and
/// the timers), declared for the checker (no DOM lib).
pub const GLOBALS_DECLARATION: &str = include_str!("globals.d.ts");

/// The first line of the wrapper around the program; the program starts on the next line.
const WRAPPER_OPEN: &str = "async function __codemode_program() {\n";
const WRAPPER_CLOSE: &str = "\n}\nexport {};\n";
/// Lines of `WRAPPER_OPEN`.
const WRAPPER_LINES: u32 = 1;

/// The two files a check is about: the declarations and the wrapped program.
fn project_texts(program: &str, declarations: &str) -> (String, String) {
    (
        format!("{GLOBALS_DECLARATION}{declarations}"),
        format!("{WRAPPER_OPEN}{program}{WRAPPER_CLOSE}"),
    )
}

/// Lines of the program as written (at least 1).
fn line_count(program: &str) -> u32 {
    program.lines().count().max(1) as u32
}

/// A 1-based line of `program.ts` as a line of the program as written.
fn program_line(file_line: u32, program_lines: u32) -> u32 {
    file_line.saturating_sub(WRAPPER_LINES).clamp(1, program_lines)
}

/// The TypeScript 7 compiler.
///
/// Clones share one warm language-server process (started on the first check); checks
/// through it are serialized.
#[derive(Debug, Clone)]
pub struct TscChecker {
    exe: PathBuf,
    version: String,
    /// The warm server, when enabled (`None` inside: not started yet, or dropped after a failure).
    warm: Option<Arc<Mutex<Option<LspSession>>>>,
}

impl TscChecker {
    /// Finds `tsc`. A `configured` path is the only one tried (a wrong path is an error, not
    /// a reason to pick some other compiler); without one: `CODEMODE_TSC`, then
    /// `./node_modules/.bin/tsc`, then `PATH`, then codemode's cache. A Node wrapper script
    /// is resolved to the native binary next to it.
    pub fn discover(configured: Option<&Path>) -> Result<Self, TscError> {
        if let Some(path) = configured {
            if !path.is_file() {
                return Err(TscError::NotFound {
                    looked: format!("the configured path {}", path.display()),
                });
            }
            return Self::from_path(path);
        }
        let mut candidates: Vec<PathBuf> = Vec::new();
        candidates.extend(std::env::var_os("CODEMODE_TSC").map(PathBuf::from));
        candidates.push(PathBuf::from("node_modules/.bin/tsc"));
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|d| d.join("tsc")));
        }
        candidates.extend(crate::install::installed_tsc());
        let mut last_error = None;
        for c in candidates.iter().filter(|c| c.is_file()) {
            match Self::from_path(c) {
                Ok(checker) => return Ok(checker),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| TscError::NotFound {
            looked: "CODEMODE_TSC, ./node_modules/.bin/tsc, PATH, codemode's cache".into(),
        }))
    }

    /// Uses the compiler at `path` after checking that it is TypeScript 7.
    pub fn from_path(path: &Path) -> Result<Self, TscError> {
        let exe = native_binary(path).unwrap_or_else(|| path.to_path_buf());
        let output = Command::new(&exe)
            .arg("--version")
            .output()
            .map_err(|e| TscError::Run {
                path: exe.clone(),
                message: e.to_string(),
            })?;
        let version = String::from_utf8_lossy(&output.stdout)
            .trim()
            .trim_start_matches("Version ")
            .to_string();
        if !version.starts_with("7.") {
            return Err(TscError::WrongVersion { path: exe, version });
        }
        Ok(Self {
            exe,
            version,
            warm: Some(Arc::new(Mutex::new(None))),
        })
    }

    /// Runs a fresh `tsc` process for every check instead of keeping one warm.
    pub fn cold(mut self) -> Self {
        self.warm = None;
        self
    }

    /// Whether checks go through a warm language-server process.
    pub fn is_warm(&self) -> bool {
        self.warm.is_some()
    }

    /// The compiler's version, e.g. `7.0.2`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The binary that runs.
    pub fn path(&self) -> &Path {
        &self.exe
    }

    /// The checker's name in reports.
    pub fn name(&self) -> String {
        format!("tsc {}", self.version)
    }

    /// Type-checks `program` (a program body) against `declarations`: through the warm
    /// server when enabled (falling back to a cold check if the server fails), else cold.
    pub fn check(&self, program: &str, declarations: &str) -> Result<Vec<Diagnostic>, TscError> {
        if let Some(warm) = &self.warm {
            match self.check_warm(warm, program, declarations) {
                Ok(diagnostics) => return Ok(as_they_bear_on_running(program, diagnostics)),
                Err(e) => tracing::warn!(error = %e, "the warm TypeScript server failed; checking cold"),
            }
        }
        self.check_cold(program, declarations)
    }

    fn check_warm(
        &self,
        warm: &Mutex<Option<LspSession>>,
        program: &str,
        declarations: &str,
    ) -> Result<Vec<Diagnostic>, String> {
        let mut slot = warm
            .lock()
            .map_err(|_| "the warm server's lock is poisoned".to_string())?;
        if slot.is_none() {
            *slot = Some(LspSession::start(&self.exe)?);
        }
        let Some(session) = slot.as_mut() else {
            return Err("the warm server did not start".into());
        };
        let (prelude, program_ts) = project_texts(program, declarations);
        match session.check(&prelude, &program_ts) {
            Ok(diagnostics) => {
                let lines = line_count(program);
                Ok(diagnostics
                    .into_iter()
                    .map(|d| Diagnostic {
                        line: program_line(d.line, lines),
                        ..d
                    })
                    .collect())
            }
            Err(e) => {
                // Drop (kill) the server; the next check starts a new one.
                *slot = None;
                Err(e)
            }
        }
    }

    /// The process id of the warm server, if one is running (for tests: feature `testing`).
    #[cfg(feature = "testing")]
    pub fn warm_server_pid(&self) -> Option<u32> {
        let warm = self.warm.as_ref()?;
        warm.lock().ok()?.as_ref().map(LspSession::pid)
    }

    /// Type-checks with a fresh `tsc` process.
    pub fn check_cold(&self, program: &str, declarations: &str) -> Result<Vec<Diagnostic>, TscError> {
        let (prelude, program_ts) = project_texts(program, declarations);
        let files = [("prelude.d.ts", prelude), ("program.ts", program_ts)];
        let (success, stdout, stderr) = self.run(&files, &["--skipLibCheck"])?;
        let diagnostics = parse_output(&stdout, line_count(program));
        if !success && diagnostics.is_empty() {
            return Err(self.error(format!("{}{}", stdout.trim(), stderr.trim())));
        }
        Ok(as_they_bear_on_running(program, diagnostics))
    }

    /// Checks declaration files on their own (no `--skipLibCheck`): every diagnostic, with
    /// its file name in the message.
    pub fn check_declarations(&self, declarations: &str) -> Result<Vec<Diagnostic>, TscError> {
        let files = [("tools.d.ts", format!("{GLOBALS_DECLARATION}{declarations}"))];
        let (_, stdout, _) = self.run(&files, &[])?;
        Ok(stdout
            .lines()
            .filter(|l| l.contains("error TS"))
            .map(|l| Diagnostic::error(0, 0, "TSC", l.trim()))
            .collect())
    }

    fn error(&self, message: String) -> TscError {
        TscError::Run {
            path: self.exe.clone(),
            message,
        }
    }

    /// Writes `files` to a fresh directory and runs the compiler on them there.
    fn run(&self, files: &[(&str, String)], extra: &[&str]) -> Result<(bool, String, String), TscError> {
        let dir = tempfile::Builder::new()
            .prefix("codemode-tsc-")
            .tempdir()
            .map_err(|e| self.error(e.to_string()))?;
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).map_err(|e| self.error(e.to_string()))?;
        }
        let output = Command::new(&self.exe)
            .args(Self::ARGS)
            .args(extra)
            .args(files.iter().map(|(name, _)| *name))
            .current_dir(dir.path())
            .output()
            .map_err(|e| self.error(e.to_string()))?;
        Ok((
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }

    const ARGS: [&'static str; 10] = [
        "--strict", "--noEmit", "--target", "es2023", "--lib", "es2023", "--types", "", "--pretty", "false",
    ];
}

/// `noImplicitAny`'s complaints about a parameter, variable or member without a type
/// ("Parameter 'x' implicitly has an 'any' type"). `--strict` stays on, for the evolving
/// types of `const xs = []` that only `noImplicitAny` gives (off, `[]` is `never[]` and
/// every `push` an error), but these are no mistakes in a program that runs once: they were
/// most of what repair prompts quoted after one real error (every callback parameter of
/// `issues.map` on an object), and the only error of a callback over an untyped result.
const IMPLICIT_ANY: [&str; 8] = [
    "TS7005", "TS7006", "TS7008", "TS7010", "TS7011", "TS7019", "TS7031", "TS7034",
];

fn without_implicit_any(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.retain(|d| !IMPLICIT_ANY.contains(&d.code.as_str()));
    diagnostics
}

/// `diagnostics` of `program` as they bear on running it: `noImplicitAny`'s complaints
/// dropped, and a key written twice in an object literal (TS1117) a warning unless the
/// object goes to a tool. JavaScript keeps the last value and runs on; in a value the
/// program returns that loses a value of its report, where a compile error lost the work
/// (seen: `return { id: a.id, id: b.id, id: c.id }` after three right calls, sent back
/// unchanged through every repair). What a tool receives must say one thing.
fn as_they_bear_on_running(program: &str, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let index = crate::diagnostic::LineIndex::new(program);
    without_implicit_any(diagnostics)
        .into_iter()
        .map(|d| {
            let to_a_tool = || crate::check::in_tool_arguments(program, index.offset(program, d.line, d.column));
            if d.code == "TS1117" && d.severity == Severity::Error && !to_a_tool() {
                Diagnostic {
                    severity: Severity::Warning,
                    ..d
                }
            } else {
                d
            }
        })
        .collect()
}

/// For a Node wrapper (`node_modules/.bin/tsc`), the native binary of the platform package.
fn native_binary(path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    let head = std::fs::read(&real).ok()?;
    if !head.starts_with(b"#!") {
        return None;
    }
    // .../node_modules/typescript/bin/tsc -> .../node_modules/@typescript/typescript-OS-ARCH/lib/tsc
    let node_modules = real.parent()?.parent()?.parent()?;
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    let exe = if cfg!(windows) { "tsc.exe" } else { "tsc" };
    let native = node_modules
        .join("@typescript")
        .join(format!("typescript-{os}-{arch}"))
        .join("lib")
        .join(exe);
    native.is_file().then_some(native)
}

/// Parses `--pretty false` output: `program.ts(LINE,COL): error TSNNNN: message`, with
/// continuation lines indented. Lines are shifted back to the program as written.
fn parse_output(text: &str, program_lines: u32) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for line in text.lines() {
        if line.starts_with(' ') {
            if let Some(last) = out.last_mut() {
                last.message.push(' ');
                last.message.push_str(line.trim());
            }
            continue;
        }
        let Some((location, rest)) = line.split_once("): ") else {
            continue;
        };
        let Some((file, position)) = location.split_once('(') else {
            continue;
        };
        let mut nums = position.split(',').map(|n| n.trim().parse::<u32>().unwrap_or(0));
        let (l, c) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
        let (severity, rest) = match rest.split_once(' ') {
            Some(("error", r)) => (Severity::Error, r),
            Some(("warning", r)) => (Severity::Warning, r),
            _ => continue,
        };
        let (code, message) = rest.split_once(": ").unwrap_or(("TS0", rest));
        let (line_no, message) = if file.ends_with("program.ts") {
            (program_line(l, program_lines), message.to_string())
        } else {
            (1, format!("in the tool declarations ({file}:{l}:{c}): {message}"))
        };
        out.push(Diagnostic {
            line: line_no,
            column: c.max(1),
            code: code.to_string(),
            message,
            severity,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_maps_lines() {
        let text = "program.ts(3,29): error TS2322: Type 'number' is not assignable to type 'string'.\nprogram.ts(4,25): error TS2339: Property 'c' does not exist on type '{ b(): void; }'.\n  Did you mean 'b'?\nprelude.d.ts(9,1): error TS1005: ';' expected.\n";
        let d = parse_output(text, 10);
        assert_eq!(d.len(), 3);
        assert_eq!((d[0].line, d[0].column, d[0].code.as_str()), (2, 29, "TS2322"));
        assert_eq!(
            d[1].message,
            "Property 'c' does not exist on type '{ b(): void; }'. Did you mean 'b'?"
        );
        assert!(d[2].message.starts_with("in the tool declarations (prelude.d.ts:9:1)"));
    }
}
