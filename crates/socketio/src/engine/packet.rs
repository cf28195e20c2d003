//! Engine.IO v4 packets: what clients send, the frames the server sends, and the long-polling
//! payload that carries several packets in one HTTP body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{BufMut, Bytes, BytesMut};
use chatgate_websocket::{Frame, OpCode};

/// Separates packets in a long-polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// A text packet from a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientPacket<'a> {
    Close,
    /// A ping; its data is `probe` during an upgrade.
    Ping(&'a str),
    Pong(&'a str),
    Message(&'a str),
    Upgrade,
    Noop,
}

/// A packet that is not one a client may send; its session ends ("parse error").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadPacket;

pub fn parse(text: &str) -> Result<ClientPacket<'_>, BadPacket> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(BadPacket)?;
    let data = chars.as_str();
    Ok(match kind {
        '1' => ClientPacket::Close,
        '2' => ClientPacket::Ping(data),
        '3' => ClientPacket::Pong(data),
        '4' => ClientPacket::Message(data),
        '5' => ClientPacket::Upgrade,
        '6' => ClientPacket::Noop,
        _ => return Err(BadPacket),
    })
}

/// One packet of a long-polling payload: text, or binary sent as `b` + base64.
pub enum PolledPacket<'a> {
    Text(&'a str),
    Binary(Vec<u8>),
}

/// Splits a long-polling payload into its packets.
pub fn split_payload(body: &str) -> impl Iterator<Item = Result<PolledPacket<'_>, BadPacket>> {
    body.split(SEPARATOR as char).map(|packet| match packet.strip_prefix('b') {
        Some(encoded) => STANDARD.decode(encoded).map(PolledPacket::Binary).map_err(|_| BadPacket),
        None => Ok(PolledPacket::Text(packet)),
    })
}

/// Joins queued frames into one long-polling payload.
pub fn join_payload<'a>(frames: impl Iterator<Item = &'a Frame>) -> Bytes {
    let mut out = BytesMut::new();
    for (i, frame) in frames.enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        match frame.opcode() {
            OpCode::Binary => {
                out.put_u8(b'b');
                out.put_slice(STANDARD.encode(frame.payload()).as_bytes());
            }
            _ => out.put_slice(&frame.payload()),
        }
    }
    out.freeze()
}

pub fn close() -> Frame {
    Frame::text("1")
}

pub fn ping() -> Frame {
    Frame::text("2")
}

pub fn probe_answer() -> Frame {
    Frame::text("3probe")
}

pub fn noop() -> Frame {
    Frame::text("6")
}

pub fn is_noop(frame: &Frame) -> bool {
    frame.opcode() == OpCode::Text && frame.payload()[..] == *b"6"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_packets_are_recognised_by_their_first_character() {
        assert_eq!(parse("1"), Ok(ClientPacket::Close));
        assert_eq!(parse("2probe"), Ok(ClientPacket::Ping("probe")));
        assert_eq!(parse("3"), Ok(ClientPacket::Pong("")));
        assert_eq!(parse("4héllo"), Ok(ClientPacket::Message("héllo")));
        assert_eq!(parse("5"), Ok(ClientPacket::Upgrade));
        assert_eq!(parse("6"), Ok(ClientPacket::Noop));
        for bad in ["", "0{}", "7", "abc"] {
            assert_eq!(parse(bad), Err(BadPacket), "{bad:?}");
        }
    }

    #[test]
    fn a_payload_of_text_and_binary_packets_round_trips() {
        let frames = [Frame::text("4hello"), Frame::binary([1, 2, 3, 4]), Frame::text("2")];
        let payload = join_payload(frames.iter());
        assert_eq!(&payload[..], b"4hello\x1ebAQIDBA==\x1e2");
        let text = std::str::from_utf8(&payload).unwrap_or_default();
        let parts: Vec<String> = split_payload(text)
            .map(|p| match p {
                Ok(PolledPacket::Text(t)) => format!("text {t}"),
                Ok(PolledPacket::Binary(b)) => format!("binary {b:?}"),
                Err(_) => "bad".into(),
            })
            .collect();
        assert_eq!(parts, ["text 4hello", "binary [1, 2, 3, 4]", "text 2"]);
        assert!(split_payload("4a\x1eb!!").any(|p| p.is_err()));
    }
}
