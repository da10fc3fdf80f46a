//! Loads the real example plugin (`plugins/example-plugin`, built here as a shared library)
//! through the C ABI, and runs a program against its tools in the wasm sandbox; loads the
//! example model and run environment by name from a plugin folder and uses them.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use codemode_core::{CodeMode, Llm, LlmRequest, LlmRole, Message, ResultType, RunOptions, ToolError, ToolProvider};
use codemode_plugin_host::{PluginEnvironment, PluginError, PluginKind, PluginLlm, PluginSource, PluginToolProvider};
use serde_json::json;

/// Builds the three example plugins once, into their own target directory (their few
/// dependencies build in seconds), and returns the folder that holds the libraries.
fn built_plugins() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            // Next to the test binary: target/debug/deps/<test> -> target/plugin-test.
            let target = std::env::current_exe()
                .unwrap()
                .ancestors()
                .nth(3)
                .unwrap()
                .join("plugin-test");
            let status = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "--target-dir"])
                .arg(&target)
                .args(["-p", "codemode-example-plugin", "-p", "codemode-example-llm-plugin"])
                .args(["-p", "codemode-example-environment-plugin"])
                .current_dir(&workspace)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the example plugins failed");
            target.join("debug")
        })
        .clone()
}

fn library(crate_name: &str) -> PathBuf {
    let file = format!(
        "{}{crate_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    built_plugins().join(file)
}

fn example_plugin() -> PathBuf {
    library("codemode_example_plugin")
}

/// A plugin folder as a user would make one: the three libraries copied into it.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "codemode_example_plugin",
        "codemode_example_llm_plugin",
        "codemode_example_environment_plugin",
    ] {
        let from = library(name);
        std::fs::copy(&from, dir.path().join(from.file_name().unwrap())).unwrap();
    }
    dir
}

#[tokio::test]
async fn the_example_plugin_lists_and_calls_its_tools() {
    let plugin = PluginToolProvider::load("text", example_plugin(), json!({"shout": true})).unwrap();
    assert_eq!(plugin.plugin_name(), "text");
    let tools = plugin.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["reverse", "word_count"]);
    assert!(tools[0].output_schema.is_some());
    let reversed = plugin.call_tool("reverse", json!({"text": "abc"})).await.unwrap();
    assert_eq!(reversed, json!({"text": "CBA"}));
    let err = plugin.call_tool("reverse", json!({})).await.unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m == "`reverse` needs a string `text`"),
        "{err:?}"
    );
}

#[tokio::test]
async fn calls_run_concurrently_from_many_tasks() {
    let plugin = Arc::new(PluginToolProvider::load("text", example_plugin(), json!(null)).unwrap());
    let calls = (0..64).map(|i| {
        let plugin = plugin.clone();
        tokio::spawn(async move { plugin.call_tool("word_count", json!({"text": "a b ".repeat(i)})).await })
    });
    for (i, call) in calls.enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), json!({"words": 2 * i}));
    }
}

#[test]
fn bad_plugins_are_refused_with_clear_errors() {
    let missing = PluginToolProvider::load("x", "/nonexistent/libplugin.so", json!(null)).unwrap_err();
    assert!(matches!(missing, PluginError::Open { .. }), "{missing}");
    assert!(
        missing
            .to_string()
            .starts_with("cannot load plugin /nonexistent/libplugin.so")
    );

    // A real shared library that is not a plugin: the C math library.
    let libm = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists());
    if let Some(libm) = libm {
        let err = PluginToolProvider::load("x", libm, json!(null)).unwrap_err();
        assert!(matches!(err, PluginError::NotAPlugin { .. }), "{err}");
        assert!(err.to_string().contains("does not export `codemode_plugin`"));
    }

    let refused = PluginToolProvider::load("x", example_plugin(), json!({"shout": "loud"})).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "plugin text refused its configuration: `shout` must be true or false, not \"loud\""
    );
}

#[tokio::test]
async fn a_program_in_the_sandbox_uses_the_plugin() {
    let plugin = PluginToolProvider::load("text", example_plugin(), json!({})).unwrap();
    let codemode = CodeMode::builder()
        .tool_provider("text", Arc::new(plugin))
        .environment(Arc::new(codemode_env_local::WasmEnvironment::new().unwrap()))
        .build()
        .await
        .unwrap();
    assert!(
        codemode
            .declarations()
            .contains("word_count(input: TextWordCountInput): Promise<TextWordCountOutput>;")
    );
    let program = r#"const { text } = await tools.text.reverse({ text: "stressed" });
const { words } = await tools.text.word_count({ text: "one two three" });
return `${text} ${words}`;"#;
    let report = codemode
        .run(codemode_core::RunRequest::program(program, RunOptions::default()))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!("desserts 3"));
}

/// A fake OpenAI-compatible server (a test double for a model server): answers each
/// request on loopback with `answer` as the completion, and hands back the request bodies.
fn fake_openai_server(answer: &'static str) -> (String, std::sync::mpsc::Receiver<serde_json::Value>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (bodies, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(&stream);
            let (mut line, mut length) = (String::new(), 0);
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with("POST /v1/chat/completions "), "{line}");
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(n) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = n.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = bodies.send(serde_json::from_slice(&body).unwrap());
            let response = json!({
                "choices": [{"message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 3}
            })
            .to_string();
            // Chunked, as Node's http server answers without a length.
            let mut writer = &stream;
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{response}\r\n0\r\n\r\n",
                response.len()
            )
            .unwrap();
        }
    });
    (url, received)
}

#[tokio::test]
async fn the_example_model_is_found_by_name_and_answers_through_the_abi() {
    let dir = plugin_dir();
    let (url, bodies) = fake_openai_server("hello from the server");
    let source = PluginSource::named("openai-http", &[dir.path().to_path_buf()]);
    let model = PluginLlm::load(source, json!({"model": "tiny-1", "base_url": url, "temperature": 0.0})).unwrap();
    assert_eq!(model.plugin_name(), "openai-http");
    assert_eq!(model.model_name(), Some("tiny-1"));
    let request = LlmRequest {
        role: LlmRole::Main,
        step: "implement".into(),
        messages: vec![Message::system("be brief"), Message::user("hi")],
        max_output_tokens: Some(64),
        sampling: Default::default(),
        functions: Vec::new(),
    };
    let response = model.complete(&request).await.unwrap();
    assert_eq!(response.text, "hello from the server");
    assert_eq!(
        (response.usage.prompt_tokens, response.usage.completion_tokens),
        (12, 3)
    );
    let sent = bodies.recv().unwrap();
    assert_eq!(sent["model"], "tiny-1");
    assert_eq!(sent["max_tokens"], 64);
    assert_eq!(sent["messages"][1], json!({"role": "user", "content": "hi"}));

    // A server that is not there is an error the pipeline can report, not a hang.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let model = PluginLlm::load(
        library("codemode_example_llm_plugin"),
        json!({"model": "m", "base_url": gone}),
    )
    .unwrap();
    let err = model.complete(&request).await.unwrap_err().to_string();
    assert!(err.contains("plugin openai-http: cannot connect"), "{err}");
}

async fn with_plugin_environment(program: &str, options: RunOptions) -> codemode_core::RunReport {
    let dir = plugin_dir();
    let environment = PluginEnvironment::load(
        PluginSource::named("node-subprocess", &[dir.path().to_path_buf()]),
        json!(null),
    )
    .unwrap();
    let text = PluginToolProvider::load(
        "text",
        PluginSource::named("text", &[dir.path().to_path_buf()]),
        json!({}),
    )
    .unwrap();
    let codemode = CodeMode::builder()
        .tool_provider("text", Arc::new(text))
        .environment(Arc::new(environment))
        .build()
        .await
        .unwrap();
    codemode
        .run(codemode_core::RunRequest::program(program, options.clone()))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_example_environment_runs_programs_whose_tool_calls_go_through_the_host() {
    let program = r#"console.log("start");
const [a, b] = await Promise.all([
  tools.text.reverse({ text: "stressed" }),
  tools.text.word_count({ text: "one two three" }),
]);
return { reversed: a.text, words: b.words };"#;
    let report = with_plugin_environment(program, RunOptions::default()).await;
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!({"reversed": "desserts", "words": 3}));
    assert_eq!(report.console, ["start"]);
    // The host's bridge saw and recorded both calls.
    let mut paths: Vec<&str> = report.tool_calls.iter().map(|c| c.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["text.reverse", "text.word_count"]);

    let thrown = with_plugin_environment("const x = 1;\nthrow new Error('no luck');", RunOptions::default()).await;
    assert_eq!(thrown.result_type, ResultType::RuntimeError, "{thrown:#?}");
    assert!(
        thrown.error.as_deref().unwrap_or_default().contains("no luck"),
        "{thrown:#?}"
    );

    // The host's limits hold inside the plugin: the tool-call limit ends the run even when
    // the program catches the error, and the wall-clock limit kills the process.
    let limited = RunOptions {
        max_tool_calls: 1,
        ..RunOptions::default()
    };
    let greedy =
        "for (let i = 0; i < 3; i++) { try { await tools.text.word_count({ text: 'a' }); } catch (e) {} }\nreturn 1;";
    let report = with_plugin_environment(greedy, limited).await;
    assert_eq!(report.result_type, ResultType::ToolCallLimit, "{report:#?}");
    let short = RunOptions {
        total_execution_timeout: 1.0,
        ..RunOptions::default()
    };
    let report = with_plugin_environment("while (true) {}", short).await;
    assert_eq!(report.result_type, ResultType::Timeout, "{report:#?}");
}

#[test]
fn a_plugin_of_another_kind_or_a_missing_name_is_a_clear_error() {
    let err = PluginLlm::load(example_plugin(), json!(null)).unwrap_err();
    assert!(
        matches!(
            err,
            PluginError::WrongKind {
                expected: PluginKind::Llm,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("plugin `text` is a tool_provider plugin, not a llm plugin"),
        "{err}"
    );

    let dir = plugin_dir();
    let err = PluginEnvironment::load(
        PluginSource::named("deno-wasm", &[dir.path().to_path_buf()]),
        json!(null),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, PluginError::NotFound { .. }), "{message}");
    assert!(
        message.starts_with("no run_environment plugin named `deno-wasm` in the plugin folders ["),
        "{message}"
    );
    assert!(message.contains("CODEMODE_PLUGIN_PATH"), "{message}");
    // What is there is listed, so a typo is easy to see.
    assert!(
        message.contains("run_environment `node-subprocess`") && message.contains("llm `openai-http`"),
        "{message}"
    );
}

/// A library built here with `rustc` from `source`: a stand-in for a plugin built against
/// another version of the ABI.
fn foreign_library(dir: &std::path::Path, name: &str, source: &str) -> PathBuf {
    let file = dir.join(format!("{name}.rs"));
    std::fs::write(&file, source).unwrap();
    let out = dir.join(format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let status = Command::new("rustc")
        .args(["--crate-type", "cdylib", "--edition", "2024", "-o"])
        .arg(&out)
        .arg(&file)
        .status()
        .expect("rustc runs");
    assert!(status.success(), "compiling {name} failed");
    out
}

#[test]
fn plugins_built_for_another_abi_version_are_told_to_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = foreign_library(
        dir.path(),
        "old_plugin",
        "#[unsafe(no_mangle)]\npub extern \"C\" fn codemode_plugin_v1() -> *const u8 { std::ptr::null() }\n",
    );
    let err = PluginToolProvider::load("x", v1, json!(null)).unwrap_err();
    assert!(matches!(err, PluginError::AbiVersion { found: 1, .. }), "{err}");
    assert!(
        err.to_string()
            .contains("implements plugin ABI version 1; this codemode needs version 2: rebuild"),
        "{err}"
    );

    // A newer plugin: the version is read before anything else of its table is used.
    let v7 = foreign_library(
        dir.path(),
        "new_plugin",
        r#"
#[repr(C)]
pub struct Table { abi_version: u32, functions: [usize; 5] }
pub static TABLE: Table = Table { abi_version: 7, functions: [0; 5] };
#[unsafe(no_mangle)]
pub extern "C" fn codemode_plugin() -> *const Table { &TABLE }
"#,
    );
    let err = PluginLlm::load(v7, json!(null)).unwrap_err();
    assert!(matches!(err, PluginError::AbiVersion { found: 7, .. }), "{err}");
}
