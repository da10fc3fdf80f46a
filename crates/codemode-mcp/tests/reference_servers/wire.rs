//! What a server writes: garbage, oversized answers, noise, list changes; its process ends with the provider.

use super::*;

#[tokio::test]
async fn garbage_on_stdout_fails_the_call_in_flight_at_once() {
    let provider = McpToolProvider::connect("confused", &fixture("garbage-instead-of-answer", None))
        .await
        .unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), provider.call_tool("work", json!({})))
        .await
        .expect("the call does not wait for a timeout")
        .unwrap_err();
    let message = unavailable_message(&err);
    assert!(
        message.contains("not JSON-RPC") && message.contains("Traceback (most recent call last): not an answer"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed at once: {:?}",
        started.elapsed()
    );
}

/// An answer over rmcp's 16 MiB line limit was dropped by rmcp and the call waited for its
/// timeout; now it fails at once, naming the size and the limit, and the server stays usable.
#[tokio::test]
async fn an_answer_over_the_size_limit_fails_the_call_at_once() {
    let provider = McpToolProvider::connect("huge", &fixture("huge-answer", None))
        .await
        .unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(20), provider.call_tool("work", json!({})))
        .await
        .expect("the call does not wait for a timeout")
        .unwrap_err();
    let ToolError::Failed(message) = &err else {
        panic!("expected a failed call, got {err:?}")
    };
    assert!(
        message.contains("17.0 MB") && message.contains("over the 16 MiB limit"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // The connection survives: the next call is answered (again too large, again at once).
    let again = tokio::time::timeout(Duration::from_secs(20), provider.call_tool("work", json!({})))
        .await
        .expect("the second call does not wait either");
    assert!(matches!(again, Err(ToolError::Failed(_))), "{again:?}");
}

#[tokio::test]
async fn noise_on_stdout_around_answers_is_tolerated() {
    // Lines that are not JSON-RPC before the handshake and before each answer: the answers
    // still arrive within the grace period, so the calls succeed.
    let provider = McpToolProvider::connect("noisy", &fixture("garbage", None))
        .await
        .unwrap();
    assert_eq!(provider.list_tools().await.unwrap()[0].name, "work");
    assert_eq!(provider.call_tool("work", json!({})).await.unwrap(), json!({"call": 1}));
}

#[tokio::test]
async fn tools_list_changed_refreshes_the_catalog() {
    let provider: Arc<dyn ToolProvider> = Arc::new(
        McpToolProvider::connect("dynamic", &fixture("list-changed", None))
            .await
            .unwrap(),
    );
    let cm = node_codemode("dynamic", provider).await;
    assert_eq!(cm.catalog().tool_paths(), vec!["dynamic.work"]);
    let report = cm
        .run(codemode_core::RunRequest::program(
            "return await tools.dynamic.work({});",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(report.output, json!({"call": 1}));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = cm
        .run(codemode_core::RunRequest::program(
            "return await tools.dynamic.added_later({});",
            RunOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(cm.catalog().tool_paths(), vec!["dynamic.added_later", "dynamic.work"]);
}

#[tokio::test]
async fn dropping_the_provider_ends_the_server_process() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("received.jsonl");
    let provider = McpToolProvider::connect("short_lived", &fixture("hang", Some(&log)))
        .await
        .unwrap();
    provider.list_tools().await.unwrap();
    let pids_before = fixture_pids(&log);
    assert!(!pids_before.is_empty(), "the fixture server runs");
    drop(provider);
    for _ in 0..50 {
        if fixture_pids(&log).iter().all(|p| !pids_before.contains(p)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server process outlived its provider: {:?}", fixture_pids(&log));
}

/// PIDs of running fixture servers in "hang" mode started by this test binary that log to
/// `log` (other tests run fixtures of their own at the same time).
fn fixture_pids(log: &std::path::Path) -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let is_fixture = String::from_utf8_lossy(&cmdline).contains("misbehaving_server.mjs");
        let environ = String::from_utf8_lossy(&environ);
        let is_hang = environ.contains("FIXTURE_MODE=hang") && environ.contains(&*log.to_string_lossy());
        let zombie = status.lines().any(|l| l.starts_with("State:") && l.contains('Z'));
        let is_child = status
            .lines()
            .any(|l| l.starts_with("PPid:") && l.split_whitespace().nth(1) == Some(me.as_str()));
        if is_fixture && is_hang && is_child && !zombie {
            pids.push(pid);
        }
    }
    pids
}
