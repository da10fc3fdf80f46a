//! Unit tests of the Pipedream provider.

use super::*;

fn config() -> PipedreamConfig {
    PipedreamConfig {
        project_id: "proj_abc".into(),
        external_user_id: "u1".into(),
        apps: vec!["slack".into()],
        ..PipedreamConfig::default()
    }
}

fn credentials() -> PipedreamCredentials {
    PipedreamCredentials {
        client_id: "id".into(),
        client_secret: "secret-value-123".into(),
    }
}

#[test]
fn settings_are_checked() {
    let build = |c: PipedreamConfig| PipedreamToolProvider::with_credentials("x", c, credentials());
    assert!(build(config()).is_ok());
    let no_apps = PipedreamConfig {
        apps: vec![],
        ..config()
    };
    assert!(matches!(build(no_apps), Err(PipedreamError::NothingToServe)));
    let bad_project = PipedreamConfig {
        project_id: "abc".into(),
        ..config()
    };
    assert!(build(bad_project).unwrap_err().to_string().contains("proj_"));
    let bad_env = PipedreamConfig {
        environment: Some("staging".into()),
        ..config()
    };
    assert!(build(bad_env).unwrap_err().to_string().contains("`staging`"));
    let no_user = PipedreamConfig {
        external_user_id: " ".into(),
        ..config()
    };
    assert!(build(no_user).unwrap_err().to_string().contains("external_user_id"));
}

#[test]
fn debug_output_has_no_secret() {
    let provider = PipedreamToolProvider::with_credentials("x", config(), credentials()).unwrap();
    let text = format!("{provider:?} {:?}", credentials());
    assert!(!text.contains("secret-value-123"), "{text}");
}

#[test]
fn components_become_tools_with_annotations() {
    let component = json!({
        "key": "slack-send-message", "name": "Send Message", "version": "0.1.4",
        "description": "", "annotations": {"readOnlyHint": false, "destructiveHint": false},
        "configurable_props": [{"name": "slack", "type": "app", "app": "slack"}, {"name": "text", "type": "string"}]
    });
    let (spec, info) = action_spec(&component).unwrap();
    assert_eq!(spec.name, "slack-send-message");
    assert_eq!(spec.description.as_deref(), Some("Send Message"));
    let annotations = spec.annotations.unwrap();
    assert_eq!(annotations.read_only_hint, Some(false));
    assert!(!annotations.destructive());
    assert_eq!(spec.input_schema["required"], json!(["text"]));
    assert_eq!(info.version.as_deref(), Some("0.1.4"));
    assert_eq!(info.apps.len(), 1);
}
