//! The E2B environment over real HTTP on loopback, against a fake of E2B (a test double: the
//! real service needs an account and runs microVMs). The fake speaks E2B's control-plane
//! API (`POST /sandboxes`, `DELETE /sandboxes/{id}`) and envd's process API the way envd
//! does: Connect server streaming for `process.Process/Start` (enveloped JSON events with
//! base64 stdout/stderr) and unary JSON for `process.Process/SendInput`. Its "sandbox" runs
//! the requested command as a real local process, so the runner, the bootstrap script and
//! the protocol are all exercised for real.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use codemode_core::{CodeMode, ResultType, RunOptions, ToolError, ToolProvider, ToolSpec};
use codemode_env_e2b::{E2bConfig, E2bEnvironment};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, mpsc};

const API_KEY: &str = "e2b_test_0123456789abcdef0123";
const ENVD_TOKEN: &str = "envd_token_fedcba9876543210";

#[derive(Default)]
struct FakeE2b {
    created: Mutex<Vec<Value>>,
    deleted: Mutex<Vec<String>>,
    starts: Mutex<Vec<Value>>,
    stdins: Mutex<HashMap<u32, tokio::process::ChildStdin>>,
}

type Fake = State<Arc<FakeE2b>>;

fn json_response(status: StatusCode, value: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(value.to_string()))
        .unwrap()
}

fn connect_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, json!({"code": code, "message": message}))
}

fn envelope(flags: u8, message: &Value) -> Bytes {
    let body = serde_json::to_vec(message).unwrap();
    let mut out = vec![flags];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    Bytes::from(out)
}

async fn create_sandbox(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
        // Like many APIs, the fake echoes the key it got: the client must not repeat it.
        let got = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"code": 401, "message": format!("Invalid API key {got}")}),
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap();
    let mut created = fake.created.lock().await;
    created.push(body.clone());
    let id = format!("sbx{}", created.len());
    json_response(
        StatusCode::CREATED,
        json!({
            "templateID": body["templateID"], "sandboxID": id, "clientID": "fake-client",
            "envdVersion": "0.4.2", "envdAccessToken": ENVD_TOKEN, "domain": null
        }),
    )
}

async fn delete_sandbox(State(fake): Fake, Path(id): Path<String>, headers: HeaderMap) -> StatusCode {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
        return StatusCode::UNAUTHORIZED;
    }
    fake.deleted.lock().await.push(id);
    StatusCode::NO_CONTENT
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("x-access-token").and_then(|v| v.to_str().ok()) == Some(ENVD_TOKEN)
}

async fn start_process(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return connect_error(StatusCode::UNAUTHORIZED, "unauthenticated", "bad access token");
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/connect+json") {
        return connect_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_argument",
            "expected application/connect+json",
        );
    }
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let request: Value = serde_json::from_slice(&body[5..5 + len]).unwrap();
    fake.starts.lock().await.push(request.clone());
    let process = &request["process"];
    let args: Vec<String> = process["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let mut command = tokio::process::Command::new(process["cmd"].as_str().unwrap());
    command
        .args(&args)
        .env_clear()
        // A sandbox user's login environment has a PATH; nothing else of the host.
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in process["envs"].as_object().unwrap() {
        command.env(k, v.as_str().unwrap());
    }
    let mut child = command.spawn().unwrap();
    let pid = child.id().unwrap();
    fake.stdins.lock().await.insert(pid, child.stdin.take().unwrap());
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    tx.send(envelope(0, &json!({"event": {"start": {"pid": pid}}})))
        .unwrap();
    let forward = |mut pipe: Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                   stream: &'static str,
                   tx: mpsc::UnboundedSender<Bytes>| {
        tokio::spawn(async move {
            let mut chunk = vec![0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                let event = json!({"event": {"data": {stream: BASE64.encode(&chunk[..n])}}});
                if tx.send(envelope(0, &event)).is_err() {
                    break;
                }
            }
        })
    };
    let out = forward(Box::new(child.stdout.take().unwrap()), "stdout", tx.clone());
    let err = forward(Box::new(child.stderr.take().unwrap()), "stderr", tx.clone());
    tokio::spawn(async move {
        let status = child.wait().await.unwrap();
        let _ = out.await;
        let _ = err.await;
        let end = json!({"event": {"end": {"exitCode": status.code().unwrap_or(-1), "exited": true, "status": status.to_string()}}});
        let _ = tx.send(envelope(0, &end));
        let _ = tx.send(envelope(0x02, &json!({})));
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, std::io::Error>(b), rx))
    });
    Response::builder()
        .header("content-type", "application/connect+json")
        .body(Body::from_stream(stream))
        .unwrap()
}

async fn send_input(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return connect_error(StatusCode::UNAUTHORIZED, "unauthenticated", "bad access token");
    }
    let request: Value = serde_json::from_slice(&body).unwrap();
    let pid = request["process"]["pid"].as_u64().unwrap() as u32;
    let bytes = BASE64.decode(request["input"]["stdin"].as_str().unwrap()).unwrap();
    let mut stdins = fake.stdins.lock().await;
    let Some(stdin) = stdins.get_mut(&pid) else {
        return connect_error(StatusCode::NOT_FOUND, "not_found", "process not found");
    };
    if stdin.write_all(&bytes).await.is_err() {
        return connect_error(StatusCode::BAD_REQUEST, "failed_precondition", "process exited");
    }
    json_response(StatusCode::OK, json!({}))
}

async fn serve(fake: Arc<FakeE2b>) -> String {
    let app = Router::new()
        .route("/sandboxes", post(create_sandbox))
        .route("/sandboxes/{id}", delete(delete_sandbox))
        .route("/process.Process/Start", post(start_process))
        .route("/process.Process/SendInput", post(send_input))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn environment(url: &str, config: E2bConfig) -> E2bEnvironment {
    let config = E2bConfig {
        api_url: Some(url.into()),
        envd_url: Some(url.into()),
        ..config
    };
    E2bEnvironment::with_api_key(config, API_KEY).unwrap()
}

/// A tool provider test double: `math.add` adds, `math.slow` never answers in time.
struct Math;

#[async_trait]
impl ToolProvider for Math {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let pair = json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]});
        Ok(vec![ToolSpec::new("add", "Adds two numbers", pair)])
    }

    async fn call_tool(&self, _name: &str, arguments: Value) -> Result<Value, ToolError> {
        Ok(json!(
            arguments["a"].as_f64().unwrap_or(0.0) + arguments["b"].as_f64().unwrap_or(0.0)
        ))
    }
}

async fn codemode(env: E2bEnvironment) -> CodeMode {
    CodeMode::builder()
        .tool_provider("math", Arc::new(Math))
        .environment(Arc::new(env))
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_program_runs_in_a_fresh_sandbox_that_is_deleted_afterwards() {
    let fake = Arc::new(FakeE2b::default());
    let url = serve(fake.clone()).await;
    let cm = codemode(environment(&url, E2bConfig::default())).await;
    let program = r#"const [x, y] = await Promise.all([tools.math.add({ a: 1, b: 2 }), tools.math.add({ a: 3, b: 4 })]);
console.log("sums", x, y);
return { total: x + y, process: typeof process, require: typeof require };"#;
    let report = cm
        .run(codemode_core::RunRequest::program(program, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    // The runner's own guards hold inside the sandbox too.
    assert_eq!(
        report.output,
        json!({"total": 10, "process": "undefined", "require": "undefined"})
    );
    assert_eq!(report.console, ["sums 3 7"]);
    assert_eq!(report.tool_calls.len(), 2);

    let created = fake.created.lock().await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["templateID"], "base");
    assert_eq!(created[0]["allow_internet_access"], false);
    assert_eq!(created[0]["envVars"], json!({}));
    assert_eq!(*fake.deleted.lock().await, ["sbx1"]);
    let starts = fake.starts.lock().await;
    assert_eq!(starts[0]["process"]["envs"], json!({}));
    assert_eq!(starts[0]["stdin"], true);
    // The key never travels to the sandbox.
    assert!(!starts[0].to_string().contains(API_KEY));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_ends_at_the_deadline_and_the_sandbox_is_deleted() {
    let fake = Arc::new(FakeE2b::default());
    let url = serve(fake.clone()).await;
    let cm = codemode(environment(&url, E2bConfig::default())).await;
    let options = RunOptions {
        total_execution_timeout: 1.5,
        ..RunOptions::default()
    };
    let started = Instant::now();
    let report = cm
        .run(codemode_core::RunRequest::program("while (true) {}", options.clone()))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(report.result_type, ResultType::Timeout, "{report:#?}");
    // Stopped near the deadline; the slack covers a busy machine starting the runner.
    assert!(took < Duration::from_secs_f64(1.5 * 1.2 + 3.0), "{took:?}");
    assert_eq!(fake.deleted.lock().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_error_points_at_the_line() {
    let fake = Arc::new(FakeE2b::default());
    let url = serve(fake.clone()).await;
    let cm = codemode(environment(&url, E2bConfig::default())).await;
    let report = cm
        .run(codemode_core::RunRequest::program(
            "const a = 1;\nthrow new TypeError('bad ' + a);",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::RuntimeError, "{report:#?}");
    assert!(
        report.error.as_deref().unwrap_or_default().contains("TypeError: bad 1"),
        "{report:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn work_the_program_did_not_await_finishes_and_a_floating_failure_fails() {
    let fake = Arc::new(FakeE2b::default());
    let url = serve(fake.clone()).await;
    let cm = codemode(environment(&url, E2bConfig::default())).await;
    let program = "const main = async () => {\n  await tools.math.add({ a: 1, b: 2 });\n};\nmain().then(() => console.log('Done'));";
    let report = cm
        .run(codemode_core::RunRequest::program(program, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.tool_calls.len(), 1, "{report:#?}");
    assert_eq!(report.console, ["Done"], "{report:#?}");
    let report = cm
        .run(codemode_core::RunRequest::program(
            "(async () => { await tools.math.add({ a: 1, b: 2 }); throw new TypeError('late'); })();\nreturn 1;",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::RuntimeError, "{report:#?}");
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains("TypeError: late (in a promise the program did not await or catch)"),
        "{error}"
    );
    assert_eq!(fake.deleted.lock().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_that_cannot_start_is_an_environment_error() {
    let fake = Arc::new(FakeE2b::default());
    let url = serve(fake.clone()).await;
    let config = E2bConfig {
        node: Some("/nonexistent/node".into()),
        ..E2bConfig::default()
    };
    let cm = codemode(environment(&url, config)).await;
    let report = cm
        .run(codemode_core::RunRequest::program("return 1;", RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::EnvironmentError, "{report:#?}");
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains("exited") && error.contains("/nonexistent/node"),
        "{error}"
    );
    assert_eq!(fake.deleted.lock().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_key_is_reported_without_the_key() {
    let fake = Arc::new(FakeE2b::default());
    let url = serve(fake.clone()).await;
    let config = E2bConfig {
        api_url: Some(url.clone()),
        envd_url: Some(url),
        ..E2bConfig::default()
    };
    let env = E2bEnvironment::with_api_key(config, "e2b_wrong_key_000000000000").unwrap();
    let cm = codemode(env).await;
    let report = cm
        .run(codemode_core::RunRequest::program("return 1;", RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::EnvironmentError, "{report:#?}");
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains("E2B rejected the API key from E2B_API_KEY (HTTP 401)"),
        "{error}"
    );
    assert!(!error.contains("e2b_wrong_key_000000000000"), "{error}");
    assert!(fake.created.lock().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_limits_hold_in_the_sandbox_and_every_sandbox_is_deleted() {
    let fake = Arc::new(FakeE2b::default());
    let url = serve(fake.clone()).await;
    let cm = codemode(environment(&url, E2bConfig::default())).await;

    let flood = "for (let i = 0; i < 50; i++) await tools.math.add({ a: i, b: 1 });\nreturn 1;";
    let options = RunOptions {
        max_tool_calls: 5,
        ..RunOptions::default()
    };
    let report = cm
        .run(codemode_core::RunRequest::program(flood, options.clone()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::ToolCallLimit, "{report:#?}");

    let huge = "return 'x'.repeat(20 * 1024 * 1024);";
    let report = cm
        .run(codemode_core::RunRequest::program(huge, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::RuntimeError, "{report:#?}");
    assert!(report.error.unwrap_or_default().contains("larger than"));

    let spam = "for (let i = 0; i < 100000; i++) console.log('spam line', i);\nreturn 'done';";
    let report = cm
        .run(codemode_core::RunRequest::program(spam, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert!(report.console.last().unwrap().contains("console output truncated"));

    assert_eq!(fake.created.lock().await.len(), 3);
    assert_eq!(*fake.deleted.lock().await, ["sbx1", "sbx2", "sbx3"]);
}
