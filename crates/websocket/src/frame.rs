//! Frames the server sends, encoded once: a [`Frame`] is the bytes that go on the wire (header
//! and payload), shared by every connection it is sent to. Server frames are never masked, so
//! the same bytes are right for every receiver.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// The longest header of an unmasked frame: two bytes and a 64-bit length.
pub const MAX_HEADER: usize = 10;

/// What a frame carries (RFC 6455 section 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

impl OpCode {
    pub(crate) fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Why a connection closes, as the close frame says it (RFC 6455 section 7.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseCode(pub u16);

impl CloseCode {
    pub const NORMAL: CloseCode = CloseCode(1000);
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    pub const UNSUPPORTED: CloseCode = CloseCode(1003);
    pub const INVALID_DATA: CloseCode = CloseCode(1007);
    pub const POLICY: CloseCode = CloseCode(1008);
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    pub const INTERNAL: CloseCode = CloseCode(1011);

    /// Whether a peer may send this code in a close frame (1005, 1006 and 1015 are reserved for
    /// reporting, never sent; below 1000 and 1016–2999 are unassigned).
    pub fn may_be_sent(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// One encoded server frame. Cloning shares the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: Bytes,
    header: u8,
}

impl Frame {
    /// A text frame. The caller vouches that `payload` is UTF-8 (a `&str` or `String` always is).
    pub fn text(payload: impl AsRef<str>) -> Frame {
        Frame::encode(OpCode::Text, payload.as_ref().as_bytes())
    }

    pub fn binary(payload: impl AsRef<[u8]>) -> Frame {
        Frame::encode(OpCode::Binary, payload.as_ref())
    }

    pub fn ping(payload: &[u8]) -> Frame {
        Frame::encode(OpCode::Ping, &payload[..payload.len().min(125)])
    }

    pub fn pong(payload: &[u8]) -> Frame {
        Frame::encode(OpCode::Pong, &payload[..payload.len().min(125)])
    }

    /// A close frame; `reason` is cut to what fits in a control frame, on a character boundary.
    pub fn close(code: CloseCode, reason: &str) -> Frame {
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut payload = Vec::with_capacity(2 + end);
        payload.extend_from_slice(&code.0.to_be_bytes());
        payload.extend_from_slice(&reason.as_bytes()[..end]);
        Frame::encode(OpCode::Close, &payload)
    }

    fn encode(op: OpCode, payload: &[u8]) -> Frame {
        let mut out = BytesMut::with_capacity(MAX_HEADER + payload.len());
        let header = put_header(&mut out, op, payload.len());
        out.put_slice(payload);
        Frame { bytes: out.freeze(), header }
    }

    /// The whole frame as it goes on the wire.
    pub fn wire(&self) -> &Bytes {
        &self.bytes
    }

    /// The payload alone (shares the bytes).
    pub fn payload(&self) -> Bytes {
        self.bytes.slice(self.header as usize..)
    }

    /// The payload alone, borrowed.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.bytes[self.header as usize..]
    }

    pub fn opcode(&self) -> OpCode {
        OpCode::from_bits(self.bytes[0] & 0x0F).unwrap_or(OpCode::Binary)
    }

    /// Bytes on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let payload = self.payload();
        match self.opcode() {
            OpCode::Text => write!(f, "Frame::Text({:?})", String::from_utf8_lossy(&payload)),
            op => write!(f, "Frame::{op:?}({} bytes)", payload.len()),
        }
    }
}

/// Writes the header of a final, unmasked frame; returns its length.
fn put_header(out: &mut BytesMut, op: OpCode, len: usize) -> u8 {
    out.put_u8(0x80 | op as u8);
    if len < 126 {
        out.put_u8(len as u8);
        2
    } else if len <= u16::MAX as usize {
        out.put_u8(126);
        out.put_u16(len as u16);
        4
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
        10
    }
}

/// Builds a text or binary frame whose payload is written in place (for example serialized
/// straight into it), so the payload is never copied to make room for the header.
pub struct FrameBuilder {
    buf: BytesMut,
}

impl FrameBuilder {
    /// A builder expecting about `payload_hint` bytes of payload.
    pub fn with_capacity(payload_hint: usize) -> FrameBuilder {
        let mut buf = BytesMut::with_capacity(MAX_HEADER + payload_hint);
        buf.put_bytes(0, MAX_HEADER);
        FrameBuilder { buf }
    }

    /// The payload written so far.
    pub fn payload(&self) -> &[u8] {
        &self.buf[MAX_HEADER..]
    }

    /// Forgets the payload written so far.
    pub fn clear(&mut self) {
        self.buf.truncate(MAX_HEADER);
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.put_slice(bytes);
    }

    /// A text frame of the payload. The caller vouches that what was written is UTF-8.
    pub fn text(self) -> Frame {
        self.finish(OpCode::Text)
    }

    pub fn binary(self) -> Frame {
        self.finish(OpCode::Binary)
    }

    fn finish(mut self, op: OpCode) -> Frame {
        let len = self.buf.len() - MAX_HEADER;
        let mut header = BytesMut::with_capacity(MAX_HEADER);
        let header_len = put_header(&mut header, op, len) as usize;
        let start = MAX_HEADER - header_len;
        self.buf[start..MAX_HEADER].copy_from_slice(&header);
        let bytes = self.buf.freeze().slice(start..);
        Frame { bytes, header: header_len as u8 }
    }
}

impl std::io::Write for FrameBuilder {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.put_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Write for FrameBuilder {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.buf.put_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_use_the_shortest_length_form() {
        for (len, header) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let frame = Frame::binary(vec![7u8; len]);
            assert_eq!(frame.len(), len + header, "{len}");
            assert_eq!(frame.payload().len(), len);
            assert_eq!(frame.wire()[0], 0x82);
        }
        assert_eq!(&Frame::text("hi").wire()[..], b"\x81\x02hi");
        let long = Frame::text("x".repeat(300));
        assert_eq!(&long.wire()[..4], &[0x81, 126, 0x01, 0x2C]);
    }

    #[test]
    fn a_built_frame_equals_an_encoded_one() {
        for len in [0, 5, 125, 126, 70_000] {
            let text = "é".repeat(len / 2);
            let mut builder = FrameBuilder::with_capacity(8);
            std::fmt::Write::write_str(&mut builder, &text).unwrap_or_default();
            assert_eq!(builder.payload(), text.as_bytes());
            let built = builder.text();
            assert_eq!(built, Frame::text(&text), "{len}");
            assert_eq!(built.opcode(), OpCode::Text);
        }
    }

    #[test]
    fn close_frames_carry_the_code_and_a_reason_cut_at_a_character() {
        let frame = Frame::close(CloseCode::GOING_AWAY, "bye");
        assert_eq!(&frame.wire()[..], b"\x88\x05\x03\xE9bye");
        let long = Frame::close(CloseCode::NORMAL, &"é".repeat(100));
        assert!(long.payload().len() <= 125);
        assert!(std::str::from_utf8(&long.payload()[2..]).is_ok());
    }

    #[test]
    fn reserved_close_codes_are_not_sent() {
        for code in [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert!(!CloseCode(code).may_be_sent(), "{code}");
        }
        for code in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            assert!(CloseCode(code).may_be_sent(), "{code}");
        }
    }
}
