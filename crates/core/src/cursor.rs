//! Opaque page cursors. Clients pass them back unchanged; a cursor that does not parse is a
//! validation error, never a silent first page.

use crate::error::{CoreError, CoreResult};
use crate::ids::is_ulid;
use crate::time::Timestamp;

/// `"<unixMs>_<ULID>"`: the activity instant and id of the last conversation of a page.
pub fn encode_conversation(activity_at: Timestamp, conversation_id: &str) -> String {
    format!("{}_{}", activity_at.unix_ms(), conversation_id)
}

pub fn decode_conversation(cursor: &str) -> CoreResult<(Timestamp, String)> {
    let parsed = cursor.split_once('_').and_then(|(ms, id)| {
        let ms: i64 = ms.parse().ok()?;
        is_ulid(id).then(|| (Timestamp::from_unix_ms(ms), id.to_owned()))
    });
    parsed.ok_or_else(bad_cursor)
}

/// `"<seq>_<blockIndex>"`: the last media item of a page.
pub fn encode_media(seq: i64, block_index: u32) -> String {
    format!("{seq}_{block_index}")
}

pub fn decode_media(cursor: &str) -> CoreResult<(i64, u32)> {
    let parsed = cursor.split_once('_').and_then(|(seq, idx)| Some((seq.parse().ok()?, idx.parse().ok()?)));
    match parsed {
        Some((seq, idx)) if seq >= 0 => Ok((seq, idx)),
        _ => Err(bad_cursor()),
    }
}

/// Message cursors are message ids, so a client can resume from the last message it saw.
pub fn check_message_cursor(cursor: &str) -> CoreResult<()> {
    if is_ulid(cursor) { Ok(()) } else { Err(bad_cursor()) }
}

fn bad_cursor() -> CoreError {
    CoreError::invalid("cursor", "is not a cursor this server issued; pass `nextCursor` back unchanged")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_cursor_round_trips_and_rejects_garbage() {
        let id = crate::ids::new_id();
        let c = encode_conversation(Timestamp::from_unix_ms(1_743_004_200_000), &id);
        assert_eq!(decode_conversation(&c).unwrap(), (Timestamp::from_unix_ms(1_743_004_200_000), id));
        for bad in ["", "123", "abc_01JRZABC1234567890ABCDEF", "1_notaulid", "1_"] {
            assert!(decode_conversation(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn media_cursor_round_trips() {
        assert_eq!(decode_media(&encode_media(42, 3)).unwrap(), (42, 3));
        assert!(decode_media("x_1").is_err());
        assert!(decode_media("-1_0").is_err());
    }
}
