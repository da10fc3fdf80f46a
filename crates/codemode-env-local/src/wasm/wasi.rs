//! The nine WASI preview 1 functions QuickJS needs (clock, random, stdout/stderr, ...),
//! stubbed by hand: no files, no environment, no sockets.

use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, Linker};

use super::host::{HostState, memory};

/// errno values of WASI preview 1.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_SPIPE: i32 = 70;

/// The nine WASI functions QuickJS needs, without any access to the host.
pub(super) fn link_stubs(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
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
