//! The engines: a pooled one for runs, with an epoch ticker thread, and an unoptimizing one
//! for the run-once snapshot.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::{WasmError, setup};

/// How often the epoch advances (the granularity of the time limits).
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The wasm stack limit: a backstop behind QuickJS's own stack check.
const MAX_WASM_STACK: usize = 32 * 1024 * 1024;
/// The fiber stack a run executes on (must exceed `MAX_WASM_STACK`).
const ASYNC_STACK: usize = MAX_WASM_STACK + 1024 * 1024;
/// The largest linear memory a slot can hold (all of wasm32).
const SLOT_MEMORY: usize = 4 << 30;

/// An engine with epoch interruption and a pool of `slots` instances.
pub(super) fn pooled(slots: u32) -> Result<Engine, WasmError> {
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
    Engine::new(&config).map_err(setup)
}

/// An engine for code that runs once: compiled without optimizations.
pub(super) fn run_once() -> Result<Engine, WasmError> {
    let mut config = Config::new();
    config
        .cranelift_opt_level(OptLevel::None)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK);
    Engine::new(&config).map_err(setup)
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] on a thread of its own, until the engine
/// is dropped.
pub(super) fn start_epoch_ticker(engine: &Engine) -> Result<(), WasmError> {
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
    Ok(())
}
