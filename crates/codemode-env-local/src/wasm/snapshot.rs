//! Pre-initialization: the guest's `cm_init` runs once and `wasmtime-wizer` turns the
//! initialized instance into a new module, so runs start from a ready JS engine.

use std::future::Future;
use std::task::{Context, Poll};

use wasmtime::{Module, Store, StoreLimitsBuilder, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, Wizer};

use super::host::HostState;
use super::{GUEST_WASM, WasmError, engine, setup};
use crate::console::ConsoleCapture;

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
pub(super) fn snapshot_guest() -> Result<Vec<u8>, WasmError> {
    let engine = engine::run_once()?;
    let linker = super::linker(&engine)?;
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
