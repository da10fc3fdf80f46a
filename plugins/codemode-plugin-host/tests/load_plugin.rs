//! Loads the real example plugin (`plugins/example-plugin`, built here as a shared library)
//! through the C ABI, and runs a program against its tools in the wasm sandbox.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use codemode_core::{CodeMode, ResultType, RunOptions, ToolError, ToolProvider};
use codemode_plugin_host::{PluginError, PluginToolProvider};
use serde_json::json;

/// Builds the example plugin once, into its own target directory (the outer cargo holds
/// the lock of the shared one while tests run), and returns the library's path.
fn example_plugin() -> PathBuf {
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
                .args(["build", "--quiet", "-p", "codemode-example-plugin", "--target-dir"])
                .arg(&target)
                .current_dir(&workspace)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the example plugin failed");
            let file = format!(
                "{}codemode_example_plugin{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            );
            target.join("debug").join(file)
        })
        .clone()
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
        assert!(err.to_string().contains("does not export `codemode_plugin_v1`"));
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
    let report = codemode.execute_program(program, &RunOptions::default()).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.output, json!("desserts 3"));
}
