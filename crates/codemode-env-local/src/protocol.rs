//! The JSON-lines bridge protocol between the host and a program runner. It does not
//! depend on Node: any runner that speaks it (Deno, a cloud sandbox) can use the same host.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Messages from the runner to the host.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum RunnerMessage {
    /// A tool call.
    Call {
        id: u64,
        path: String,
        #[serde(default)]
        args: Value,
    },
    /// A console line.
    Console { level: String, text: String },
    /// The program returned.
    Done {
        #[serde(default)]
        value: Value,
    },
    /// The program threw.
    Error {
        #[serde(default)]
        name: String,
        #[serde(default)]
        message: String,
        line: Option<u32>,
        column: Option<u32>,
    },
}

/// Messages from the host to the runner.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum HostMessage<'a> {
    /// Start the program with these tool paths.
    Start { paths: &'a [String] },
    /// The result of a tool call.
    Result {
        id: u64,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_shapes() {
        let m: RunnerMessage = serde_json::from_str(r#"{"t":"call","id":3,"path":"a.b","args":{"x":1}}"#).unwrap();
        assert_eq!(
            m,
            RunnerMessage::Call {
                id: 3,
                path: "a.b".into(),
                args: serde_json::json!({"x": 1})
            }
        );
        let e: RunnerMessage =
            serde_json::from_str(r#"{"t":"error","name":"TypeError","message":"x","line":2}"#).unwrap();
        assert!(matches!(
            e,
            RunnerMessage::Error {
                line: Some(2),
                column: None,
                ..
            }
        ));
        let s = serde_json::to_string(&HostMessage::Result {
            id: 1,
            ok: false,
            value: None,
            error: Some("bad".into()),
        })
        .unwrap();
        assert_eq!(s, r#"{"t":"result","id":1,"ok":false,"error":"bad"}"#);
    }
}
