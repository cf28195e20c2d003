//! The SignalR hub protocol, JSON encoding (`src/SignalR/docs/specs/HubProtocol.md` in
//! dotnet/aspnetcore): records terminated by the 0x1E record separator, a handshake first, then
//! messages discriminated by `type`.
//!
//! Encoding is kept apart from the message types so that a binary protocol (MessagePack) can be
//! added as a second codec of the same messages.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde_json::{Map, Value};

pub const RECORD_SEPARATOR: u8 = 0x1e;

/// The highest JSON protocol version this server speaks. Version 2 only adds the Ack and
/// Sequence messages of stateful reconnect, which are used only when negotiated.
pub const JSON_PROTOCOL_MAX_VERSION: u64 = 2;

#[derive(Clone, Debug, PartialEq)]
pub enum HubMessage {
    Invocation {
        invocation_id: Option<String>,
        target: String,
        arguments: Vec<Value>,
        stream_ids: Vec<String>,
    },
    StreamItem {
        invocation_id: String,
        item: Value,
    },
    Completion {
        invocation_id: String,
        result: Option<Value>,
        error: Option<String>,
    },
    StreamInvocation {
        invocation_id: String,
        target: String,
        arguments: Vec<Value>,
    },
    CancelInvocation {
        invocation_id: String,
    },
    Ping,
    Close {
        error: Option<String>,
        allow_reconnect: bool,
    },
    Ack {
        sequence_id: u64,
    },
    Sequence {
        sequence_id: u64,
    },
}

/// Why a record could not be read. The connection that sent it is closed with this text.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits complete records off the front of `buffer`, leaving a trailing partial record there.
pub fn take_records(buffer: &mut BytesMut) -> Vec<Bytes> {
    let mut records = Vec::new();
    while let Some(end) = buffer.iter().position(|b| *b == RECORD_SEPARATOR) {
        let record = buffer.split_to(end + 1);
        records.push(record.freeze().slice(..end));
    }
    records
}

/// The client's first record: `{"protocol":"json","version":1}`.
#[derive(Debug, PartialEq, Eq)]
pub struct HandshakeRequest {
    pub protocol: String,
    pub version: u64,
}

pub fn parse_handshake(record: &[u8]) -> Result<HandshakeRequest, ProtocolError> {
    let value: Value = serde_json::from_slice(record)
        .map_err(|e| ProtocolError(format!("The handshake request is not valid JSON: {e}")))?;
    let protocol = value
        .get("protocol")
        .and_then(Value::as_str)
        .ok_or_else(|| ProtocolError("Missing required property 'protocol'.".to_owned()))?;
    let version = value
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| ProtocolError("Missing required property 'version'.".to_owned()))?;
    Ok(HandshakeRequest { protocol: protocol.to_owned(), version })
}

/// The handshake answer: `{}` to accept, `{"error": "..."}` to refuse.
pub fn handshake_response(error: Option<&str>) -> Bytes {
    let body = match error {
        None => "{}".to_owned(),
        Some(e) => serde_json::json!({ "error": e }).to_string(),
    };
    record(body.into_bytes())
}

fn record(mut json: Vec<u8>) -> Bytes {
    json.push(RECORD_SEPARATOR);
    Bytes::from(json)
}

fn string(object: &Map<String, Value>, key: &str) -> Result<String, ProtocolError> {
    match object.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ProtocolError(format!("Expected '{key}' to be of type String."))),
        None => Err(ProtocolError(format!("Missing required property '{key}'."))),
    }
}

fn opt_string(object: &Map<String, Value>, key: &str) -> Result<Option<String>, ProtocolError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ProtocolError(format!("Expected '{key}' to be of type String."))),
    }
}

fn array(object: &mut Map<String, Value>, key: &str, required: bool) -> Result<Vec<Value>, ProtocolError> {
    match object.remove(key) {
        Some(Value::Array(items)) => Ok(items),
        None if !required => Ok(Vec::new()),
        None => Err(ProtocolError(format!("Missing required property '{key}'."))),
        Some(_) => Err(ProtocolError(format!("Expected '{key}' to be of type Array."))),
    }
}

/// Reads one JSON record. `Ok(None)`: a message type this server does not know, to be ignored.
pub fn parse_message(record: &[u8]) -> Result<Option<HubMessage>, ProtocolError> {
    let value: Value =
        serde_json::from_slice(record).map_err(|e| ProtocolError(format!("Error reading JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(ProtocolError("Unexpected JSON Token Type. Expected a JSON Object.".to_owned()));
    };
    let kind = object
        .get("type")
        .and_then(Value::as_u64)
        .ok_or_else(|| ProtocolError("Missing required property 'type'.".to_owned()))?;
    let message = match kind {
        1 => HubMessage::Invocation {
            invocation_id: opt_string(&object, "invocationId")?,
            target: string(&object, "target")?,
            arguments: array(&mut object, "arguments", true)?,
            stream_ids: array(&mut object, "streamIds", false)?
                .into_iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| ProtocolError("Stream ids must be strings.".into()))
                })
                .collect::<Result<_, _>>()?,
        },
        2 => HubMessage::StreamItem {
            invocation_id: string(&object, "invocationId")?,
            item: object.remove("item").unwrap_or(Value::Null),
        },
        3 => HubMessage::Completion {
            invocation_id: string(&object, "invocationId")?,
            error: opt_string(&object, "error")?,
            result: object.remove("result"),
        },
        4 => HubMessage::StreamInvocation {
            invocation_id: string(&object, "invocationId")?,
            target: string(&object, "target")?,
            arguments: array(&mut object, "arguments", true)?,
        },
        5 => HubMessage::CancelInvocation { invocation_id: string(&object, "invocationId")? },
        6 => HubMessage::Ping,
        7 => HubMessage::Close {
            error: opt_string(&object, "error")?,
            allow_reconnect: object.get("allowReconnect").and_then(Value::as_bool).unwrap_or(false),
        },
        8 => HubMessage::Ack { sequence_id: object.get("sequenceId").and_then(Value::as_u64).unwrap_or(0) },
        9 => HubMessage::Sequence {
            sequence_id: object.get("sequenceId").and_then(Value::as_u64).unwrap_or(0),
        },
        _ => return Ok(None),
    };
    Ok(Some(message))
}

/// Peeks at the invocation id of a record without validating the rest (for answering records
/// that are refused before they are read, such as oversized ones).
pub fn invocation_id_of(record: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(record).ok()?;
    value.get("invocationId")?.as_str().map(str::to_owned)
}

/// Encodes an invocation of `target` on the client. `arguments` must serialize to a JSON array
/// (a tuple or a slice). Broadcasts call this once and share the bytes with every receiver.
pub fn encode_invocation<A: Serialize + ?Sized>(
    target: &str,
    arguments: &A,
) -> Result<Bytes, serde_json::Error> {
    #[derive(Serialize)]
    struct Invocation<'a, A: ?Sized> {
        #[serde(rename = "type")]
        kind: u8,
        target: &'a str,
        arguments: &'a A,
    }
    let mut out = BytesMut::with_capacity(128).writer();
    serde_json::to_writer(&mut out, &Invocation { kind: 1, target, arguments })?;
    let mut out = out.into_inner();
    out.put_u8(RECORD_SEPARATOR);
    Ok(out.freeze())
}

/// Encodes a message the server sends on its own behalf (completion, ping, close…).
pub fn encode(message: &HubMessage) -> Bytes {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Wire<'a> {
        #[serde(rename = "type")]
        kind: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        invocation_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        arguments: Option<&'a [Value]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        item: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        allow_reconnect: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        sequence_id: Option<u64>,
    }
    let empty = |kind| Wire {
        kind,
        invocation_id: None,
        target: None,
        arguments: None,
        item: None,
        result: None,
        error: None,
        allow_reconnect: false,
        sequence_id: None,
    };
    let wire = match message {
        HubMessage::Invocation { invocation_id, target, arguments, .. } => Wire {
            invocation_id: invocation_id.as_deref(),
            target: Some(target),
            arguments: Some(arguments),
            ..empty(1)
        },
        HubMessage::StreamItem { invocation_id, item } => {
            Wire { invocation_id: Some(invocation_id), item: Some(item), ..empty(2) }
        }
        HubMessage::Completion { invocation_id, result, error } => Wire {
            invocation_id: Some(invocation_id),
            // A completion carries an error or a result, never both.
            result: if error.is_some() { None } else { result.as_ref() },
            error: error.as_deref(),
            ..empty(3)
        },
        HubMessage::StreamInvocation { invocation_id, target, arguments } => Wire {
            invocation_id: Some(invocation_id),
            target: Some(target),
            arguments: Some(arguments),
            ..empty(4)
        },
        HubMessage::CancelInvocation { invocation_id } => {
            Wire { invocation_id: Some(invocation_id), ..empty(5) }
        }
        HubMessage::Ping => empty(6),
        HubMessage::Close { error, allow_reconnect } => {
            Wire { error: error.as_deref(), allow_reconnect: *allow_reconnect, ..empty(7) }
        }
        HubMessage::Ack { sequence_id } => Wire { sequence_id: Some(*sequence_id), ..empty(8) },
        HubMessage::Sequence { sequence_id } => Wire { sequence_id: Some(*sequence_id), ..empty(9) },
    };
    record(serde_json::to_vec(&wire).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_on_the_separator_and_keep_the_tail() {
        let mut buffer = BytesMut::from(&b"{\"a\":1}\x1e{\"b\":2}\x1e{\"c\""[..]);
        let records = take_records(&mut buffer);
        assert_eq!(records, [Bytes::from_static(b"{\"a\":1}"), Bytes::from_static(b"{\"b\":2}")]);
        assert_eq!(&buffer[..], b"{\"c\"");
    }

    #[test]
    fn reads_the_handshake_and_invocations() {
        assert_eq!(
            parse_handshake(br#"{"protocol":"json","version":1}"#).unwrap(),
            HandshakeRequest { protocol: "json".into(), version: 1 }
        );
        assert!(parse_handshake(br#"{"protocol":"json"}"#).is_err());
        let m =
            parse_message(br#"{"type":1,"invocationId":"7","target":"Send","arguments":[1,"x"]}"#).unwrap();
        assert_eq!(
            m,
            Some(HubMessage::Invocation {
                invocation_id: Some("7".into()),
                target: "Send".into(),
                arguments: vec![1.into(), "x".into()],
                stream_ids: vec![]
            })
        );
        assert_eq!(parse_message(br#"{"type":6}"#).unwrap(), Some(HubMessage::Ping));
        assert_eq!(parse_message(br#"{"type":99}"#).unwrap(), None);
        assert!(parse_message(br#"{"type":1,"arguments":[]}"#).is_err());
        assert!(parse_message(b"not json").is_err());
        assert!(parse_message(b"[1]").is_err());
    }

    #[test]
    fn writes_what_the_clients_read() {
        let b = encode_invocation("MessageReceived", &(serde_json::json!({"id": "1"}),)).unwrap();
        assert_eq!(&b[..], b"{\"type\":1,\"target\":\"MessageReceived\",\"arguments\":[{\"id\":\"1\"}]}\x1e");
        let done =
            HubMessage::Completion { invocation_id: "3".into(), result: Some(Value::Null), error: None };
        assert_eq!(&encode(&done)[..], b"{\"type\":3,\"invocationId\":\"3\",\"result\":null}\x1e");
        let close = HubMessage::Close { error: Some("bye".into()), allow_reconnect: true };
        assert_eq!(&encode(&close)[..], b"{\"type\":7,\"error\":\"bye\",\"allowReconnect\":true}\x1e");
        assert_eq!(&handshake_response(None)[..], b"{}\x1e");
    }
}
