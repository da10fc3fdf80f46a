//! Project automation: `cargo xtask <task>`.
//!
//! - `cargo xtask test [ARGS]`: installs the npm packages the tests run against (when
//!   missing or stale), then runs `cargo test --workspace [ARGS]`.
//! - `cargo xtask npm`: only the npm packages.
//! - `cargo xtask servers`: the MCP servers of the real-server eval (npm and PyPI, pinned in
//!   `xtask/servers/`), into `~/.cache/codemode/servers`; `cargo xtask test` installs them too.
//! - `cargo xtask guest [--check]`: rebuilds the sandbox guest (`--check`: fails when the
//!   committed `.wasm` is stale).
//! - `cargo xtask bench`: the benchmarks (release build), as a table of medians and ratios.
//! - `cargo xtask local-model [--model 0.5b|1.5b|both] [--port N] [--threads N] [--prepare-only]`:
//!   fetches, verifies and serves a real local model over an OpenAI-compatible API.
//! - `cargo xtask dist [--features a,b] [--plugin-crate NAME[@VERSION]] [--plugin-path DIR] [--out DIR] [--debug]`:
//!   assembles a `codemode` binary with the chosen features and third-party plugin crates.
//! - `cargo xtask eval [--local] [ARGS]`: `codemode eval` (see its `--help`); `--local` runs it
//!   against the local models, started for the eval and stopped after it.

mod dist;
mod layout;
mod local_model;
mod servers;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The checkout `cargo xtask` runs in: the nearest folder above the current one that has
/// `xtask/Cargo.toml`, else the one this binary was built from. (A build cache shared by two
/// checkouts can hand one of them the other's xtask binary, whose built-in path is the
/// other checkout's.)
fn root() -> PathBuf {
    let here = std::env::current_dir().ok();
    here.iter()
        .flat_map(|dir| dir.ancestors())
        .find(|dir| dir.join("xtask/Cargo.toml").is_file() && dir.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        })
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// `npm ci` in tests/npm when node_modules is missing or older than the lock file.
fn npm() -> Result<()> {
    let dir = root().join("tests/npm");
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&installed)) {
        (Ok(l), Ok(i)) => i.modified()? >= l.modified()?,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    eprintln!("xtask: installing the npm packages the tests run against (tests/npm)");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir))
    .context("npm is needed for the tests: install Node.js 20+ with npm")
}

/// Builds the sandbox guest (QuickJS for wasm32-wasip1) and copies it next to its crate;
/// with `check`, fails when the committed file differs from a fresh build.
fn guest(check: bool) -> Result<()> {
    let guest_dir = root().join("crates/codemode-env-local/guest");
    let committed = guest_dir.join("codemode_guest.wasm");
    for (what, path) in [
        ("clang", "/usr/bin/clang"),
        ("wasi-libc headers", "/usr/include/wasm32-wasi/stdio.h"),
    ] {
        if !Path::new(path).exists() {
            bail!("{what} is missing ({path}): install Debian's `clang` and `wasi-libc` packages");
        }
    }
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip1"]))?;
    // Debian keeps the wasi headers where clang does not look for wasm32-wasip1.
    // A fixed build directory and path remapping keep machine-specific paths (which QuickJS's
    // C sources embed through __FILE__) out of the .wasm, so the build is reproducible.
    let target_dir = std::env::temp_dir().join("codemode-guest-target");
    let sysroot = target_dir.join("wasi-sysroot");
    std::fs::create_dir_all(sysroot.join("lib"))?;
    for (link, to) in [
        (sysroot.join("include"), "/usr/include/wasm32-wasi"),
        (sysroot.join("lib/wasm32-wasip1"), "/usr/lib/wasm32-wasi"),
        (sysroot.join("lib/wasm32-wasi"), "/usr/lib/wasm32-wasi"),
    ] {
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(to, &link)?;
        }
    }
    let home =
        std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let patched = patched_quickjs_sys(&cargo, &home, &target_dir)?;
    let rustflags = format!(
        "--remap-path-prefix={home}=/cargo --remap-path-prefix={}=/guest --remap-path-prefix={}=/target",
        guest_dir.display(),
        target_dir.display()
    );
    run(Command::new(&cargo)
        .args(["build", "--release", "--target", "wasm32-wasip1", "--locked"])
        .arg("--config")
        .arg(format!(
            "patch.crates-io.rquickjs-sys.path={:?}",
            patched.display().to_string()
        ))
        .current_dir(&guest_dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RQUICKJS_SYS_NO_WASI_SDK", "1")
        .env("CC_wasm32_wasip1", "clang")
        .env("AR_wasm32_wasip1", "llvm-ar")
        .env(
            "CFLAGS_wasm32_wasip1",
            format!(
                "--sysroot={} -ffile-prefix-map={}=/target -ffile-prefix-map={home}=/cargo -ffile-prefix-map={}=/guest",
                sysroot.display(),
                target_dir.display(),
                guest_dir.display()
            ),
        )
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.replace(' ', "\x1f")))?;
    let built = std::fs::read(target_dir.join("wasm32-wasip1/release/codemode_guest.wasm"))?;
    if check {
        let current = std::fs::read(&committed).unwrap_or_default();
        if current != built {
            bail!(
                "{} is stale: run `cargo xtask guest` and commit the result",
                committed.display()
            );
        }
        eprintln!(
            "xtask: the committed guest matches a fresh build ({} bytes)",
            built.len()
        );
        return Ok(());
    }
    std::fs::write(&committed, &built)?;
    eprintln!("xtask: wrote {} ({} bytes)", committed.display(), built.len());
    Ok(())
}

/// The rquickjs-sys release the guest builds against.
const QUICKJS_SYS: &str = "rquickjs-sys-0.14.0";

/// The changes the guest's copy of QuickJS-ng gets (the copy is made from the registry at
/// build time; nothing of rquickjs-sys is committed):
///
/// 1. and 2. QuickJS-ng turns its C stack check off under `__wasi__`, which makes deep
///    recursion a wasm trap instead of a catchable `RangeError`. The check works in wasm (it
///    compares addresses on the shadow stack), so those two exceptions are removed.
/// 3. `JSON.stringify` checks for cycles by scanning every object it is inside of, so each
///    level of nesting costs as much as the depth so far. Its C frames barely touch the
///    shadow stack (they live in wasm locals), so the stack check let a `toJSON` that returns
///    a fresh wrapper recurse ~40,000 levels deep: 8 x 10^8 comparisons, 4 s and more of CPU
///    for one line (issue 18). Nesting is capped at 4,096 levels with the same
///    `RangeError` the stack check throws; V8 stops at about the same depth.
const QUICKJS_PATCHES: [(&str, &str); 3] = [
    (
        "    rt->stack_size = JS_DEFAULT_STACK_SIZE;\n#ifdef __wasi__\n    rt->stack_size = 0;\n#endif\n",
        "    rt->stack_size = JS_DEFAULT_STACK_SIZE;\n",
    ),
    (
        "#if defined(__wasi__)\n    rt->stack_limit = 0; /* no limit */\n#else\n    if (rt->stack_size == 0) {\n        rt->stack_limit = 0; /* no limit */\n    } else {\n        rt->stack_limit = rt->stack_top - rt->stack_size;\n    }\n#endif\n",
        "    if (rt->stack_size == 0) {\n        rt->stack_limit = 0; /* no limit */\n    } else {\n        rt->stack_limit = rt->stack_top - rt->stack_size;\n    }\n",
    ),
    (
        "        v = js_array_includes(ctx, jsc->stack, 1, vc(&val));\n",
        concat!(
            "        {\n",
            "            /* codemode: the cycle check below costs the depth so far, so cap the depth */\n",
            "            uint32_t depth;\n",
            "            if (js_get_length32(ctx, &depth, jsc->stack))\n",
            "                goto exception;\n",
            "            if (depth >= 4096) {\n",
            "                JS_ThrowStackOverflow(ctx);\n",
            "                goto exception;\n",
            "            }\n",
            "        }\n",
            "        v = js_array_includes(ctx, jsc->stack, 1, vc(&val));\n",
        ),
    ),
];

/// Fetches rquickjs-sys into the cargo registry and makes a patched copy under `target_dir`.
fn patched_quickjs_sys(cargo: &str, cargo_home: &str, target_dir: &Path) -> Result<PathBuf> {
    let fetch_dir = target_dir.join("fetch-quickjs-sys");
    std::fs::create_dir_all(fetch_dir.join("src"))?;
    let version = QUICKJS_SYS.trim_start_matches("rquickjs-sys-");
    std::fs::write(
        fetch_dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fetch-quickjs-sys\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\nrquickjs-sys = \"={version}\"\n\n[workspace]\n"
        ),
    )?;
    std::fs::write(fetch_dir.join("src/lib.rs"), "")?;
    run(Command::new(cargo).arg("fetch").current_dir(&fetch_dir))?;
    let registry = Path::new(cargo_home).join("registry/src");
    let source = std::fs::read_dir(&registry)?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join(QUICKJS_SYS))
        .find(|path| path.is_dir())
        .with_context(|| format!("{QUICKJS_SYS} is not in {} after cargo fetch", registry.display()))?;
    let copy = target_dir.join("patched").join(QUICKJS_SYS);
    if copy.exists() {
        std::fs::remove_dir_all(&copy)?;
    }
    copy_dir(&source, &copy)?;
    let c_file = copy.join("quickjs/quickjs.c");
    let mut text = std::fs::read_to_string(&c_file)?;
    for (from, to) in QUICKJS_PATCHES {
        if !text.contains(from) {
            bail!(
                "{}: a patch of QUICKJS_PATCHES no longer applies (has rquickjs-sys changed?)",
                c_file.display()
            );
        }
        text = text.replacen(from, to, 1);
    }
    std::fs::write(&c_file, text)?;
    Ok(copy)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// `codemode eval` from this workspace; with `--local`, against the local models, whose
/// server runs for the eval only.
fn eval(mut args: Vec<String>) -> Result<()> {
    if args.iter().any(|a| a == "servers" || a == "--suite=servers") {
        servers::install(&root())?;
    }
    let local = args
        .iter()
        .position(|a| a == "--local")
        .map(|i| args.remove(i))
        .is_some();
    if !args.iter().any(|a| a == "--output" || a.starts_with("--output=")) {
        args.extend([
            "--output".into(),
            root().join("target/eval/latest.json").display().to_string(),
        ]);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut eval = Command::new(cargo);
    eval.args([
        "run",
        "--quiet",
        "-p",
        "codemode-cli",
        "--bin",
        "codemode",
        "--",
        "eval",
    ])
    .current_dir(root());
    if !local {
        return run(eval.args(&args));
    }
    const PORT: u16 = 18_089;
    let prepared = local_model::Prepared::new("both")?;
    let (main, tiny) = prepared.main_and_tiny();
    let mut server = prepared
        .server(PORT, 2)
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("cannot start the local model server (node)")?;
    let outcome = local_model::wait_until_ready(PORT, 180).and_then(|()| {
        run(eval
            .args(["--llm-base-url", &format!("http://127.0.0.1:{PORT}/v1")])
            .args(["--model", main, "--tiny-model", tiny])
            .args(&args))
    });
    let _ = server.kill();
    let _ = server.wait();
    outcome
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("test") => {
            npm()?;
            servers::install(&root())?;
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            run(Command::new(cargo)
                .args(["test", "--workspace"])
                .args(args)
                .current_dir(root()))
        }
        Some("npm") => npm(),
        Some("servers") => {
            println!("{}", servers::install(&root())?.display());
            Ok(())
        }
        Some("guest") => guest(args.next().as_deref() == Some("--check")),
        Some("bench") => {
            npm()?;
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            run(Command::new(cargo)
                .args(["run", "--release", "--quiet", "-p", "codemode-bench", "--"])
                .args(args)
                .current_dir(root()))
        }
        Some("local-model") => local_model::main(args),
        Some("eval") => eval(args.collect()),
        Some("dist") => dist::main(args, &root()),
        Some("layout") => layout::main(&root()),
        Some("help") | None => {
            println!(
                "cargo xtask <task>\n\ntasks:\n  test [ARGS]  npm packages and eval servers for the tests, then cargo test --workspace [ARGS]\n  npm          only the npm packages\n  servers      the real-server eval's MCP servers (npm, PyPI) into ~/.cache/codemode/servers\n  guest        rebuild the sandbox guest (--check: fail if the committed one is stale)\n  bench        the benchmarks (release), a table of medians and ratios\n  local-model  a local model over an OpenAI-compatible API on loopback\n               [--model 0.5b|1.5b|both] [--port 8089] [--threads 2] [--prepare-only]\n  eval         `codemode eval` [--local: with the local models, started and stopped here]\n               [ARGS of codemode eval]; results in target/eval/latest.json\n  dist         a codemode binary with chosen features and plugin crates (release)\n               [--features a,b] [--plugin-crate NAME[@VERSION]] [--plugin-path DIR] [--out DIR] [--debug]\n  layout       fail on a Rust file over 500 lines or an import cycle between the modules of a crate\n  help         this list"
            );
            Ok(())
        }
        Some(other) => bail!("unknown task `{other}`; `cargo xtask help` lists the tasks"),
    }
}
