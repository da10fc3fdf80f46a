//! The small part of the Connect protocol (connectrpc.com) that envd's process API needs:
//! JSON messages in envelopes (one flag byte, a big-endian `u32` length, the message) for
//! server streams, plain JSON for unary calls.

use serde_json::Value;

/// Flag of the envelope that ends a stream (its JSON may hold an `error`).
pub(crate) const END_STREAM: u8 = 0x02;

/// One enveloped JSON message.
pub(crate) fn envelope(message: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(message).unwrap_or_default();
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Splits complete envelopes off the front of `buffer`: `(flags, message)` pairs. A partial
/// envelope stays in the buffer for the next chunk; a message that is not JSON becomes a
/// JSON string of its bytes (lossy).
pub(crate) fn take_envelopes(buffer: &mut Vec<u8>) -> Vec<(u8, Value)> {
    let mut out = Vec::new();
    let mut at = 0;
    while buffer.len() - at >= 5 {
        let flags = buffer[at];
        let len = u32::from_be_bytes([buffer[at + 1], buffer[at + 2], buffer[at + 3], buffer[at + 4]]) as usize;
        if buffer.len() - at - 5 < len {
            break;
        }
        let bytes = &buffer[at + 5..at + 5 + len];
        let message = serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()));
        out.push((flags, message));
        at += 5 + len;
    }
    buffer.drain(..at);
    out
}

/// The text of a Connect error (`{"code": ..., "message": ...}`, possibly under `error`).
pub(crate) fn error_message(value: &Value) -> Option<String> {
    let error = value.get("error").unwrap_or(value);
    let code = error.get("code").and_then(Value::as_str);
    let message = error.get("message").and_then(Value::as_str);
    match (code, message) {
        (None, None) => None,
        (Some(c), None) => Some(c.to_string()),
        (None, Some(m)) => Some(m.to_string()),
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelopes_round_trip_across_chunk_boundaries() {
        let mut wire = envelope(&json!({"event": {"start": {"pid": 7}}}));
        wire.extend(envelope(&json!({"event": {"data": {"stdout": "aGk="}}})));
        let mut end = envelope(&json!({}));
        end[0] = END_STREAM;
        wire.extend(end);
        let mut buffer = Vec::new();
        let mut got = Vec::new();
        for chunk in wire.chunks(3) {
            buffer.extend_from_slice(chunk);
            got.extend(take_envelopes(&mut buffer));
        }
        assert!(buffer.is_empty());
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (0, json!({"event": {"start": {"pid": 7}}})));
        assert_eq!(got[2].0, END_STREAM);
    }

    #[test]
    fn connect_errors_read_well() {
        let e = json!({"error": {"code": "not_found", "message": "no such process"}});
        assert_eq!(error_message(&e).as_deref(), Some("not_found: no such process"));
        assert_eq!(error_message(&json!({})), None);
    }
}
