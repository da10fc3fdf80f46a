//! The embedded sandbox: QuickJS compiled to wasm (the guest in `guest/`), run by wasmtime.
//!
//! The guest's `cm_init` (create the JS runtime and context, evaluate the prelude) runs once,
//! when the module is first built: `wasmtime-wizer` snapshots the initialized instance into a
//! new module, so a run starts from a ready engine instead of building one. The snapshot is
//! compiled once per process and cached on disk, keyed by the engine's compatibility hash and
//! the guest's bytes. Every run gets a fresh instance of it from the pooling allocator (a
//! semaphore sized to the pool makes extra runs wait for a slot instead of failing) and
//! reseeds `Math.random`. The guest has no WASI preopens, no sockets, no environment
//! variables: nine WASI functions are stubbed by hand (clock, random, stdout/stderr writes,
//! ...), and the only way out is the bridge (`start_call`, `wait_any`).
//!
//! Limits: an epoch callback every 10 ms checks the wall clock and the CPU budget (time spent
//! executing guest code, measured around each poll of the run; waiting for tool calls is not
//! charged) and yields to the async executor, so `while (true) {}` neither escapes its limits
//! nor starves other tasks. `StoreLimits` caps memory (a failed grow is a catchable
//! out-of-memory error in JS); QuickJS's stack check turns deep recursion into a catchable
//! `RangeError`, with a wasm stack limit behind it. Console output and values crossing the
//! bridge are capped. After any trap the instance is dropped.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use codemode_core::registry::RunEnvironmentFactory;
use codemode_core::{
    BridgeError, CodeModeError, ExecutionRequest, FailureKind, RunEnvironment, RunFailure, RunOutcome, ToolBridge,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use wasmtime::{
    Caller, Config, Engine, Extern, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module, OptLevel,
    PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder, Trap, UpdateDeadline, Val,
};
use wasmtime_wizer::{InstanceState, SnapshotVal, Wizer};

use crate::console::ConsoleCapture;
use crate::{cpu_failure, timeout_failure};

/// The guest, built by `cargo xtask guest` (committed so users need no wasm toolchain).
pub const GUEST_WASM: &[u8] = include_bytes!("../guest/codemode_guest.wasm");

/// How often the epoch advances (the granularity of the time limits).
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The wasm stack limit: a backstop behind QuickJS's own stack check.
const MAX_WASM_STACK: usize = 32 * 1024 * 1024;
/// The fiber stack a run executes on (must exceed `MAX_WASM_STACK`).
const ASYNC_STACK: usize = MAX_WASM_STACK + 1024 * 1024;
/// Runs that may execute at once by default (slots in the pooling allocator).
pub const DEFAULT_POOL_SIZE: u32 = 16;
/// The largest linear memory a slot can hold (all of wasm32).
const SLOT_MEMORY: usize = 4 << 30;
/// Bytes in a wasm page.
const WASM_PAGE: u64 = 64 * 1024;
/// Bumped when the snapshot's contents change for reasons other than the guest's bytes.
const SNAPSHOT_FORMAT: u32 = 1;

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
    bridge: Option<Arc<dyn ToolBridge>>,
    pending: FuturesUnordered<PendingCall>,
    next_id: i32,
    finished: Vec<u8>,
    console: ConsoleCapture,
    ended_by: Option<RunFailure>,
    max_value_bytes: usize,
    rng: u64,
}

impl HostState {
    fn new(
        limits: StoreLimits,
        bridge: Option<Arc<dyn ToolBridge>>,
        console: ConsoleCapture,
        max_value: usize,
    ) -> Self {
        Self {
            limits,
            bridge,
            pending: FuturesUnordered::new(),
            next_id: 0,
            finished: Vec::new(),
            console,
            ended_by: None,
            max_value_bytes: max_value,
            rng: seed(),
        }
    }
}

/// Time spent executing the guest, measured around each poll of the run's future.
#[derive(Default)]
struct CpuMeter {
    used: Duration,
    polling_since: Option<Instant>,
}

impl CpuMeter {
    fn used(&self) -> Duration {
        self.used + self.polling_since.map_or(Duration::ZERO, |t| t.elapsed())
    }
}

/// Polls `inner`, charging the time spent inside each poll to `meter`.
struct Metered<'a, T> {
    inner: Pin<Box<dyn Future<Output = T> + Send + 'a>>,
    meter: Arc<Mutex<CpuMeter>>,
}

impl<T> Future for Metered<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let started = Instant::now();
        if let Ok(mut m) = self.meter.lock() {
            m.polling_since = Some(started);
        }
        let result = self.inner.as_mut().poll(cx);
        if let Ok(mut m) = self.meter.lock() {
            m.used += started.elapsed();
            m.polling_since = None;
        }
        result
    }
}

/// Runs programs in a fresh QuickJS-in-wasm instance each time.
#[derive(Clone)]
pub struct WasmEnvironment {
    engine: Engine,
    pre: InstancePre<HostState>,
    slots: Arc<Semaphore>,
    snapshot: bool,
}

impl std::fmt::Debug for WasmEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEnvironment")
            .field("slots", &self.slots.available_permits())
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

fn setup<E: std::fmt::Display>(e: E) -> WasmError {
    WasmError::Setup(e.to_string())
}

impl WasmEnvironment {
    /// Compiles (or loads from the on-disk cache) the pre-initialized guest and links the
    /// host functions, with [`DEFAULT_POOL_SIZE`] slots for concurrent runs.
    pub fn new() -> Result<Self, WasmError> {
        Self::with_pool_size(DEFAULT_POOL_SIZE)
    }

    /// Like [`WasmEnvironment::new`] with `slots` runs at once; further runs wait for a slot.
    pub fn with_pool_size(slots: u32) -> Result<Self, WasmError> {
        let slots = slots.max(1);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(slots)
            .total_memories(slots)
            .total_tables(slots)
            .total_stacks(slots)
            .max_memory_size(SLOT_MEMORY)
            .linear_memory_keep_resident(4 << 20);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .async_stack_size(ASYNC_STACK)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(setup)?;
        let linker = host_linker(&engine)?;
        let (module, snapshot) = load_module(&engine)?;
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
        Ok(Self {
            engine,
            pre,
            slots: Arc::new(Semaphore::new(slots as usize)),
            snapshot,
        })
    }

    /// Whether runs start from the pre-initialized snapshot (false only if snapshotting
    /// failed and the plain guest is used; the reason is logged).
    pub fn is_snapshot(&self) -> bool {
        self.snapshot
    }

    async fn run(
        &self,
        request: &ExecutionRequest,
        bridge: Arc<dyn ToolBridge>,
        state_out: &mut Option<ConsoleCapture>,
    ) -> Result<Value, RunFailure> {
        let limits = request.limits;
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| RunFailure::new(FailureKind::Environment, format!("no sandbox slot: {e}")))?;
        let memory = usize::try_from(limits.memory_limit_bytes).unwrap_or(usize::MAX);
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(memory)
            .instances(1)
            .trap_on_grow_failure(false)
            .build();
        let state = HostState::new(
            store_limits,
            Some(bridge.clone()),
            ConsoleCapture::new(limits.max_console_bytes),
            limits.max_value_bytes,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let meter = Arc::new(Mutex::new(CpuMeter::default()));
        let wall_deadline = Instant::now() + limits.total_timeout;
        let cpu_budget = limits.cpu_time.min(limits.total_timeout);
        let watch = meter.clone();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            if Instant::now() >= wall_deadline {
                ctx.data_mut().ended_by = Some(timeout_failure(limits.total_timeout));
                return Ok(UpdateDeadline::Interrupt);
            }
            // Only a budget below the wall clock can run out first.
            let used = watch.lock().map(|m| m.used()).unwrap_or_default();
            if cpu_budget < limits.total_timeout && used > cpu_budget {
                ctx.data_mut().ended_by = Some(cpu_failure(cpu_budget));
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        let internal =
            |what: &str, e: wasmtime::Error| RunFailure::new(FailureKind::Environment, format!("{what}: {e}"));
        let seed = store.data().rng;
        let work = async {
            let instance = self
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| internal("instantiate", e))?;
            let memory = instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| RunFailure::new(FailureKind::Environment, "the guest exports no memory"))?;
            let run = instance
                .get_typed_func::<(u32, u32), u32>(&mut store, "cm_run")
                .map_err(|e| internal("cm_run", e))?;
            let input = json!({
                "code": request.javascript,
                "paths": bridge.tool_paths(),
                "max_value_bytes": limits.max_value_bytes,
                "seed": random_words(seed),
            })
            .to_string();
            // The input goes into new pages above the guest's heap (its allocator never
            // hands out memory below its own break, so these pages stay the input's).
            let pages = (input.len() as u64).div_ceil(WASM_PAGE).max(1);
            let at = memory.grow(&mut store, pages).map_err(|_| {
                RunFailure::new(
                    FailureKind::MemoryLimit,
                    "the program and tool list do not fit in memory_limit_mb",
                )
            })? * WASM_PAGE;
            memory
                .write(&mut store, at as usize, input.as_bytes())
                .map_err(|e| internal("write input", e.into()))?;
            let place = run
                .call_async(&mut store, (at as u32, input.len() as u32))
                .await
                .map_err(|e| classify(e, &store, limits.total_timeout))?;
            let mut words = [0u8; 8];
            memory
                .read(&store, place as usize, &mut words)
                .map_err(|e| internal("read output place", e.into()))?;
            let out_ptr = u32::from_le_bytes([words[0], words[1], words[2], words[3]]);
            let len = u32::from_le_bytes([words[4], words[5], words[6], words[7]]);
            let mut out = vec![0u8; len as usize];
            memory
                .read(&store, out_ptr as usize, &mut out)
                .map_err(|e| internal("read output", e.into()))?;
            Ok::<Vec<u8>, RunFailure>(out)
        };
        let metered = Metered {
            inner: Box::pin(work),
            meter,
        };
        let outcome = tokio::time::timeout(limits.total_timeout, metered).await;
        *state_out = Some(std::mem::take(&mut store.data_mut().console));
        let out = match outcome {
            Err(_) => return Err(timeout_failure(limits.total_timeout)),
            Ok(Err(failure)) => return Err(failure),
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

/// Maps a trap to the failure a user can act on.
fn classify(error: wasmtime::Error, store: &Store<HostState>, timeout: Duration) -> RunFailure {
    if let Some(failure) = &store.data().ended_by {
        return failure.clone();
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => timeout_failure(timeout),
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

/// Four well-mixed 32-bit words from `seed` (splitmix64), the state of the guest's
/// `Math.random`.
fn random_words(seed: u64) -> [u32; 4] {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    [(a >> 32) as u32, a as u32, (b >> 32) as u32, b as u32]
}

fn cache_dir() -> PathBuf {
    std::env::var_os("CODEMODE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("codemode")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/codemode")))
        .unwrap_or_else(|| std::env::temp_dir().join("codemode-cache"))
}

/// The compiled, pre-initialized guest: loaded from the on-disk cache, or snapshotted and
/// compiled now (and cached). Falls back to the plain guest if snapshotting fails.
fn load_module(engine: &Engine) -> Result<(Module, bool), WasmError> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    GUEST_WASM.hash(&mut hasher);
    SNAPSHOT_FORMAT.hash(&mut hasher);
    let key = format!("{:016x}", hasher.finish());
    let dir = cache_dir();
    let path = dir.join(format!("guest-{key}.cwasm"));
    if path.is_file() {
        // SAFETY: the file was written by `Module::serialize` of an engine with the same
        // compatibility hash (it is in the file name); a corrupt file fails to load and is
        // rebuilt below.
        match unsafe { Module::deserialize_file(engine, &path) } {
            Ok(module) => {
                // Mark the entry as in use, so pruning keeps it over entries of older builds.
                let used = std::fs::File::options()
                    .append(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                if let Err(e) = used {
                    tracing::debug!(error = %e, "cannot mark the module cache entry as used");
                }
                return Ok((module, true));
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring a bad module cache entry"),
        }
    }
    let (module, snapshot) = match snapshot_guest() {
        Ok(bytes) => (Module::new(engine, &bytes).map_err(setup)?, true),
        Err(e) => {
            tracing::warn!(error = %e, "cannot pre-initialize the guest; runs will initialize it each time");
            (Module::new(engine, GUEST_WASM).map_err(setup)?, false)
        }
    };
    if !snapshot {
        return Ok((module, false));
    }
    match module.serialize() {
        Ok(bytes) => {
            let tmp = dir.join(format!("guest-{key}.{}.tmp", std::process::id()));
            let written = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&tmp, bytes))
                .and_then(|()| std::fs::rename(&tmp, &path));
            match written {
                Ok(()) => prune_module_cache(&dir, &path),
                Err(e) => tracing::debug!(error = %e, "cannot cache the compiled guest"),
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot serialize the compiled guest"),
    }
    Ok((module, true))
}

/// How many compiled guests the module cache keeps: one per codemode build (or wasmtime
/// configuration) in use on the machine. Each weighs ~3 MB; without a bound every upgrade
/// would leave one behind.
const MODULE_CACHE_ENTRIES: usize = 4;

/// Deletes all but the [`MODULE_CACHE_ENTRIES`] most recently used compiled guests in `dir`
/// (never `current`), and temporary files that a crashed writer left for over an hour.
fn prune_module_cache(dir: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut modules = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with("guest-") || path == current {
            continue;
        }
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if name.ends_with(".cwasm") {
            modules.push((modified, path));
        } else if name.ends_with(".tmp") && now.duration_since(modified).unwrap_or_default() > Duration::from_secs(3600)
        {
            remove_cache_file(&path);
        }
    }
    modules.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, path) in modules.iter().skip(MODULE_CACHE_ENTRIES.saturating_sub(1)) {
        remove_cache_file(path);
    }
}

fn remove_cache_file(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!(path = %path.display(), "pruned a module cache entry"),
        Err(e) => tracing::debug!(path = %path.display(), error = %e, "cannot prune a module cache entry"),
    }
}

/// Reads an instance's state for `wasmtime-wizer`.
struct SnapshotSource<'a> {
    store: &'a mut Store<HostState>,
    instance: wasmtime::Instance,
    missing: Option<String>,
}

impl InstanceState for SnapshotSource<'_> {
    async fn global_get(&mut self, name: &str, _: wasmtime_wizer::ValType) -> SnapshotVal {
        let value = self
            .instance
            .get_global(&mut *self.store, name)
            .map(|g| g.get(&mut *self.store));
        match value {
            Some(Val::I32(x)) => SnapshotVal::I32(x),
            Some(Val::I64(x)) => SnapshotVal::I64(x),
            Some(Val::F32(x)) => SnapshotVal::F32(x),
            Some(Val::F64(x)) => SnapshotVal::F64(x),
            Some(Val::V128(x)) => SnapshotVal::V128(x.as_u128()),
            _ => {
                self.missing = Some(format!("global {name}"));
                SnapshotVal::I32(0)
            }
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        match self.instance.get_memory(&mut *self.store, name) {
            Some(memory) => contents(memory.data(&*self.store)),
            None => {
                self.missing = Some(format!("memory {name}"));
                contents(&[]);
            }
        }
    }
}

/// Runs the guest's `cm_init` once and returns a module whose initial state is the result.
/// The instrumented module runs once, so it is compiled by its own engine without
/// optimizations (the snapshot is then compiled, optimized, by the caller's engine).
fn snapshot_guest() -> Result<Vec<u8>, WasmError> {
    let mut config = Config::new();
    config
        .cranelift_opt_level(OptLevel::None)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK);
    let engine = Engine::new(&config).map_err(setup)?;
    let linker = host_linker(&engine)?;
    let mut wizer = Wizer::new();
    wizer.init_func("cm_init");
    let (cx, instrumented) = wizer.instrument(GUEST_WASM).map_err(setup)?;
    let module = Module::new(&engine, &instrumented).map_err(setup)?;
    let state = HostState::new(
        StoreLimitsBuilder::new().build(),
        None,
        ConsoleCapture::new(64 * 1024),
        0,
    );
    let mut store = Store::new(&engine, state);
    let work = async {
        let instance = linker.instantiate_async(&mut store, &module).await.map_err(setup)?;
        let init = instance
            .get_typed_func::<(), ()>(&mut store, "cm_init")
            .map_err(setup)?;
        init.call_async(&mut store, ()).await.map_err(setup)?;
        let mut source = SnapshotSource {
            store: &mut store,
            instance,
            missing: None,
        };
        let bytes = wizer.snapshot(&cx, &mut source).await.map_err(setup)?;
        if let Some(what) = source.missing {
            return Err(WasmError::Setup(format!("the instrumented guest lacks {what}")));
        }
        Ok(bytes)
    };
    block_on_ready(work)?
}

/// Drives a future that never waits on I/O (guest initialization calls no async import) to
/// completion on the current thread.
fn block_on_ready<T>(future: impl Future<Output = T>) -> Result<T, WasmError> {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return Ok(value);
        }
    }
    Err(WasmError::Setup("guest initialization did not finish".into()))
}

/// The guest's only imports: the bridge and the hand-written WASI stubs.
fn host_linker(engine: &Engine) -> Result<Linker<HostState>, WasmError> {
    let mut linker = Linker::new(engine);
    link_bridge(&mut linker).map_err(setup)?;
    link_wasi_stubs(&mut linker).map_err(setup)?;
    Ok(linker)
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
            let Some(bridge) = state.bridge.clone() else {
                return Err(wasmtime::Error::msg(
                    "tool calls are not available while the guest initializes",
                ));
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path, seconds: u64) {
        let file = std::fs::File::options().append(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(seconds))
            .unwrap();
    }

    #[test]
    fn module_cache_keeps_the_most_recent_entries_and_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |i: usize| dir.path().join(format!("guest-{i:016x}.cwasm"));
        for i in 0..7 {
            std::fs::write(entry(i), b"module").unwrap();
            // Entry 0 is the oldest; entry 6 the newest.
            age(&entry(i), 1000 - 100 * i as u64);
        }
        let stale_tmp = dir.path().join("guest-00.123.tmp");
        let fresh_tmp = dir.path().join("guest-01.456.tmp");
        std::fs::write(&stale_tmp, b"partial").unwrap();
        std::fs::write(&fresh_tmp, b"partial").unwrap();
        age(&stale_tmp, 7200);
        let unrelated = dir.path().join("notes.txt");
        std::fs::write(&unrelated, b"not ours").unwrap();

        // The current entry is the oldest of all and still stays.
        prune_module_cache(dir.path(), &entry(0));

        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "guest-0000000000000000.cwasm",
                "guest-0000000000000004.cwasm",
                "guest-0000000000000005.cwasm",
                "guest-0000000000000006.cwasm",
                "guest-01.456.tmp",
                "notes.txt",
            ]
        );
    }
}
