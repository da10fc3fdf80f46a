//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `codemode` binary to run in `dir` as a user would, kept apart from this machine:
/// no config or API keys from the environment, no TypeScript install on first use (each
/// test says which checker it wants), a cache of its own, so a TypeScript that an earlier
/// run installed into the user's cache is not picked up, and no learned output types.
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_codemode"));
    command
        .current_dir(dir)
        .env_remove("CODEMODE_CONFIG")
        .env_remove("CODEMODE_TSC")
        .env("CODEMODE_TSC_INSTALL", "0")
        // No output types learned by other tests' runs: a test that wants them names a file.
        .env("CODEMODE_LEARNED_TYPES", "off")
        .env(
            "CODEMODE_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("codemode-cache"),
        )
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENROUTER_API_KEY");
    command
}

/// Runs [`command`] with `args`.
pub fn codemode(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("the codemode binary runs")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The LiveMCPBench data folder (`tools.json`, `tasks_dev.json`): under
/// `$CODEMODE_SHARED_DIR`, else `shared/` next to the project.
pub fn livemcpbench() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("CODEMODE_SHARED_DIR")
        .map(|d| PathBuf::from(d).join("data/livemcpbench"))
        .into_iter()
        .collect();
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/livemcpbench"));
    candidates.into_iter().find(|d| d.join("tools.json").is_file())
}

/// Runs the `codemode` binary with `args` on a pseudo-terminal (util-linux `script`, part of
/// every Debian install), as a user at a terminal would: stdin, stdout and stderr are the
/// terminal, `input` is typed into it. The output is everything the terminal showed.
pub fn codemode_on_a_terminal(dir: &Path, args: &[&str], input: &str) -> Output {
    codemode_on_a_terminal_with(command(dir), dir, args, input)
}

/// [`codemode_on_a_terminal`] with a [`command`] the caller prepared (extra variables).
pub fn codemode_on_a_terminal_with(inner: Command, dir: &Path, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let line: Vec<String> = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .chain(args.iter().map(std::ffi::OsStr::new))
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
        .collect();
    let mut script = Command::new("script");
    script
        .current_dir(dir)
        .args(["--quiet", "--return", "--command", &line.join(" "), "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    let mut child = script.spawn().expect("util-linux `script` runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("the answers are typed");
    child.wait_with_output().expect("script ends")
}

/// The example plugins of `plugins/` (text tools, the `openai-http` model, the
/// `node-subprocess` environment) built as shared libraries and copied into `dir`, as a
/// user would fill a plugin folder. Built once, into a target folder of their own.
pub fn copy_example_plugins(dir: &Path) {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../plugin-test");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--target-dir"])
            .arg(&target)
            .args(["-p", "codemode-example-plugin", "-p", "codemode-example-llm-plugin"])
            .args(["-p", "codemode-example-environment-plugin"])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the example plugins failed");
        target.join("debug")
    });
    std::fs::create_dir_all(dir).unwrap();
    for name in [
        "codemode_example_plugin",
        "codemode_example_llm_plugin",
        "codemode_example_environment_plugin",
    ] {
        let file = format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
        std::fs::copy(built.join(&file), dir.join(&file)).unwrap();
    }
}
