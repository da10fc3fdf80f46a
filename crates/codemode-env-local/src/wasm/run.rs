//! One program, start to end: a pool slot, a store with its limits and epoch callback, a
//! fresh instance of the snapshot, the input written in, `cm_run`, the answer read back.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use codemode_traits::{ExecutionLimits, ExecutionRequest, FailureKind, RunFailure, RunOutcome, ToolBridge};
use serde_json::{Value, json};
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};

use super::WasmEnvironment;
use super::host::{HostState, random_words};
use super::meter::{CpuMeter, Metered, classify};
use crate::console::ConsoleCapture;

/// Bytes in a wasm page.
const WASM_PAGE: u64 = 64 * 1024;

/// Runs one program in a fresh instance; the console is kept whatever the ending.
pub(super) async fn run(env: &WasmEnvironment, request: &ExecutionRequest, bridge: Arc<dyn ToolBridge>) -> RunOutcome {
    let _slot = match env.slots.acquire().await {
        Ok(slot) => slot,
        Err(e) => {
            return RunOutcome {
                result: Err(RunFailure::new(
                    FailureKind::Environment,
                    format!("no sandbox slot: {e}"),
                )),
                console: Vec::new(),
            };
        }
    };
    let limits = request.limits;
    let meter = Arc::new(Mutex::new(CpuMeter::default()));
    let mut store = new_store(env, &limits, bridge.clone(), meter.clone());
    let work = call_guest(env, &mut store, request, bridge.tool_paths(), &limits);
    let outcome = tokio::time::timeout(
        limits.total_timeout,
        Metered {
            inner: Box::pin(work),
            meter,
        },
    )
    .await;
    let console = std::mem::take(&mut store.data_mut().console).into_lines();
    let result = match outcome {
        Err(_) => Err(RunFailure::timeout(limits.total_timeout)),
        Ok(Err(failure)) => Err(failure),
        Ok(Ok(out)) => decode(&out, &limits),
    };
    RunOutcome { result, console }
}

/// A store with the run's memory cap and an epoch callback that enforces the wall clock and
/// the CPU budget (and yields to the executor between ticks).
fn new_store(
    env: &WasmEnvironment,
    limits: &ExecutionLimits,
    bridge: Arc<dyn ToolBridge>,
    meter: Arc<Mutex<CpuMeter>>,
) -> Store<HostState> {
    let memory = usize::try_from(limits.memory_limit_bytes).unwrap_or(usize::MAX);
    let store_limits = StoreLimitsBuilder::new()
        .memory_size(memory)
        .instances(1)
        .trap_on_grow_failure(false)
        .build();
    let state = HostState::new(
        store_limits,
        Some(bridge),
        ConsoleCapture::new(limits.max_console_bytes),
        limits.max_value_bytes,
    );
    let mut store = Store::new(&env.engine, state);
    store.limiter(|s| &mut s.limits);
    let wall_deadline = Instant::now() + limits.total_timeout;
    let total_timeout = limits.total_timeout;
    let cpu_budget = limits.cpu_time.min(total_timeout);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |mut ctx| {
        if Instant::now() >= wall_deadline {
            ctx.data_mut().ended_by = Some(RunFailure::timeout(total_timeout));
            return Ok(UpdateDeadline::Interrupt);
        }
        // Only a budget below the wall clock can run out first.
        let used = meter.lock().map(|m| m.used()).unwrap_or_default();
        if cpu_budget < total_timeout && used > cpu_budget {
            ctx.data_mut().ended_by = Some(RunFailure::cpu_time(cpu_budget));
            return Ok(UpdateDeadline::Interrupt);
        }
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

/// Instantiates the guest, writes the input into new pages and calls `cm_run`; returns the
/// guest's answer (JSON bytes).
async fn call_guest(
    env: &WasmEnvironment,
    store: &mut Store<HostState>,
    request: &ExecutionRequest,
    paths: Vec<String>,
    limits: &ExecutionLimits,
) -> Result<Vec<u8>, RunFailure> {
    let internal = |what: &str, e: wasmtime::Error| RunFailure::new(FailureKind::Environment, format!("{what}: {e}"));
    let seed = store.data().rng;
    let instance = env
        .pre
        .instantiate_async(&mut *store)
        .await
        .map_err(|e| internal("instantiate", e))?;
    let memory = instance
        .get_memory(&mut *store, "memory")
        .ok_or_else(|| RunFailure::new(FailureKind::Environment, "the guest exports no memory"))?;
    let run = instance
        .get_typed_func::<(u32, u32), u32>(&mut *store, "cm_run")
        .map_err(|e| internal("cm_run", e))?;
    let input = json!({
        "code": request.javascript,
        "paths": paths,
        "max_value_bytes": limits.max_value_bytes,
        "seed": random_words(seed),
    })
    .to_string();
    // The input goes into new pages above the guest's heap (its allocator never hands out
    // memory below its own break, so these pages stay the input's).
    let pages = (input.len() as u64).div_ceil(WASM_PAGE).max(1);
    let at = memory.grow(&mut *store, pages).map_err(|_| {
        RunFailure::new(
            FailureKind::MemoryLimit,
            "the program and tool list do not fit in memory_limit_mb",
        )
    })? * WASM_PAGE;
    memory
        .write(&mut *store, at as usize, input.as_bytes())
        .map_err(|e| internal("write input", e.into()))?;
    let place = run
        .call_async(&mut *store, (at as u32, input.len() as u32))
        .await
        .map_err(|e| classify(e, store, limits.total_timeout))?;
    let mut words = [0u8; 8];
    memory
        .read(&*store, place as usize, &mut words)
        .map_err(|e| internal("read output place", e.into()))?;
    let out_ptr = u32::from_le_bytes([words[0], words[1], words[2], words[3]]);
    let len = u32::from_le_bytes([words[4], words[5], words[6], words[7]]);
    let mut out = vec![0u8; len as usize];
    memory
        .read(&*store, out_ptr as usize, &mut out)
        .map_err(|e| internal("read output", e.into()))?;
    Ok(out)
}

/// The guest's answer, `{"ok": true, "json"}` or `{"ok": false, "name", "message", "line"}`,
/// as the run's result.
fn decode(out: &[u8], limits: &ExecutionLimits) -> Result<Value, RunFailure> {
    let out: Value = serde_json::from_slice(out)
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
        return serde_json::from_str(json)
            .map_err(|e| RunFailure::new(FailureKind::Environment, format!("the returned value is not JSON: {e}")));
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
