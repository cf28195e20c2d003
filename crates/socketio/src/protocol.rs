//! Socket.IO protocol 5 packets, as the reference parser reads and writes them:
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`.

use std::io::Write;

use chatgate_websocket::{Frame, FrameBuilder};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketKind {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

impl PacketKind {
    fn from_digit(c: u8) -> Option<PacketKind> {
        Some(match c {
            b'0' => PacketKind::Connect,
            b'1' => PacketKind::Disconnect,
            b'2' => PacketKind::Event,
            b'3' => PacketKind::Ack,
            b'4' => PacketKind::ConnectError,
            b'5' => PacketKind::BinaryEvent,
            b'6' => PacketKind::BinaryAck,
            _ => return None,
        })
    }

    fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }
}

/// A packet from a client.
#[derive(Debug, PartialEq)]
pub struct Packet<'a> {
    pub kind: PacketKind,
    pub namespace: &'a str,
    pub id: Option<u64>,
    /// Binary attachments that follow as binary messages.
    pub attachments: usize,
    pub data: Option<Value>,
}

/// Why a packet was refused; the connection is then closed ("parse error").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError(pub &'static str);

/// Event names a client may not use: they are the client library's own.
const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

pub fn parse(text: &str, max_attachments: usize) -> Result<Packet<'_>, ParseError> {
    let bytes = text.as_bytes();
    let kind =
        bytes.first().and_then(|&c| PacketKind::from_digit(c)).ok_or(ParseError("unknown packet type"))?;
    let mut at = 1;
    let mut attachments = 0;
    if kind.is_binary() {
        let digits = bytes[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || bytes.get(at + digits) != Some(&b'-') {
            return Err(ParseError("illegal attachments"));
        }
        attachments = text[at..at + digits].parse().map_err(|_| ParseError("illegal attachments"))?;
        if attachments > max_attachments {
            return Err(ParseError("too many attachments"));
        }
        at += digits + 1;
    }
    let mut namespace = "/";
    if bytes.get(at) == Some(&b'/') {
        let end = text[at..].find(',').map_or(text.len(), |i| at + i);
        namespace = &text[at..end];
        at = (end + 1).min(text.len());
    }
    let digits = bytes[at..].iter().take_while(|c| c.is_ascii_digit()).count();
    let id = if digits > 0 {
        let id = text[at..at + digits].parse().map_err(|_| ParseError("invalid ack id"))?;
        at += digits;
        Some(id)
    } else {
        None
    };
    let data = match &text[at..] {
        "" => None,
        json => Some(serde_json::from_str::<Value>(json).map_err(|_| ParseError("invalid JSON"))?),
    };
    let valid = match (kind, &data) {
        (PacketKind::Connect, None | Some(Value::Object(_))) => true,
        (PacketKind::Disconnect, None) => true,
        (PacketKind::Event | PacketKind::BinaryEvent, Some(Value::Array(args))) => match args.first() {
            Some(Value::String(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
            Some(Value::Number(_)) => true,
            _ => false,
        },
        (PacketKind::Ack | PacketKind::BinaryAck, Some(Value::Array(_))) => true,
        _ => false,
    };
    if !valid {
        return Err(ParseError("invalid payload"));
    }
    Ok(Packet { kind, namespace, id, attachments, data })
}

/// Writes a packet as an Engine.IO message frame (`4` + the packet); `data` writes the JSON.
pub fn frame(
    kind: PacketKind,
    namespace: &str,
    attachments: usize,
    id: Option<u64>,
    data: impl FnOnce(&mut FrameBuilder) -> serde_json::Result<()>,
) -> serde_json::Result<Frame> {
    let mut out = FrameBuilder::with_capacity(64);
    out.push(&[b'4', b'0' + kind as u8]);
    if kind.is_binary() {
        let _ = write!(out, "{attachments}-");
    }
    if namespace != "/" {
        out.push(namespace.as_bytes());
        out.push(b",");
    }
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
    data(&mut out)?;
    Ok(out.text())
}

/// A packet with no data.
pub fn bare(kind: PacketKind, namespace: &str) -> Frame {
    frame(kind, namespace, 0, None, |_| Ok(())).unwrap_or_else(|_| Frame::text("4"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok(text: &str) -> Packet<'_> {
        match parse(text, 10) {
            Ok(p) => p,
            Err(e) => panic!("{text}: {e:?}"),
        }
    }

    #[test]
    fn packets_parse_as_the_reference_parser_reads_them() {
        assert_eq!(
            ok("0"),
            Packet { kind: PacketKind::Connect, namespace: "/", id: None, attachments: 0, data: None }
        );
        assert_eq!(ok("0/admin,{\"token\":\"1\"}").data, Some(json!({"token": "1"})));
        assert_eq!(ok("0/admin,").namespace, "/admin");
        assert_eq!(ok("0/random").namespace, "/random");
        assert_eq!(ok("1/admin,").kind, PacketKind::Disconnect);
        let event = ok("2/admin,12[\"hello\",1]");
        assert_eq!((event.namespace, event.id, event.data), ("/admin", Some(12), Some(json!(["hello", 1]))));
        let binary = ok("52-/admin,7[\"up\",{\"_placeholder\":true,\"num\":0}]");
        assert_eq!((binary.kind, binary.attachments, binary.id), (PacketKind::BinaryEvent, 2, Some(7)));
        assert_eq!(ok("3456[1,\"2\"]").id, Some(456));
        assert_eq!(ok("2[7]").data, Some(json!([7])));
    }

    #[test]
    fn malformed_packets_are_refused() {
        for bad in [
            "",
            "9",
            "abc",
            "2{}",
            "2[]",
            "2abc[\"x\"]",
            "2[\"connect\"]",
            "2[null]",
            "1/admin,{}",
            "0[1]",
            "3{}",
            "5[\"x\"]",
            "5x-[\"x\"]",
            "599-[\"x\"]",
            "2[\"unterminated\"",
        ] {
            assert!(parse(bad, 10).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn frames_carry_the_engine_prefix_and_skip_the_main_namespace() {
        let plain = frame(PacketKind::Event, "/", 0, None, |o| serde_json::to_writer(o, &("hi", 1))).ok();
        assert_eq!(plain.map(|f| f.payload()), Some("42[\"hi\",1]".into()));
        let acked = frame(PacketKind::Ack, "/admin", 0, Some(9), |o| serde_json::to_writer(o, &[1])).ok();
        assert_eq!(acked.map(|f| f.payload()), Some("43/admin,9[1]".into()));
        let binary = frame(PacketKind::BinaryEvent, "/", 2, None, |o| {
            o.push(b"[]");
            Ok(())
        })
        .ok();
        assert_eq!(binary.map(|f| f.payload()), Some("452-[]".into()));
        assert_eq!(bare(PacketKind::Disconnect, "/admin").payload(), "41/admin,");
        assert_eq!(bare(PacketKind::Disconnect, "/").payload(), "41");
    }
}
