//! Frames from the client: parsed where they were read, unmasked in place, reassembled when
//! fragmented. Only bytes of an unfinished frame or message are kept between reads, so an idle
//! connection holds no buffer at all.

use std::fmt;

use crate::frame::{CloseCode, OpCode};

/// A whole message from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// What a read found, in order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    Message(Message<'a>),
    Ping(&'a [u8]),
    Pong,
    Close(Option<CloseCode>),
}

/// Why the client's bytes were refused; each is answered by a close frame with its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    Protocol(&'static str),
    InvalidUtf8,
    TooBig { limit: usize },
}

impl ReadError {
    pub fn close_code(&self) -> CloseCode {
        match self {
            ReadError::Protocol(_) => CloseCode::PROTOCOL_ERROR,
            ReadError::InvalidUtf8 => CloseCode::INVALID_DATA,
            ReadError::TooBig { .. } => CloseCode::TOO_BIG,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Protocol(what) => f.write_str(what),
            ReadError::InvalidUtf8 => f.write_str("a text message is not valid UTF-8"),
            ReadError::TooBig { limit } => write!(f, "a message is larger than {limit} bytes"),
        }
    }
}

/// The parsing state of one connection.
#[derive(Debug)]
pub(crate) struct Reader {
    /// Bytes of a frame that has not arrived whole.
    partial: Vec<u8>,
    /// A fragmented message being put together: its kind and what arrived of it.
    fragments: Option<(OpCode, Vec<u8>)>,
    max_message: usize,
    closed: bool,
}

impl Reader {
    pub fn new(max_message: usize) -> Reader {
        Reader { partial: Vec::new(), fragments: None, max_message, closed: false }
    }

    /// Parses `data` after what was left of earlier reads, calling `on` for each message and
    /// control frame in order. Nothing is parsed after a close frame.
    pub fn feed(&mut self, data: &mut [u8], on: &mut dyn FnMut(Incoming<'_>)) -> Result<(), ReadError> {
        if self.closed {
            return Ok(());
        }
        let state = State { fragments: &mut self.fragments, max: self.max_message, closed: &mut self.closed };
        if self.partial.is_empty() {
            let used = parse(data, state, on)?;
            if used < data.len() {
                self.partial.extend_from_slice(&data[used..]);
            }
        } else {
            self.partial.extend_from_slice(data);
            let used = parse(&mut self.partial, state, on)?;
            if used == self.partial.len() {
                // Give the memory back: the connection may now stay idle for long.
                self.partial = Vec::new();
            } else {
                self.partial.drain(..used);
            }
        }
        if self.partial.len() > self.max_message + 14 {
            return Err(ReadError::TooBig { limit: self.max_message });
        }
        Ok(())
    }
}

struct State<'s> {
    fragments: &'s mut Option<(OpCode, Vec<u8>)>,
    max: usize,
    closed: &'s mut bool,
}

/// Parses whole frames from the front of `buf`; returns how many bytes they took.
fn parse(buf: &mut [u8], state: State<'_>, on: &mut dyn FnMut(Incoming<'_>)) -> Result<usize, ReadError> {
    let mut at = 0;
    while !*state.closed {
        let rest = &buf[at..];
        if rest.len() < 2 {
            break;
        }
        let (b0, b1) = (rest[0], rest[1]);
        if b0 & 0x70 != 0 {
            return Err(ReadError::Protocol("reserved bits are set, but no extension was agreed"));
        }
        let fin = b0 & 0x80 != 0;
        let op = OpCode::from_bits(b0 & 0x0F).ok_or(ReadError::Protocol("unknown opcode"))?;
        if b1 & 0x80 == 0 {
            return Err(ReadError::Protocol("a client frame is not masked"));
        }
        let (len, mut header) = match b1 & 0x7F {
            126 if rest.len() < 4 => break,
            126 => (u16::from_be_bytes([rest[2], rest[3]]) as u64, 4),
            127 if rest.len() < 10 => break,
            127 => {
                let mut eight = [0u8; 8];
                eight.copy_from_slice(&rest[2..10]);
                (u64::from_be_bytes(eight), 10)
            }
            short => (short as u64, 2),
        };
        if op.is_control() && (!fin || len > 125) {
            return Err(ReadError::Protocol("a control frame is fragmented or longer than 125 bytes"));
        }
        let so_far = state.fragments.as_ref().map_or(0, |(_, f)| f.len()) as u64;
        if len + so_far > state.max as u64 {
            return Err(ReadError::TooBig { limit: state.max });
        }
        let len = len as usize;
        if rest.len() < header + 4 + len {
            break;
        }
        let mask = [rest[header], rest[header + 1], rest[header + 2], rest[header + 3]];
        header += 4;
        let start = at + header;
        let payload = &mut buf[start..start + len];
        unmask(payload, mask);
        at = start + len;
        let payload = &buf[start..start + len];
        match op {
            OpCode::Text | OpCode::Binary => {
                if state.fragments.is_some() {
                    return Err(ReadError::Protocol("a new message began before the fragmented one ended"));
                }
                if fin {
                    on(Incoming::Message(message(op, payload)?));
                } else {
                    *state.fragments = Some((op, payload.to_vec()));
                }
            }
            OpCode::Continuation => {
                let Some((_, so_far)) = state.fragments.as_mut() else {
                    return Err(ReadError::Protocol("a continuation frame without a message to continue"));
                };
                so_far.extend_from_slice(payload);
                if fin && let Some((kind, whole)) = state.fragments.take() {
                    on(Incoming::Message(message(kind, &whole)?));
                }
            }
            OpCode::Ping => on(Incoming::Ping(payload)),
            OpCode::Pong => on(Incoming::Pong),
            OpCode::Close => {
                let code = match payload.len() {
                    0 => None,
                    1 => return Err(ReadError::Protocol("a close frame with a one-byte body")),
                    _ => {
                        let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                        if !code.may_be_sent() {
                            return Err(ReadError::Protocol("a close frame with a reserved code"));
                        }
                        std::str::from_utf8(&payload[2..]).map_err(|_| ReadError::InvalidUtf8)?;
                        Some(code)
                    }
                };
                *state.closed = true;
                on(Incoming::Close(code));
            }
        }
    }
    Ok(at)
}

fn message(op: OpCode, payload: &[u8]) -> Result<Message<'_>, ReadError> {
    Ok(match op {
        OpCode::Text => Message::Text(std::str::from_utf8(payload).map_err(|_| ReadError::InvalidUtf8)?),
        _ => Message::Binary(payload),
    })
}

/// XORs `payload` with the repeating four-byte `mask`, eight bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

    /// A client frame: masked, as a client must send it.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![first];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
        out
    }

    #[derive(Debug, PartialEq)]
    enum Seen {
        Text(String),
        Binary(Vec<u8>),
        Ping(Vec<u8>),
        Pong,
        Close(Option<u16>),
    }

    fn feed_all(reader: &mut Reader, chunks: &[Vec<u8>]) -> Result<Vec<Seen>, ReadError> {
        let mut seen = Vec::new();
        for chunk in chunks {
            let mut chunk = chunk.clone();
            reader.feed(&mut chunk, &mut |i| {
                seen.push(match i {
                    Incoming::Message(Message::Text(t)) => Seen::Text(t.to_owned()),
                    Incoming::Message(Message::Binary(b)) => Seen::Binary(b.to_vec()),
                    Incoming::Ping(p) => Seen::Ping(p.to_vec()),
                    Incoming::Pong => Seen::Pong,
                    Incoming::Close(c) => Seen::Close(c.map(|c| c.0)),
                })
            })?;
        }
        Ok(seen)
    }

    #[test]
    fn whole_frames_in_one_read_come_out_in_order() {
        let mut bytes = client_frame(0x81, b"hello");
        bytes.extend(client_frame(0x82, &[1, 2, 3]));
        bytes.extend(client_frame(0x89, b"p"));
        bytes.extend(client_frame(0x8A, b""));
        let seen = feed_all(&mut Reader::new(1024), &[bytes]);
        assert_eq!(
            seen,
            Ok(vec![
                Seen::Text("hello".into()),
                Seen::Binary(vec![1, 2, 3]),
                Seen::Ping(b"p".to_vec()),
                Seen::Pong
            ])
        );
    }

    #[test]
    fn a_frame_split_across_reads_is_kept_until_whole_then_released() {
        let text = "x".repeat(70_000);
        let bytes = client_frame(0x81, text.as_bytes());
        let mut reader = Reader::new(100_000);
        let chunks: Vec<Vec<u8>> = bytes.chunks(1000).map(<[u8]>::to_vec).collect();
        let seen = feed_all(&mut reader, &chunks);
        assert_eq!(seen, Ok(vec![Seen::Text(text)]));
        assert!(reader.fragments.is_none());
        assert_eq!(reader.partial.capacity(), 0, "an idle reader keeps no buffer");
        for split in 1..6 {
            let bytes = client_frame(0x81, b"abc");
            let seen = feed_all(&mut Reader::new(10), &[bytes[..split].to_vec(), bytes[split..].to_vec()]);
            assert_eq!(seen, Ok(vec![Seen::Text("abc".into())]), "split at {split}");
        }
    }

    #[test]
    fn fragments_are_reassembled_with_control_frames_between_them() {
        let chunks =
            vec![client_frame(0x01, "hé".as_bytes()), client_frame(0x89, b"!"), client_frame(0x80, b"llo")];
        let seen = feed_all(&mut Reader::new(1024), &chunks);
        assert_eq!(seen, Ok(vec![Seen::Ping(b"!".to_vec()), Seen::Text("héllo".into())]));
    }

    #[test]
    fn a_utf8_character_may_span_fragments_but_not_messages() {
        let e = "é".as_bytes();
        let chunks = vec![client_frame(0x01, &e[..1]), client_frame(0x80, &e[1..])];
        assert_eq!(feed_all(&mut Reader::new(64), &chunks), Ok(vec![Seen::Text("é".into())]));
        let broken = client_frame(0x81, &e[..1]);
        assert_eq!(feed_all(&mut Reader::new(64), &[broken]), Err(ReadError::InvalidUtf8));
    }

    #[test]
    fn messages_over_the_limit_are_refused_before_they_arrive() {
        let header_only = client_frame(0x82, &[0; 2000])[..8].to_vec();
        assert_eq!(feed_all(&mut Reader::new(1000), &[header_only]), Err(ReadError::TooBig { limit: 1000 }));
        let chunks = vec![client_frame(0x02, &[0; 600]), client_frame(0x80, &[0; 600])];
        assert_eq!(feed_all(&mut Reader::new(1000), &chunks), Err(ReadError::TooBig { limit: 1000 }));
    }

    #[test]
    fn protocol_errors_are_named() {
        let unmasked = vec![0x81, 0x01, b'a'];
        let reserved = client_frame(0xC1, b"a");
        let bad_op = client_frame(0x83, b"a");
        let long_ping = client_frame(0x89, &[0; 126]);
        let split_ping = client_frame(0x09, b"a");
        let stray = client_frame(0x80, b"a");
        let interleaved = [client_frame(0x01, b"a"), client_frame(0x81, b"b")].concat();
        let short_close = client_frame(0x88, &[3]);
        let reserved_close = client_frame(0x88, &1005u16.to_be_bytes());
        for bytes in [
            unmasked,
            reserved,
            bad_op,
            long_ping,
            split_ping,
            stray,
            interleaved,
            short_close,
            reserved_close,
        ] {
            let result = feed_all(&mut Reader::new(1024), std::slice::from_ref(&bytes));
            assert!(matches!(result, Err(ReadError::Protocol(_))), "{bytes:?}: {result:?}");
        }
    }

    #[test]
    fn nothing_is_read_after_a_close() {
        let mut bytes = client_frame(0x88, &[0x03, 0xE8, b'o', b'k']);
        bytes.extend(client_frame(0x81, b"late"));
        assert_eq!(feed_all(&mut Reader::new(64), &[bytes]), Ok(vec![Seen::Close(Some(1000))]));
        let empty = client_frame(0x88, b"");
        assert_eq!(feed_all(&mut Reader::new(64), &[empty]), Ok(vec![Seen::Close(None)]));
    }

    #[test]
    fn unmasking_matches_the_bytewise_definition() {
        for len in 0..40 {
            let original: Vec<u8> = (0..len as u8).collect();
            let mut data = original.clone();
            unmask(&mut data, MASK);
            let expected: Vec<u8> = original.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]).collect();
            assert_eq!(data, expected, "{len}");
        }
    }
}
