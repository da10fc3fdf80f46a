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
//!
//! One module per job: [`engine`] (the pooled engine and its epoch ticker), [`cache`] (the
//! compiled guest on disk), [`snapshot`] (the wizer pre-initialization), [`host`] (the
//! bridge imports and per-run state), [`wasi`] (the stubbed WASI calls), [`meter`] (the CPU
//! meter and how a trap becomes a failure) and [`run`] (one program, start to end).

mod cache;
mod engine;
mod host;
mod meter;
mod run;
mod snapshot;
mod wasi;

use std::sync::Arc;

use async_trait::async_trait;
use codemode_traits::registry::{FactoryContext, RunEnvironmentFactory};
use codemode_traits::{CodeModeError, ExecutionRequest, RunEnvironment, RunOutcome, ToolBridge};
use tokio::sync::Semaphore;
use wasmtime::{Engine, InstancePre, Linker};

use self::host::HostState;

/// The guest, built by `cargo xtask guest` (committed so users need no wasm toolchain).
pub(crate) const GUEST_WASM: &[u8] = include_bytes!("../../guest/codemode_guest.wasm");

/// Runs that may execute at once by default (slots in the pooling allocator).
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// Why the sandbox could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// wasmtime rejected the configuration or the guest.
    #[error("the wasm sandbox could not be set up: {0}")]
    Setup(String),
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

/// A setup failure of wasmtime or the guest.
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
        let engine = engine::pooled(slots)?;
        let linker = linker(&engine)?;
        let (module, snapshot) = cache::load_module(&engine)?;
        let pre = linker.instantiate_pre(&module).map_err(setup)?;
        engine::start_epoch_ticker(&engine)?;
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
}

#[async_trait]
impl RunEnvironment for WasmEnvironment {
    fn name(&self) -> &str {
        "wasm"
    }

    async fn execute(&self, request: ExecutionRequest, bridge: Arc<dyn ToolBridge>) -> RunOutcome {
        run::run(self, &request, bridge).await
    }
}

fn create_wasm(_: &FactoryContext) -> Result<Arc<dyn RunEnvironment>, CodeModeError> {
    WasmEnvironment::new()
        .map(|e| Arc::new(e) as Arc<dyn RunEnvironment>)
        .map_err(|e| CodeModeError::factory("run environment", "wasm", e))
}

inventory::submit! {
    RunEnvironmentFactory {
        name: "wasm",
        description: "QuickJS in wasmtime: a fresh instance per run, no I/O but the tool bridge (default)",
        create: create_wasm,
    }
}

/// The guest's only imports: the bridge and the hand-written WASI stubs.
fn linker(engine: &Engine) -> Result<Linker<HostState>, WasmError> {
    let mut linker = Linker::new(engine);
    host::link_bridge(&mut linker).map_err(setup)?;
    wasi::link_stubs(&mut linker).map_err(setup)?;
    Ok(linker)
}
