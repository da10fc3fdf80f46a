//! The filter step over large catalogs: batches, the search, the tiny model.

use super::*;

#[tokio::test]
async fn filter_over_1000_tools_respects_the_concurrency_cap_and_sees_each_tool_once() {
    let mut catalog = ToolCatalog::new();
    for ns in 0..10 {
        let tools: Vec<ToolSpec> = (0..100)
            .map(|i| {
                ToolSpec::new(
                    format!("tool_{i:03}"),
                    format!("tool {i} of namespace {ns}"),
                    json!({"type": "object"}),
                )
            })
            .collect();
        let provider: Arc<dyn ToolProvider> = Arc::new(StaticToolProvider::new(tools.clone()));
        catalog.add_tools(&format!("ns{ns}"), provider, tools);
    }
    assert_eq!(catalog.len(), 1000);
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "plan")
            .respond_with(LlmRole::Tiny, |req| {
                // Picks tool_007 of each namespace when it is in the batch, by index.
                let listing = &req.messages[1].content;
                let picks: Vec<String> = listing
                    .lines()
                    .filter(|l| l.contains(".tool_007("))
                    .map(|l| l.split('.').next().unwrap().to_string())
                    .collect();
                Ok(format!("Relevant: [{}]", picks.join(", ")))
            })
            .reply(LlmRole::Main, fenced("return 1;"))
            .with_delay(Duration::from_millis(20)),
    );
    let cm = CodeMode::builder()
        .llm(llm.clone())
        .catalog(catalog)
        .environment(codemode::default_environment().unwrap())
        .build()
        .await
        .unwrap();
    let report = cm
        .run(
            RunOptions::new("q")
                .filter_mode(FilterMode::Llm)
                .max_concurrent_threads(5)
                .max_tools_per_prompt(20),
        )
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    let filters: Vec<_> = llm.requests().into_iter().filter(|r| r.step == "filter").collect();
    assert_eq!(filters.len(), 50);
    assert!(
        llm.max_in_flight() <= 5,
        "at most 5 filter prompts in flight, saw {}",
        llm.max_in_flight()
    );
    assert_eq!(llm.max_in_flight(), 5, "the cap was reached");
    let mut seen: Vec<String> = filters
        .iter()
        .flat_map(|r| {
            r.messages[1]
                .content
                .lines()
                .filter_map(|l| {
                    l.split_once(". ")
                        .map(|(_, rest)| rest.split('(').next().unwrap().to_string())
                })
                .filter(|p| p.starts_with("ns"))
                .collect::<Vec<_>>()
        })
        .collect();
    seen.sort();
    let total = seen.len();
    seen.dedup();
    assert_eq!((total, seen.len()), (1000, 1000), "every tool seen exactly once");
    let expected: Vec<String> = (0..10).map(|ns| format!("ns{ns}.tool_007")).collect();
    assert_eq!(report.selected_tools, expected);
    assert!(
        report
            .timing(Step::Filter)
            .unwrap()
            .detail
            .contains("10 of 1000 tools, 50 batches")
    );
}

/// 1,000 tools in 10 namespaces; `ns3.tool_042` and `ns7.tool_042` are about invoices.
fn thousand_tools() -> ToolCatalog {
    let mut catalog = ToolCatalog::new();
    for ns in 0..10 {
        let tools: Vec<ToolSpec> = (0..100)
            .map(|i| {
                let topic = if i == 42 && (ns == 3 || ns == 7) {
                    "invoices"
                } else {
                    "weather"
                };
                ToolSpec::new(
                    format!("tool_{i:03}"),
                    format!("Reads {topic} records, number {i} of namespace {ns}"),
                    json!({"type": "object", "properties": {"city": {"type": "string"}}}),
                )
            })
            .collect();
        let provider: Arc<dyn ToolProvider> = Arc::new(StaticToolProvider::new(tools.clone()));
        catalog.add_tools(&format!("ns{ns}"), provider, tools);
    }
    catalog
}

/// A pipeline over [`thousand_tools`]: the strategy model answers `plan`, then the search
/// keywords "billing records", the tiny model selects every tool it is shown, the main model
/// returns 1.
async fn over_thousand_tools(plan: &str) -> (Arc<ScriptedLlm>, CodeMode) {
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, plan)
            .reply(LlmRole::Strategy, "Billing, records.")
            .respond_with(LlmRole::Tiny, select_all)
            .reply(LlmRole::Main, fenced("return 1;")),
    );
    let cm = CodeMode::builder()
        .llm(llm.clone())
        .catalog(thousand_tools())
        .environment(codemode::default_environment().unwrap())
        .build()
        .await
        .unwrap();
    (llm, cm)
}

#[tokio::test]
async fn hybrid_filter_asks_the_tiny_model_about_the_search_candidates_only() {
    let (llm, cm) = over_thousand_tools("1. Read the invoices.").await;
    let report = cm
        .run(RunOptions::new("sum the invoices").retrieval_candidates(30))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    let requests = llm.requests();
    let keywords: Vec<_> = requests.iter().filter(|r| r.step == "keywords").collect();
    assert_eq!(keywords.len(), 1, "one keywords call before the search");
    assert!(keywords[0].messages[1].content.contains("sum the invoices"));
    assert_eq!(report.search_keywords.as_deref(), Some("billing records"));
    let filters: Vec<_> = requests.iter().filter(|r| r.step == "filter").collect();
    assert_eq!(
        filters.len(),
        1,
        "30 candidates: the best 10 are kept, the tiny model judges the last 20"
    );
    let listing = &filters[0].messages[1].content;
    // The two invoice tools rank first: kept without asking the tiny model.
    for invoices in ["ns3.tool_042", "ns7.tool_042"] {
        assert!(report.selected_tools.iter().any(|t| t == invoices));
        assert!(!listing.contains(invoices), "{listing}");
    }
    // The best 10 of the fused ranking are kept without asking.
    let shown = |path: &String| listing.contains(&format!("{path}(")) || listing.contains(&format!("{path}:"));
    let trusted: Vec<&String> = report.selected_tools.iter().filter(|p| !shown(p)).collect();
    assert_eq!(trusted.len(), 10, "{:?}", report.selected_tools);
    // The scripted tiny model keeps every tool it is shown, which filters nothing: the
    // batch keeps only its tools among the best 10 of one search of the request, the
    // keywords and the plan (every tool but two ties on "records" here, so which ones
    // depends on ties).
    let best: Vec<String> = thousand_tools()
        .search("sum the invoices\nbilling records\n1. Read the invoices.", 10)
        .into_iter()
        .map(|hit| hit.path)
        .collect();
    for path in report.selected_tools.iter().filter(|p| shown(p)) {
        assert!(best.contains(path), "{path} kept from the batch: {best:?}");
    }
    for path in best.iter().filter(|p| shown(p)) {
        assert!(
            report.selected_tools.contains(path),
            "{path} of the search's best dropped"
        );
    }
    let detail = &report.timing(Step::Filter).unwrap().detail;
    assert_eq!(
        detail,
        &format!(
            "{} of 1000 tools, 30 candidates by search, 1 batch",
            report.selected_tools.len()
        )
    );

    // Keywords off: no keywords call, the same split.
    let (llm, cm) = over_thousand_tools("1. Read the invoices.").await;
    let report = cm
        .run(
            RunOptions::new("sum the invoices")
                .retrieval_candidates(30)
                .search_keywords(false),
        )
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert!(llm.requests().iter().all(|r| r.step != "keywords"));
    assert_eq!(report.search_keywords, None);
    assert_eq!(report.selected_tools.len(), 10, "{:?}", report.selected_tools);

    // Without descriptions the listing shows names and parameters only.
    let (llm, cm) = over_thousand_tools("plan").await;
    let report = cm
        .run(
            RunOptions::new("sum the invoices")
                .retrieval_candidates(5)
                .include_descriptions_in_filter(false),
        )
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    let filter = llm.requests().into_iter().find(|r| r.step == "filter").unwrap();
    let listing = &filter.messages[1].content;
    assert!(listing.contains("ns3.tool_042(city)\n"), "{listing}");
    assert!(!listing.contains("Reads invoices"), "{listing}");
}

#[tokio::test]
async fn hybrid_filter_keeps_the_best_ranked_tools_whatever_the_tiny_model_answers() {
    // The tiny model selects nothing; the two invoice tools rank best for the request.
    let run = |keep: usize| async move {
        let llm = Arc::new(
            ScriptedLlm::new()
                .reply(LlmRole::Strategy, "1. Read the invoices.")
                .respond_with(LlmRole::Tiny, |_| Ok("[]".to_string()))
                .reply(LlmRole::Main, fenced("return 1;")),
        );
        let cm = CodeMode::builder()
            .llm(llm)
            .catalog(thousand_tools())
            .environment(codemode::default_environment().unwrap())
            .build()
            .await
            .unwrap();
        // 20 candidates, one batch: the tiny model judges them all.
        let options = RunOptions::new("sum the invoices")
            .retrieval_candidates(20)
            .retrieval_keep(keep);
        cm.run(options).await.unwrap()
    };
    let report = run(2).await;
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.selected_tools, ["ns3.tool_042", "ns7.tool_042"]);
    // 0 turns it off: the tiny model's empty answer is the selection.
    let report = run(0).await;
    assert!(report.selected_tools.is_empty(), "{:?}", report.selected_tools);
}

#[tokio::test]
async fn a_tiny_model_that_keeps_every_tool_of_a_batch_is_read_as_no_answer() {
    // 20 candidates in one batch; the tiny model answers with all of its tools. That
    // filters nothing: the batch keeps only its tools the search ranks among the best 10
    // for the request and the plan.
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "1. Read the invoices.")
            .respond_with(LlmRole::Tiny, select_all)
            .reply(LlmRole::Main, fenced("return 1;")),
    );
    let cm = CodeMode::builder()
        .llm(llm)
        .catalog(thousand_tools())
        .environment(codemode::default_environment().unwrap())
        .build()
        .await
        .unwrap();
    let report = cm
        .run(RunOptions::new("sum the invoices").retrieval_candidates(20))
        .await
        .unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert!(
        report.selected_tools.len() <= 10,
        "{} tools kept: {:?}",
        report.selected_tools.len(),
        report.selected_tools
    );
    for invoices in ["ns3.tool_042", "ns7.tool_042"] {
        assert!(
            report.selected_tools.iter().any(|t| t == invoices),
            "{:?}",
            report.selected_tools
        );
    }
}

#[tokio::test]
async fn retrieval_filter_needs_no_tiny_model() {
    // Strategy and main models only: the filter runs on search alone.
    let strategy = Arc::new(ScriptedLlm::new().reply(LlmRole::Strategy, "1. Read the invoices."));
    let main = Arc::new(ScriptedLlm::new().reply(LlmRole::Main, fenced("return 1;")));
    let cm = CodeMode::builder()
        .strategy_llm(strategy)
        .main_llm(main)
        .catalog(thousand_tools())
        .environment(codemode::default_environment().unwrap())
        .build()
        .await
        .unwrap();
    let options = RunOptions::new("sum the invoices").retrieval_candidates(2);
    let err = cm.run(options.clone()).await.unwrap_err();
    assert!(err.to_string().contains("retrieval"), "{err}");
    let report = cm.run(options.filter_mode(FilterMode::Retrieval)).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success, "{report:#?}");
    assert_eq!(report.selected_tools, ["ns3.tool_042", "ns7.tool_042"]);
    assert_eq!(
        report.timing(Step::Filter).unwrap().detail,
        "2 of 1000 tools, 2 candidates by search, 0 batches"
    );
}

#[tokio::test]
async fn unparseable_filter_answer_is_retried_once_then_the_batch_is_kept() {
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "plan")
            .reply(LlmRole::Tiny, "I am not sure what you mean.")
            .reply(LlmRole::Tiny, "Still thinking...")
            .reply(LlmRole::Main, fenced("return 1;")),
    );
    let cm = pipeline(llm.clone(), Arc::new(FakeChatProvider::default())).await;
    let report = cm.run(RunOptions::new("q")).await.unwrap();
    assert_eq!(report.result_type, ResultType::Success);
    assert_eq!(report.filter_failures.len(), 1);
    assert_eq!(report.filter_failures[0].tools.len(), 5);
    assert_eq!(report.selected_tools.len(), 5, "the failed batch's tools are kept");
    let tiny: Vec<_> = llm.requests().into_iter().filter(|r| r.role == LlmRole::Tiny).collect();
    assert_eq!(tiny.len(), 2);
    assert!(tiny[1].messages.last().unwrap().content.contains("could not be read"));

    // A retry that succeeds selects normally.
    let llm = Arc::new(
        ScriptedLlm::new()
            .reply(LlmRole::Strategy, "plan")
            .reply(LlmRole::Tiny, "hmm")
            .reply(LlmRole::Tiny, "[\"chat.send_message\"]")
            .reply(LlmRole::Main, fenced("return 1;")),
    );
    let report = pipeline(llm, Arc::new(FakeChatProvider::default()))
        .await
        .run(RunOptions::new("q"))
        .await
        .unwrap();
    assert!(report.filter_failures.is_empty());
    assert_eq!(report.selected_tools, vec!["chat.send_message"]);
}
