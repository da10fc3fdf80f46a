//! Tests of `limits`.

use super::*;

#[test]
fn the_table_drives_options_overrides_and_validation() {
    assert_eq!(LIMITS.len(), RunOptions::default().limit_values().len());
    let mut overrides = LimitOverrides::default();
    overrides.set("max_repairs", "4").unwrap();
    overrides.set("cpu_time_limit", "1.5").unwrap();
    assert!(
        overrides
            .set("max_repairs", "four")
            .unwrap_err()
            .contains("whole number")
    );
    assert!(overrides.set("max_repair", "4").unwrap_err().contains("max_repair"));
    let mut options = RunOptions::default();
    overrides.apply(&mut options);
    assert_eq!((options.max_repairs, options.cpu_time_limit), (4, Some(1.5)));
    assert_eq!(options.max_tool_calls, 100, "unset overrides keep the value");
    let shown: Vec<String> = options
        .limit_values()
        .iter()
        .map(|(s, v)| format!("{}={v}", s.name))
        .collect();
    assert!(shown.contains(&"cpu_time_limit=1.5s".to_string()), "{shown:?}");
    assert!(shown.contains(&"max_repairs=4".to_string()), "{shown:?}");

    let bad = RunOptions::default()
        .max_tools_per_prompt(0usize)
        .validate()
        .unwrap_err();
    assert_eq!(bad, "max_tools_per_prompt must be at least 1, got 0");
    let bad = RunOptions::default().cpu_time_limit(-1.0).validate().unwrap_err();
    assert!(bad.starts_with("cpu_time_limit must be a positive"), "{bad}");
    assert!(RunOptions::default().memory_limit_mb(8u64).validate().is_err());
    RunOptions::default().validate().unwrap();
}

#[test]
fn every_limit_is_documented_in_the_configuration_reference() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let docs = std::fs::read_to_string(path).unwrap();
    for limit in LIMITS {
        assert!(
            docs.contains(limit.name),
            "docs/configuration.md does not mention `{}`",
            limit.name
        );
        assert!(
            docs.contains(&format!("--{}", limit.flag)),
            "docs/configuration.md does not mention the flag `--{}`",
            limit.flag
        );
    }
}
