//! The host side of the guest's imports: per-run state, the bridge (`start_call`,
//! `wait_any`, `result_len`, `result_read`, `console`, `start_timer`, `cancel_timer`) and
//! the random seed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codemode_traits::{BridgeError, FailureKind, RunFailure, ToolBridge};
use futures::StreamExt;
use futures::future::{AbortHandle, BoxFuture, abortable};
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use wasmtime::{Caller, Extern, Linker, Memory, StoreLimits};

use crate::console::ConsoleCapture;

/// A tool call under way: its id and, when it finishes, its result.
type PendingCall = BoxFuture<'static, (i32, Result<Value, BridgeError>)>;

/// What one run's store holds.
pub(super) struct HostState {
    /// The memory cap.
    pub(super) limits: StoreLimits,
    /// Where tool calls go (`None` while the guest is being snapshotted).
    pub(super) bridge: Option<Arc<dyn ToolBridge>>,
    /// Calls started and not yet handed back to the guest.
    pub(super) pending: FuturesUnordered<PendingCall>,
    /// The id of the last call started.
    pub(super) next_id: i32,
    /// The finished call's answer, until the guest reads it.
    pub(super) finished: Vec<u8>,
    /// The program's console output.
    pub(super) console: ConsoleCapture,
    /// Why the host stopped the run, when it did (deadline, budget, call limit).
    pub(super) ended_by: Option<RunFailure>,
    /// Cap on values crossing the bridge, in bytes of JSON.
    pub(super) max_value_bytes: usize,
    /// State of the `random_get` generator.
    pub(super) rng: u64,
    /// Timers under way, to cancel them.
    pub(super) timers: HashMap<i32, AbortHandle>,
}

impl HostState {
    pub(super) fn new(
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
            timers: HashMap::new(),
        }
    }
}

/// A per-process, per-moment seed for the guest's random state.
fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ 0x9E37_79B9_7F4A_7C15 ^ (std::process::id() as u64) << 32
}

/// Four well-mixed 32-bit words from `seed` (splitmix64), the state of the guest's
/// `Math.random`.
pub(super) fn random_words(seed: u64) -> [u32; 4] {
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

/// The guest's exported memory.
pub(super) fn memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(wasmtime::Error::msg("the guest exports no memory")),
    }
}

/// `len` bytes at `ptr` of the guest's memory, as text.
fn read_string(caller: &mut Caller<'_, HostState>, ptr: u32, len: u32) -> wasmtime::Result<String> {
    let mem = memory(caller)?;
    let mut buf = vec![0u8; len as usize];
    mem.read(&caller, ptr as usize, &mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The `codemode` imports: `start_call`, `wait_any`, `result_len`, `result_read`, `console`,
/// `start_timer`, `cancel_timer`.
pub(super) fn link_bridge(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
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
            state.timers.remove(&id);
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
    linker.func_wrap(
        "codemode",
        "start_timer",
        |mut caller: Caller<'_, HostState>, ms: f64| -> i32 {
            let state = caller.data_mut();
            state.next_id += 1;
            let id = state.next_id;
            // At most a day: the run's deadline ends it long before.
            let delay = Duration::from_secs_f64((ms / 1000.0).clamp(0.0, 86_400.0));
            let (sleep, handle) = abortable(tokio::time::sleep(delay));
            state.timers.insert(id, handle);
            state.pending.push(Box::pin(async move {
                // A cancelled timer finishes too; the guest has forgotten its id.
                let _ = sleep.await;
                (id, Ok(Value::Null))
            }));
            id
        },
    )?;
    linker.func_wrap(
        "codemode",
        "cancel_timer",
        |mut caller: Caller<'_, HostState>, id: i32| {
            if let Some(handle) = caller.data_mut().timers.remove(&id) {
                handle.abort();
            }
        },
    )?;
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
