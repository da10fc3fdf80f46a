//! Tests of the ABI's support: dispatch, panics, host callbacks, descriptions.

use std::ffi::{CStr, CString};

use serde_json::{Value, json};

use crate::messages::{Message, MessageRole, Request, ToolCallAnswer};
use crate::support::{self, Dispatch, Environment, Model, Tools};
use crate::*;

struct Panicky;

impl PluginToolProvider for Panicky {
    fn create(config: Value) -> Result<Self, String> {
        match config.get("refuse") {
            Some(_) => Err("refused by config".into()),
            None => Ok(Panicky),
        }
    }
    fn list_tools(&self) -> Result<Vec<ToolDescription>, String> {
        Ok(vec![ToolDescription::new(
            "boom",
            "Explodes",
            json!({"type": "object"}),
        )])
    }
    fn call_tool(&self, _name: &str, _arguments: Value) -> Result<Value, String> {
        panic!("kaboom")
    }
}

fn answer(text: *mut std::ffi::c_char) -> Value {
    // SAFETY: made by support::call, freed right after.
    let value = serde_json::from_str(&unsafe { CStr::from_ptr(text) }.to_string_lossy()).unwrap();
    unsafe { support::free_string(text) };
    value
}

#[test]
fn panics_become_errors_and_create_reports_refusals() {
    type D = Tools<Panicky>;
    let config = CString::new(r#"{"refuse": true}"#).unwrap();
    let mut error = std::ptr::null_mut();
    // SAFETY: valid strings and pointer.
    let instance = unsafe { support::create::<D>(config.as_ptr(), &mut error) };
    assert!(instance.is_null());
    // SAFETY: set by create.
    assert_eq!(unsafe { CStr::from_ptr(error) }.to_str().unwrap(), "refused by config");
    unsafe { support::free_string(error) };

    let instance = unsafe { support::create::<D>(std::ptr::null(), &mut error) };
    assert!(!instance.is_null());
    let none = std::ptr::null();
    let list = CString::new(r#"{"method": "list_tools"}"#).unwrap();
    assert_eq!(
        answer(unsafe { support::call::<D>(instance, list.as_ptr(), none) }),
        json!({"ok": [{"name": "boom", "description": "Explodes", "inputSchema": {"type": "object"}}]})
    );
    let call = CString::new(r#"{"method": "call_tool", "name": "boom", "arguments": {}}"#).unwrap();
    let failed = answer(unsafe { support::call::<D>(instance, call.as_ptr(), none) });
    assert_eq!(failed, json!({"error": "the plugin panicked: kaboom"}));
    let bad = CString::new("not json").unwrap();
    let failed = answer(unsafe { support::call::<D>(instance, bad.as_ptr(), none) });
    assert!(failed["error"].as_str().unwrap().starts_with("bad request"));
    let wrong =
        CString::new(r#"{"method": "complete", "request": {"role": "main", "step": "plan", "messages": []}}"#).unwrap();
    let failed = answer(unsafe { support::call::<D>(instance, wrong.as_ptr(), none) });
    assert_eq!(failed, json!({"error": "a tool provider has no method `complete`"}));
    unsafe { support::destroy::<D>(instance) };
}

struct Echo;

impl PluginLlm for Echo {
    fn create(_config: Value) -> Result<Self, String> {
        Ok(Echo)
    }
    fn complete(&self, request: CompleteRequest) -> Result<Completion, String> {
        Ok(Completion::text(&request.messages[0].content))
    }
}

/// Calls `tools.math.double` through the host for each number it is given.
struct Doubler;

impl PluginRunEnvironment for Doubler {
    fn create(_config: Value) -> Result<Self, String> {
        Ok(Doubler)
    }
    fn execute(&self, request: ExecuteRequest, host: &Host<'_>) -> Result<ExecuteAnswer, String> {
        let n = request.javascript.parse::<i64>().unwrap();
        Ok(match host.call_tool("math.double", json!({"n": n})) {
            Ok(v) => ExecuteAnswer {
                end: ExecuteEnd::Value(v),
                console: Vec::new(),
            },
            Err(e) => ExecuteAnswer {
                end: ExecuteEnd::Failure(ExecuteFailure {
                    kind: FailureKind::Tool,
                    message: e.message,
                    line: None,
                    column: None,
                }),
                console: vec![format!("ends_run={}", e.ends_run)],
            },
        })
    }
}

unsafe extern "C" fn host_call_tool(
    context: *mut std::ffi::c_void,
    request: *const std::ffi::c_char,
) -> *mut std::ffi::c_char {
    // SAFETY: the test passes a counter and a valid request.
    let calls = unsafe { &*(context as *const std::sync::atomic::AtomicUsize) };
    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let request: Value = serde_json::from_str(&unsafe { CStr::from_ptr(request) }.to_string_lossy()).unwrap();
    let n = request["arguments"]["n"].as_i64().unwrap();
    let answer = if n < 0 {
        ToolCallAnswer::Error {
            error: "negative".into(),
            ends_run: true,
        }
    } else {
        ToolCallAnswer::Ok { ok: json!(n * 2) }
    };
    CString::new(serde_json::to_string(&answer).unwrap())
        .unwrap()
        .into_raw()
}

unsafe extern "C" fn host_free(string: *mut std::ffi::c_char) {
    // SAFETY: made by host_call_tool.
    drop(unsafe { CString::from_raw(string) });
}

#[test]
fn each_kind_answers_its_own_methods_and_environments_call_back_into_the_host() {
    let model = Model::<Echo>::create(Value::Null).unwrap();
    let request: Request = serde_json::from_value(
        json!({"method": "complete", "request": {"role": "main", "step": "implement", "messages": [{"role": "user", "content": "hi"}]}}),
    )
    .unwrap();
    assert_eq!(
        model.handle(request, None).unwrap(),
        json!({"text": "hi", "truncated": false})
    );
    assert!(model.handle(Request::ListTools, None).is_err());

    let calls = std::sync::atomic::AtomicUsize::new(0);
    let callbacks = HostCallbacks {
        context: &calls as *const _ as *mut std::ffi::c_void,
        call_tool: host_call_tool,
        free_string: host_free,
    };
    let host = Host { callbacks: &callbacks };
    let env = Environment::<Doubler>::create(Value::Null).unwrap();
    let execute =
        |n: &str| -> Request { serde_json::from_value(json!({"method": "execute", "javascript": n})).unwrap() };
    let run = |n: &str| env.handle(execute(n), Some(&host)).unwrap();
    assert_eq!(run("21"), json!({"value": 42, "console": []}));
    let failed = run("-1");
    assert_eq!(failed["failure"]["message"], "negative");
    assert_eq!(failed["console"][0], "ends_run=true");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    let without_host = env.handle(execute("1"), None);
    assert!(without_host.unwrap_err().contains("host's callbacks"));
}

#[test]
fn the_description_names_the_abi_and_the_kind() {
    let d: Value = serde_json::from_str(&__describe(PluginKind::Llm, "x", "y", "1.0.0")).unwrap();
    assert_eq!(d["abi_version"], ABI_VERSION);
    assert_eq!(d["kind"], "llm");
    let read: Description = serde_json::from_value(d).unwrap();
    assert_eq!((read.kind, read.name.as_str()), (PluginKind::Llm, "x"));
}

#[test]
fn messages_keep_the_wire_format_of_abi_version_2() {
    // Requests as the host of ABI version 2 has always sent them.
    let call: Request =
        serde_json::from_str(r#"{"method": "call_tool", "name": "hello", "arguments": {"a": 1}}"#).unwrap();
    assert_eq!(
        call,
        Request::CallTool {
            name: "hello".into(),
            arguments: json!({"a": 1})
        }
    );
    let complete = json!({"method": "complete", "request": {"role": "tiny", "step": "filter", "max_output_tokens": 64,
        "messages": [{"role": "system", "content": "pick"}, {"role": "tool", "content": "3", "call_id": "c1"}]}});
    let Request::Complete { request } = serde_json::from_value(complete.clone()).unwrap() else {
        panic!("not a completion");
    };
    assert_eq!(request.messages[1].role, MessageRole::Tool);
    assert_eq!(request.messages[1].call_id.as_deref(), Some("c1"));
    assert_eq!(serde_json::to_value(Request::Complete { request }).unwrap(), complete);
    let message = Message {
        role: MessageRole::User,
        content: "hi".into(),
        calls: Vec::new(),
        call_id: None,
    };
    assert_eq!(
        serde_json::to_value(&message).unwrap(),
        json!({"role": "user", "content": "hi"})
    );

    // Answers: a failure and a value, each with its console.
    let failed: ExecuteAnswer = serde_json::from_value(
        json!({"failure": {"kind": "timeout", "message": "too slow", "line": 3}, "console": ["a"]}),
    )
    .unwrap();
    assert!(matches!(&failed.end, ExecuteEnd::Failure(f) if f.kind == FailureKind::Timeout && f.line == Some(3)));
    let value = ExecuteAnswer {
        end: ExecuteEnd::Value(json!([1, 2])),
        console: vec!["b".into()],
    };
    assert_eq!(
        serde_json::to_value(value).unwrap(),
        json!({"value": [1, 2], "console": ["b"]})
    );
    let tool: ToolDescription = serde_json::from_value(json!({"name": "t"})).unwrap();
    assert_eq!(tool.input_schema, json!({"type": "object"}));
    let error: ToolCallAnswer = serde_json::from_value(json!({"error": "no"})).unwrap();
    assert_eq!(
        error,
        ToolCallAnswer::Error {
            error: "no".into(),
            ends_run: false
        }
    );
    // An unknown method is a clear error, not a silent default.
    let unknown = serde_json::from_value::<Request>(json!({"method": "explode"})).unwrap_err();
    assert!(unknown.to_string().contains("explode"), "{unknown}");
}
