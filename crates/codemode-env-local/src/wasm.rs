//! The embedded sandbox: QuickJS compiled to wasm (the guest in `guest/`), run by wasmtime.
//!
//! Every run gets a fresh instance from a pre-linked `InstancePre`; the module is compiled
//! once per process and cached on disk, keyed by the engine's compatibility hash and the
//! guest's bytes. The guest has no WASI preopens, no sockets, no environment variables:
//! nine WASI functions are stubbed by hand (clock, random, stdout/stderr writes, ...), and
//! the only way out is the bridge (`start_call`, `wait_any`).
//!
//! Limits: epoch interruption for the wall clock (also stops `while (true) {}`), `StoreLimits`
//! for memory (a failed grow is a catchable out-of-memory error in JS), a wasm stack limit
//! (deep recursion traps), caps on console output and on values crossing the bridge. After
//! any trap the instance is dropped.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use codemode_core::registry::RunEnvironmentFactory;
use codemode_core::{
    BridgeError, CodeModeError, ExecutionRequest, FailureKind, RunEnvironment, RunFailure, RunOutcome, ToolBridge,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use wasmtime::{
    Caller, Config, Engine, Extern, InstancePre, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, Trap,
};

use crate::console::ConsoleCapture;

/// The guest, built by `cargo xtask guest` (committed so users need no wasm toolchain).
pub const GUEST_WASM: &[u8] = include_bytes!("../guest/codemode_guest.wasm");

/// How often the epoch advances.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The wasm stack limit (deep recursion in JS traps here).
const MAX_WASM_STACK: usize = 1024 * 1024;

/// Why the sandbox could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// wasmtime rejected the configuration or the guest.
    #[error("the wasm sandbox could not be set up: {0}")]
    Setup(String),
}

type PendingCall = BoxFuture<'static, (i32, Result<Value, BridgeError>)>;

struct HostState {
    limits: StoreLimits,
    bridge: Arc<dyn ToolBridge>,
    pending: FuturesUnordered<PendingCall>,
    next_id: i32,
    finished: Vec<u8>,
    console: ConsoleCapture,
    ended_by: Option<RunFailure>,
    max_value_bytes: usize,
    rng: u64,
}

/// Runs programs in a fresh QuickJS-in-wasm instance each time.
#[derive(Clone)]
pub struct WasmEnvironment {
    engine: Engine,
    pre: InstancePre<HostState>,
}

impl std::fmt::Debug for WasmEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEnvironment").finish_non_exhaustive()
    }
}

fn setup<E: std::fmt::Display>(e: E) -> WasmError {
    WasmError::Setup(e.to_string())
}

impl WasmEnvironment {
    /// Compiles (or loads from the on-disk cache) the guest and links the host functions.
    pub fn new() -> Result<Self, WasmError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(MAX_WASM_STACK);
        let engine = Engine::new(&config).map_err(setup)?;
        let module = load_module(&engine)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        link_bridge(&mut linker).map_err(setup)?;
        link_wasi_stubs(&mut linker).map_err(setup)?;
        let pre = linker.instantiate_pre(&module).map_err(setup)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("codemode-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(setup)?;
        Ok(Self { engine, pre })
    }

    async fn run(
        &self,
        request: &ExecutionRequest,
        bridge: Arc<dyn ToolBridge>,
        state_out: &mut Option<ConsoleCapture>,
    ) -> Result<Value, RunFailure> {
        let limits = request.limits;
        let memory = usize::try_from(limits.memory_limit_bytes).unwrap_or(usize::MAX);
        let state = HostState {
            limits: StoreLimitsBuilder::new()
                .memory_size(memory)
                .instances(1)
                .trap_on_grow_failure(false)
                .build(),
            bridge: bridge.clone(),
            pending: FuturesUnordered::new(),
            next_id: 0,
            finished: Vec::new(),
            console: ConsoleCapture::new(limits.max_console_bytes),
            ended_by: None,
            max_value_bytes: limits.max_value_bytes,
            rng: seed(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = (limits.total_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let internal =
            |what: &str, e: wasmtime::Error| RunFailure::new(FailureKind::Environment, format!("{what}: {e}"));
        let outcome = tokio::time::timeout(limits.total_timeout, async {
            let instance = self
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| internal("instantiate", e))?;
            let memory = instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| RunFailure::new(FailureKind::Environment, "the guest exports no memory"))?;
            let alloc = instance
                .get_typed_func::<u32, u32>(&mut store, "cm_alloc")
                .map_err(|e| internal("cm_alloc", e))?;
            let run = instance
                .get_typed_func::<(u32, u32), u32>(&mut store, "cm_run")
                .map_err(|e| internal("cm_run", e))?;
            let output_len = instance
                .get_typed_func::<(), u32>(&mut store, "cm_output_len")
                .map_err(|e| internal("cm_output_len", e))?;
            let input = json!({
                "code": request.javascript,
                "paths": bridge.tool_paths(),
                "max_value_bytes": limits.max_value_bytes,
            })
            .to_string();
            let ptr = alloc
                .call_async(&mut store, input.len() as u32)
                .await
                .map_err(|e| classify(e, &store))?;
            memory
                .write(&mut store, ptr as usize, input.as_bytes())
                .map_err(|e| internal("write input", e.into()))?;
            let out_ptr = run
                .call_async(&mut store, (ptr, input.len() as u32))
                .await
                .map_err(|e| classify(e, &store))?;
            let len = output_len
                .call_async(&mut store, ())
                .await
                .map_err(|e| classify(e, &store))?;
            let mut out = vec![0u8; len as usize];
            memory
                .read(&store, out_ptr as usize, &mut out)
                .map_err(|e| internal("read output", e.into()))?;
            Ok::<Vec<u8>, RunFailure>(out)
        })
        .await;
        *state_out = Some(std::mem::take(&mut store.data_mut().console));
        let out = match outcome {
            Err(_) => return Err(timeout_failure(limits.total_timeout)),
            Ok(Err(failure)) => {
                if failure.kind == FailureKind::Timeout {
                    return Err(timeout_failure(limits.total_timeout));
                }
                return Err(failure);
            }
            Ok(Ok(out)) => out,
        };
        let out: Value = serde_json::from_slice(&out)
            .map_err(|e| RunFailure::new(FailureKind::Environment, format!("the guest's answer is not JSON: {e}")))?;
        if out["ok"].as_bool() == Some(true) {
            let json = out["json"].as_str().unwrap_or("null");
            if json.len() > limits.max_value_bytes {
                return Err(RunFailure::new(
                    FailureKind::Runtime,
                    format!(
                        "a value crossing the bridge is larger than {} bytes",
                        limits.max_value_bytes
                    ),
                ));
            }
            return serde_json::from_str(json).map_err(|e| {
                RunFailure::new(FailureKind::Environment, format!("the returned value is not JSON: {e}"))
            });
        }
        let name = out["name"].as_str().unwrap_or("Error");
        let message = out["message"].as_str().unwrap_or("");
        let kind = if message.contains("out of memory") {
            FailureKind::MemoryLimit
        } else {
            FailureKind::Runtime
        };
        Err(RunFailure {
            kind,
            message: format!("{name}: {message}"),
            line: out["line"].as_u64().map(|l| l as u32),
            column: None,
        })
    }
}

fn timeout_failure(timeout: Duration) -> RunFailure {
    RunFailure::new(
        FailureKind::Timeout,
        format!(
            "the program did not finish within {:.1} s (total_execution_timeout)",
            timeout.as_secs_f64()
        ),
    )
}

/// Maps a trap to the failure a user can act on.
fn classify(error: wasmtime::Error, store: &Store<HostState>) -> RunFailure {
    if let Some(failure) = &store.data().ended_by {
        return failure.clone();
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => RunFailure::new(FailureKind::Timeout, "interrupted"),
        Some(Trap::StackOverflow) => RunFailure::new(
            FailureKind::Runtime,
            "RangeError: Maximum call stack size exceeded (wasm stack overflow)",
        ),
        Some(Trap::UnreachableCodeReached) => RunFailure::new(
            FailureKind::MemoryLimit,
            "the program ran out of memory (memory_limit_mb) and the sandbox aborted",
        ),
        Some(trap) => RunFailure::new(FailureKind::Runtime, format!("the sandbox trapped: {trap}")),
        None => RunFailure::new(FailureKind::Environment, format!("the sandbox failed: {error:#}")),
    }
}

#[async_trait]
impl RunEnvironment for WasmEnvironment {
    fn name(&self) -> &str {
        "wasm"
    }

    async fn execute(&self, request: ExecutionRequest, bridge: Arc<dyn ToolBridge>) -> RunOutcome {
        let mut console = None;
        let result = self.run(&request, bridge, &mut console).await;
        RunOutcome {
            result,
            console: console.map(ConsoleCapture::into_lines).unwrap_or_default(),
        }
    }
}

fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ 0x9E37_79B9_7F4A_7C15 ^ (std::process::id() as u64) << 32
}

/// Compiles the guest, or loads a compiled copy cached on disk.
fn load_module(engine: &Engine) -> Result<Module, WasmError> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    GUEST_WASM.hash(&mut hasher);
    let key = format!("{:016x}", hasher.finish());
    let dir = std::env::var_os("CODEMODE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("codemode")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/codemode")))
        .unwrap_or_else(|| std::env::temp_dir().join("codemode-cache"));
    let path = dir.join(format!("guest-{key}.cwasm"));
    if path.is_file() {
        // SAFETY: the file was written by `Module::serialize` of an engine with the same
        // compatibility hash (it is in the file name); a corrupt file fails to load and is
        // rebuilt below.
        match unsafe { Module::deserialize_file(engine, &path) } {
            Ok(module) => return Ok(module),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring a bad module cache entry"),
        }
    }
    let module = Module::new(engine, GUEST_WASM).map_err(setup)?;
    match module.serialize() {
        Ok(bytes) => {
            let tmp = dir.join(format!("guest-{key}.{}.tmp", std::process::id()));
            let written = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&tmp, bytes))
                .and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(e) = written {
                tracing::debug!(error = %e, "cannot cache the compiled guest");
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot serialize the compiled guest"),
    }
    Ok(module)
}

fn memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(wasmtime::Error::msg("the guest exports no memory")),
    }
}

fn read_string(caller: &mut Caller<'_, HostState>, ptr: u32, len: u32) -> wasmtime::Result<String> {
    let mem = memory(caller)?;
    let mut buf = vec![0u8; len as usize];
    mem.read(&caller, ptr as usize, &mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn link_bridge(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "codemode",
        "start_call",
        |mut caller: Caller<'_, HostState>,
         path_ptr: u32,
         path_len: u32,
         args_ptr: u32,
         args_len: u32|
         -> wasmtime::Result<i32> {
            let path = read_string(&mut caller, path_ptr, path_len)?;
            let state = caller.data_mut();
            state.next_id += 1;
            let id = state.next_id;
            if args_len as usize > state.max_value_bytes {
                let message = format!(
                    "tools.{path}: the arguments are larger than {} bytes",
                    state.max_value_bytes
                );
                state
                    .pending
                    .push(Box::pin(async move { (id, Err(BridgeError::Failed(path, message))) }));
                return Ok(id);
            }
            let args_text = read_string(&mut caller, args_ptr, args_len)?;
            let args: Value = serde_json::from_str(&args_text).unwrap_or(Value::Null);
            let state = caller.data_mut();
            let bridge = state.bridge.clone();
            state
                .pending
                .push(Box::pin(async move { (id, bridge.call(&path, args).await) }));
            Ok(id)
        },
    )?;
    linker.func_wrap_async("codemode", "wait_any", |mut caller: Caller<'_, HostState>, (): ()| {
        Box::new(async move {
            let Some((id, result)) = caller.data_mut().pending.next().await else {
                return Ok(-1);
            };
            let state = caller.data_mut();
            let body = match result {
                Ok(value) => {
                    let text = json!({"ok": true, "value": value}).to_string();
                    if text.len() > state.max_value_bytes {
                        json!({"ok": false, "error": format!("the tool result is larger than {} bytes", state.max_value_bytes)}).to_string()
                    } else {
                        text
                    }
                }
                Err(e) if e.ends_run() => {
                    state.ended_by = Some(RunFailure::new(FailureKind::ToolCallLimit, e.to_string()));
                    return Err(wasmtime::Error::msg(e.to_string()));
                }
                Err(e) => json!({"ok": false, "error": e.to_string()}).to_string(),
            };
            state.finished = body.into_bytes();
            Ok(id)
        })
    })?;
    linker.func_wrap("codemode", "result_len", |caller: Caller<'_, HostState>| -> u32 {
        caller.data().finished.len() as u32
    })?;
    linker.func_wrap(
        "codemode",
        "result_read",
        |mut caller: Caller<'_, HostState>, ptr: u32| -> wasmtime::Result<()> {
            let bytes = std::mem::take(&mut caller.data_mut().finished);
            memory(&mut caller)?.write(&mut caller, ptr as usize, &bytes)?;
            Ok(())
        },
    )?;
    linker.func_wrap(
        "codemode",
        "console",
        |mut caller: Caller<'_, HostState>, level: i32, ptr: u32, len: u32| -> wasmtime::Result<()> {
            let text = read_string(&mut caller, ptr, len.min(1 << 20))?;
            let level = ["log", "info", "warn", "error", "debug"]
                .get(level as usize)
                .copied()
                .unwrap_or("log");
            caller.data_mut().console.console(level, text);
            Ok(())
        },
    )?;
    Ok(())
}

/// errno values of WASI preview 1.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_SPIPE: i32 = 70;

/// The nine WASI functions QuickJS needs, without any access to the host.
fn link_wasi_stubs(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    const WASI: &str = "wasi_snapshot_preview1";
    linker.func_wrap(
        WASI,
        "random_get",
        |mut caller: Caller<'_, HostState>, ptr: u32, len: u32| -> wasmtime::Result<i32> {
            let mut bytes = vec![0u8; len as usize];
            let state = caller.data_mut();
            for b in &mut bytes {
                state.rng ^= state.rng << 13;
                state.rng ^= state.rng >> 7;
                state.rng ^= state.rng << 17;
                *b = (state.rng >> 24) as u8;
            }
            memory(&mut caller)?.write(&mut caller, ptr as usize, &bytes)?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut caller: Caller<'_, HostState>, count: u32, size: u32| -> wasmtime::Result<i32> {
            let mem = memory(&mut caller)?;
            mem.write(&mut caller, count as usize, &0u32.to_le_bytes())?;
            mem.write(&mut caller, size as usize, &0u32.to_le_bytes())?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(WASI, "environ_get", |_: Caller<'_, HostState>, _: u32, _: u32| -> i32 {
        ERRNO_SUCCESS
    })?;
    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut caller: Caller<'_, HostState>, _clock: u32, _precision: u64, out: u32| -> wasmtime::Result<i32> {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            memory(&mut caller)?.write(&mut caller, out as usize, &nanos.to_le_bytes())?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(WASI, "fd_close", |_: Caller<'_, HostState>, _fd: u32| -> i32 {
        ERRNO_BADF
    })?;
    linker.func_wrap(
        WASI,
        "fd_fdstat_get",
        |mut caller: Caller<'_, HostState>, fd: u32, out: u32| -> wasmtime::Result<i32> {
            if fd > 2 {
                return Ok(ERRNO_BADF);
            }
            // filetype 2 (character device), no flags, no rights beyond what stdio needs.
            let mut stat = [0u8; 24];
            stat[0] = 2;
            memory(&mut caller)?.write(&mut caller, out as usize, &stat)?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_seek",
        |_: Caller<'_, HostState>, _: u32, _: i64, _: u32, _: u32| -> i32 { ERRNO_SPIPE },
    )?;
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut caller: Caller<'_, HostState>, fd: u32, iovs: u32, iovs_len: u32, written: u32| -> wasmtime::Result<i32> {
            if fd != 1 && fd != 2 {
                return Ok(ERRNO_BADF);
            }
            let mem = memory(&mut caller)?;
            let mut total = 0u32;
            let mut text = Vec::new();
            for i in 0..iovs_len.min(64) {
                let mut iov = [0u8; 8];
                mem.read(&caller, (iovs + i * 8) as usize, &mut iov)?;
                let ptr = u32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
                let len = u32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]).min(1 << 16);
                let mut buf = vec![0u8; len as usize];
                mem.read(&caller, ptr as usize, &mut buf)?;
                text.extend_from_slice(&buf);
                total += len;
            }
            let line = String::from_utf8_lossy(&text).trim_end().to_string();
            if !line.is_empty() {
                caller
                    .data_mut()
                    .console
                    .console(if fd == 2 { "error" } else { "log" }, line);
            }
            mem.write(&mut caller, written as usize, &total.to_le_bytes())?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "proc_exit",
        |_: Caller<'_, HostState>, code: u32| -> wasmtime::Result<()> {
            Err(wasmtime::Error::msg(format!("the guest exited with status {code}")))
        },
    )?;
    Ok(())
}

fn create_wasm(_config: &Value) -> Result<Arc<dyn RunEnvironment>, CodeModeError> {
    WasmEnvironment::new()
        .map(|e| Arc::new(e) as Arc<dyn RunEnvironment>)
        .map_err(|e| CodeModeError::Config(e.to_string()))
}

inventory::submit! {
    RunEnvironmentFactory {
        name: "wasm",
        description: "QuickJS in wasmtime: a fresh instance per run, no I/O but the tool bridge (default)",
        create: create_wasm,
    }
}
