//! The sandbox guest: evaluates a program (the body of an async function) in QuickJS and
//! drives its promise to completion, exchanging tool calls with the host through imports.
//!
//! Host imports (module `codemode`):
//! - `start_call(path_ptr, path_len, args_ptr, args_len) -> id`: starts a call, returns at once;
//! - `wait_any() -> id`: waits for the next finished call (negative: none pending);
//! - `result_len() -> len`, `result_read(ptr)`: the finished call's `{"ok":..,"value"|"error":..}`;
//! - `console(level, ptr, len)`;
//! - `start_timer(ms) -> id`: a timer that finishes like a call after `ms` milliseconds;
//! - `cancel_timer(id)`: forgets a timer (it never finishes).
//!
//! Exports: `cm_init()` (create the runtime and context and evaluate the prelude; the host
//! runs it once and snapshots the result with wasmtime-wizer) and
//! `cm_run(ptr, len) -> ptr` (input `{"code", "paths", "max_value_bytes", "seed"}` at
//! `ptr`; returns where `[output_ptr, output_len]` is; the output is
//! `{"ok": true, "json": "..."}` or `{"ok": false, "name", "message", "line"}`).
//!
//! QuickJS's stack check is on (the build patches out its `__wasi__` exception, see
//! `cargo xtask guest`), so deep recursion is a catchable `RangeError`.

use std::cell::RefCell;

use rquickjs::{CatchResultExt, CaughtError, Context, Function, Object, Runtime, Value};
use serde::Deserialize;

#[link(wasm_import_module = "codemode")]
unsafe extern "C" {
    fn start_call(path_ptr: *const u8, path_len: usize, args_ptr: *const u8, args_len: usize) -> i32;
    fn wait_any() -> i32;
    fn result_len() -> usize;
    fn result_read(ptr: *mut u8);
    fn console(level: i32, ptr: *const u8, len: usize);
    fn start_timer(ms: f64) -> i32;
    fn cancel_timer(id: i32);
}

const PRELUDE: &str = include_str!("prelude.js");
/// The line the program starts on inside the wrapper.
const WRAPPER_LINES: u32 = 1;

/// QuickJS's stack limit: below the 1 MiB shadow stack, leaving room for the Rust and C
/// frames around the interpreter.
const JS_STACK: usize = 640 * 1024;

thread_local! {
    static ENGINE: RefCell<Option<(Runtime, Context)>> = const { RefCell::new(None) };
}

#[derive(Deserialize)]
struct Input {
    code: String,
    paths: Vec<String>,
    /// Cap on values crossing the bridge, in bytes of JSON.
    max_value_bytes: f64,
    /// State for `Math.random` (a snapshot would otherwise replay one sequence every run).
    seed: [u32; 4],
}

/// Creates the runtime and context and evaluates the prelude.
fn init() -> Result<(Runtime, Context), String> {
    let runtime = Runtime::new().map_err(|e| format!("cannot create the JS runtime: {e}"))?;
    runtime.set_max_stack_size(JS_STACK);
    runtime.set_host_promise_rejection_tracker(Some(Box::new(|ctx, promise, reason, handled| {
        let track = ctx
            .globals()
            .get::<_, Object>("__cm")
            .and_then(|cm| cm.get::<_, Function>("track"));
        if let Ok(track) = track {
            let _ = track.call::<_, ()>((promise, reason, handled));
        }
    })));
    let context = Context::full(&runtime).map_err(|e| format!("cannot create the JS context: {e}"))?;
    context.with(|ctx| -> Result<(), String> {
        let globals = ctx.globals();
        let start = Function::new(ctx.clone(), |path: String, args: String| -> i32 {
            unsafe { start_call(path.as_ptr(), path.len(), args.as_ptr(), args.len()) }
        })
        .map_err(|e| e.to_string())?;
        let log = Function::new(ctx.clone(), |level: i32, text: String| unsafe { console(level, text.as_ptr(), text.len()) })
            .map_err(|e| e.to_string())?;
        let timer = Function::new(ctx.clone(), |ms: f64| -> i32 { unsafe { start_timer(ms) } }).map_err(|e| e.to_string())?;
        let cancel = Function::new(ctx.clone(), |id: i32| unsafe { cancel_timer(id) }).map_err(|e| e.to_string())?;
        globals.set("__cm_timer", timer).map_err(|e| e.to_string())?;
        globals.set("__cm_cancel", cancel).map_err(|e| e.to_string())?;
        globals.set("__cm_start", start).map_err(|e| e.to_string())?;
        globals.set("__cm_console", log).map_err(|e| e.to_string())?;
        ctx.eval::<(), _>(PRELUDE).catch(&ctx).map_err(|e| caught(e))
    })?;
    Ok((runtime, context))
}

/// Prepares the engine ahead of the first run (the host snapshots the instance after this).
#[unsafe(no_mangle)]
pub extern "C" fn cm_init() {
    ENGINE.with(|engine| {
        if engine.borrow().is_none() {
            if let Ok(ready) = init() {
                *engine.borrow_mut() = Some(ready);
            }
        }
    });
}

/// Runs one program. The host writes the input into pages it grows the memory by (above
/// everything the allocator owns, so nothing here ever reuses them) and passes where it is.
/// Returns a pointer to `[output_ptr, output_len]` (u32 each) of the output JSON; the
/// output is never freed (one run per instance).
///
/// # Safety
/// `ptr..ptr+len` must be memory the host wrote for this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cm_run(ptr: *const u8, len: usize) -> *const u32 {
    let input = unsafe { std::slice::from_raw_parts(ptr, len) };
    let output = match serde_json::from_slice::<Input>(input) {
        Ok(input) => run(&input),
        Err(e) => failure("InternalError", &format!("bad input: {e}"), None),
    };
    let output = output.into_bytes().leak();
    let place = Box::leak(Box::new([output.as_ptr() as u32, output.len() as u32]));
    place.as_ptr()
}

fn failure(name: &str, message: &str, line: Option<u32>) -> String {
    serde_json::json!({"ok": false, "name": name, "message": message, "line": line}).to_string()
}

/// The line of the program (as given) from a QuickJS stack: `at ... (program.js:LINE...)`.
fn stack_line(stack: &str) -> Option<u32> {
    let at = stack.find("program.js:")? + "program.js:".len();
    let digits: String = stack[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<u32>().ok()?.checked_sub(WRAPPER_LINES)
}

/// Said of an error that rejected a promise nothing awaited or caught.
const UNHANDLED: &str = " (in a promise the program did not await or catch)";

/// The failure output for a `{name, message, stack}` object, with `suffix` after the message.
fn described(error: &Object<'_>, suffix: &str) -> String {
    let name: String = error.get("name").unwrap_or_default();
    let message: String = error.get("message").unwrap_or_default();
    let stack: String = error.get("stack").unwrap_or_default();
    failure(&name, &format!("{message}{suffix}"), stack_line(&stack))
}

fn caught(error: CaughtError<'_>) -> String {
    match error {
        CaughtError::Exception(e) => {
            let message = e.message().unwrap_or_default();
            let stack = e.stack().unwrap_or_default();
            let name = e.get::<_, String>("name").unwrap_or_else(|_| "Error".into());
            failure(&name, &message, stack_line(&stack))
        }
        CaughtError::Value(v) => failure("Error", &format!("uncaught {v:?}"), None),
        CaughtError::Error(e) => failure("InternalError", &e.to_string(), None),
    }
}

fn run(input: &Input) -> String {
    let ready = match ENGINE.with(|engine| engine.borrow_mut().take()) {
        Some(ready) => ready,
        None => match init() {
            Ok(ready) => ready,
            Err(out) => return if out.starts_with('{') { out } else { failure("InternalError", &out, None) },
        },
    };
    let (runtime, context) = ready;
    let output = run_in(&runtime, &context, input);
    // The host discards the instance after one run: freeing the JS heap would only cost time.
    std::mem::forget(context);
    std::mem::forget(runtime);
    output
}

fn run_in(runtime: &Runtime, context: &Context, input: &Input) -> String {
    let started = context.with(|ctx| -> Result<(), String> {
        let globals = ctx.globals();
        let wrapped = format!("(async function (tools, console) {{\n{}\n}})", input.code);
        let mut options = rquickjs::context::EvalOptions::default();
        options.filename = Some("program.js".into());
        options.strict = false;
        let program: Function = ctx.eval_with_options(wrapped, options).catch(&ctx).map_err(|e| caught(e))?;
        let cm: Object = globals.get("__cm").map_err(|e| e.to_string())?;
        let run: Function = cm.get("run").map_err(|e| e.to_string())?;
        run.call::<_, ()>((program, input.paths.clone(), input.max_value_bytes, input.seed.to_vec()))
            .catch(&ctx)
            .map_err(|e| caught(e))?;
        Ok(())
    });
    if let Err(out) = started {
        return if out.starts_with('{') { out } else { failure("InternalError", &out, None) };
    }
    loop {
        loop {
            match runtime.execute_pending_job() {
                Ok(true) => continue,
                Ok(false) => break,
                Err(_) => continue,
            }
        }
        // The run ends when the program failed, when a rejection went unhandled, or when its
        // body returned and no tool call it started is still under way (work started and not
        // awaited still finishes, as in Node.js; it is never silently dropped).
        let status = context.with(|ctx| -> Result<Option<String>, String> {
            let cm: Object = ctx.globals().get("__cm").map_err(|e| e.to_string())?;
            let state: Object = cm.get("state").map_err(|e| e.to_string())?;
            let done = state.get::<_, bool>("done").unwrap_or(false);
            let ok = state.get::<_, bool>("ok").unwrap_or(false);
            if done && !ok {
                return Ok(Some(described(&state, "")));
            }
            let unhandled: Function = cm.get("unhandled").map_err(|e| e.to_string())?;
            if let Ok(reason) = unhandled.call::<_, Object>(()) {
                return Ok(Some(described(&reason, UNHANDLED)));
            }
            let pending: Function = cm.get("pending").map_err(|e| e.to_string())?;
            let count: i32 = pending.call(()).map_err(|e| e.to_string())?;
            if done && count == 0 {
                let json: String = state.get("json").unwrap_or_else(|_| "null".into());
                return Ok(Some(serde_json::json!({"ok": true, "json": json}).to_string()));
            }
            if count == 0 {
                return Ok(Some(failure(
                    "Error",
                    "the program is waiting for a promise that can never settle",
                    None,
                )));
            }
            Ok(None)
        });
        match status {
            Ok(Some(out)) => return out,
            Ok(None) => {}
            Err(e) => return failure("InternalError", &e, None),
        }
        let id = unsafe { wait_any() };
        if id < 0 {
            return failure("InternalError", "the host reported no pending tool call", None);
        }
        let len = unsafe { result_len() };
        let mut buf = vec![0u8; len];
        unsafe { result_read(buf.as_mut_ptr()) };
        let settled = context.with(|ctx| -> Result<(), String> {
            let result: serde_json::Value = serde_json::from_slice(&buf).map_err(|e| e.to_string())?;
            let ok = result.get("ok").and_then(serde_json::Value::as_bool).unwrap_or(false);
            let payload = if ok { result.get("value") } else { result.get("error") };
            let json = payload.map(|v| v.to_string()).unwrap_or_else(|| "null".into());
            let cm: Object = ctx.globals().get("__cm").map_err(|e| e.to_string())?;
            let settle: Function = cm.get("settle").map_err(|e| e.to_string())?;
            settle.call::<_, ()>((id, ok, json)).map_err(|e| e.to_string())?;
            let _ = Value::new_undefined(ctx.clone());
            Ok(())
        });
        if let Err(e) = settled {
            return failure("InternalError", &e, None);
        }
    }
}
