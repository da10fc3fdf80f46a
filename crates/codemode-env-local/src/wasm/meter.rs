//! Metering and classification: the CPU time a run spends executing guest code, and how a
//! trap becomes the failure a user can act on.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use codemode_traits::{FailureKind, RunFailure};
use wasmtime::{Store, Trap};

use super::host::HostState;

/// Time spent executing the guest, measured around each poll of the run's future.
#[derive(Default)]
pub(super) struct CpuMeter {
    used: Duration,
    polling_since: Option<Instant>,
}

impl CpuMeter {
    pub(super) fn used(&self) -> Duration {
        self.used + self.polling_since.map_or(Duration::ZERO, |t| t.elapsed())
    }
}

/// Polls `inner`, charging the time spent inside each poll to `meter`.
pub(super) struct Metered<'a, T> {
    pub(super) inner: Pin<Box<dyn Future<Output = T> + Send + 'a>>,
    pub(super) meter: Arc<Mutex<CpuMeter>>,
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

/// Maps a trap to the failure a user can act on.
pub(super) fn classify(error: wasmtime::Error, store: &Store<HostState>, timeout: Duration) -> RunFailure {
    if let Some(failure) = &store.data().ended_by {
        return failure.clone();
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => RunFailure::timeout(timeout),
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
