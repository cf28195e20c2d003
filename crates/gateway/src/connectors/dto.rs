//! The connector bridge's payload shapes: channel accounts, connector events, outbox entries.

use chatgate_core::decode::locate;
use chatgate_core::model::{ChannelAccount, OutboxEntry};
use chatgate_core::service::{ChannelEvent, InboundMessage, Ingested, SessionReport};
use chatgate_core::{CoreError, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateChannelRequest {
    #[serde(rename = "type")]
    pub channel_type: String,
    pub name: String,
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A channel account. `connectorKey` is shown when the key is made, and `null` afterwards.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelDto {
    pub id: String,
    #[serde(rename = "type")]
    pub channel_type: &'static str,
    pub name: String,
    pub external_id: Option<String>,
    pub connector_key: Option<String>,
    pub session: SessionDto,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDto {
    pub state: &'static str,
    pub qr_code: Option<String>,
    pub phone_number: Option<String>,
    pub display_name: Option<String>,
    pub reason: Option<String>,
}

impl ChannelDto {
    pub fn new(account: ChannelAccount, connector_key: Option<String>) -> Self {
        let s = account.session;
        ChannelDto {
            id: account.id,
            channel_type: account.channel_type.as_str(),
            name: account.name,
            external_id: account.external_id,
            connector_key,
            session: SessionDto {
                state: s.state.as_str(),
                qr_code: s.qr_code,
                phone_number: s.phone_number,
                display_name: s.display_name,
                reason: s.reason,
            },
            created_at: account.created_at,
            updated_at: account.updated_at,
        }
    }
}

#[derive(Serialize)]
pub struct ChannelListDto {
    pub items: Vec<ChannelDto>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionEventDto {
    state: String,
    #[serde(default)]
    qr_code: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageEventDto {
    external_chat_id: String,
    #[serde(default)]
    chat_name: Option<String>,
    #[serde(default)]
    is_group: bool,
    external_message_id: String,
    #[serde(default)]
    from_me: bool,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    message_type: Option<String>,
    #[serde(default)]
    object_id: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
    /// RFC 3339, or Unix time in seconds (as whatsapp-web.js gives it) or milliseconds.
    #[serde(default)]
    timestamp: Option<Value>,
    #[serde(default)]
    raw: Option<Value>,
}

/// Decodes the body of `POST /api/connectors/{id}/events`: one event, or an array of them.
/// Returns the events and whether they came as an array (errors then name `[i].field`).
pub fn decode_events(bytes: &[u8]) -> Result<(Vec<ChannelEvent>, bool), CoreError> {
    let document: Value = serde_json::from_slice(bytes)
        .map_err(|e| CoreError::invalid("body", format!("is not valid JSON ({e})")))?;
    let (values, batch) = match document {
        Value::Array(items) => (items, true),
        object @ Value::Object(_) => (vec![object], false),
        _ => return Err(CoreError::invalid("body", "must be an event object or an array of them")),
    };
    let mut events = Vec::with_capacity(values.len());
    let mut failures = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        let prefix = if batch { format!("[{i}]") } else { String::new() };
        match decode_event(value, &prefix) {
            Ok(event) => events.push(event),
            Err(e) => failures.extend(e.errors),
        }
    }
    if failures.is_empty() { Ok((events, batch)) } else { Err(CoreError::validation(failures)) }
}

fn decode_event(value: Value, prefix: &str) -> Result<ChannelEvent, CoreError> {
    let field = |name: &str| if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") };
    let Value::Object(object) = &value else {
        return Err(CoreError::invalid(
            if prefix.is_empty() { "body" } else { prefix },
            "must be an event object",
        ));
    };
    match object.get("kind").and_then(Value::as_str) {
        Some("session") => {
            let s: SessionEventDto = decode(value, prefix)?;
            Ok(ChannelEvent::Session(SessionReport {
                state: s.state,
                qr_code: s.qr_code,
                phone_number: s.phone_number,
                display_name: s.display_name,
                reason: s.reason,
            }))
        }
        Some("message") => {
            let m: MessageEventDto = decode(value, prefix)?;
            let sent_at = match &m.timestamp {
                None | Some(Value::Null) => None,
                Some(t) => Some(parse_instant(t).ok_or_else(|| {
                    CoreError::invalid(
                        field("timestamp"),
                        "must be an RFC 3339 date-time or Unix time (seconds or milliseconds)",
                    )
                })?),
            };
            Ok(ChannelEvent::Message(InboundMessage {
                external_chat_id: m.external_chat_id,
                chat_name: m.chat_name,
                is_group: m.is_group,
                external_message_id: m.external_message_id,
                from_me: m.from_me,
                from: m.from,
                from_name: m.from_name,
                text: m.text,
                message_type: m.message_type,
                object_id: m.object_id,
                parent_id: m.parent_id,
                sent_at,
                raw: m.raw.filter(|r| !r.is_null()),
            }))
        }
        _ => Err(CoreError::invalid(field("kind"), "must be \"session\" or \"message\"")),
    }
}

fn decode<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, CoreError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let outer = match (prefix, inner.as_str()) {
            ("", path) => path.to_owned(),
            (prefix, "." | "") => prefix.to_owned(),
            (prefix, path) => format!("{prefix}.{path}"),
        };
        let (field, description) = locate(&outer, &e.into_inner().to_string());
        CoreError::invalid(field, description)
    })
}

/// RFC 3339 text, or a Unix time: seconds below 10^11 (until the year 5138), milliseconds above.
fn parse_instant(value: &Value) -> Option<Timestamp> {
    match value {
        Value::String(s) => Timestamp::parse_rfc3339(s),
        Value::Number(n) => {
            let n = n.as_f64().filter(|n| n.is_finite() && *n >= 0.0 && *n < 1e15)?;
            Some(Timestamp::from_unix_ms(if n < 1e11 { (n * 1000.0) as i64 } else { n as i64 }))
        }
        _ => None,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", rename_all_fields = "camelCase")]
pub enum IngestedDto {
    Session { state: &'static str },
    Message { conversation_id: String, message_id: String, duplicate: bool, shown: bool },
}

impl From<Ingested> for IngestedDto {
    fn from(i: Ingested) -> Self {
        match i {
            Ingested::Session { state } => IngestedDto::Session { state: state.as_str() },
            Ingested::Message { conversation_id, message_id, duplicate, shown } => {
                IngestedDto::Message { conversation_id, message_id, duplicate, shown }
            }
        }
    }
}

#[derive(Serialize)]
pub struct IngestedListDto {
    pub results: Vec<IngestedDto>,
}

/// An outbox entry as the connector receives it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntryDto {
    pub id: String,
    pub seq: i64,
    pub channel_id: String,
    pub conversation_id: String,
    pub message_id: String,
    pub external_chat_id: Option<String>,
    pub reply_to_external_message_id: Option<String>,
    pub sender_id: String,
    pub sender_name: String,
    pub text: Option<String>,
    pub blocks: Vec<chatgate_core::model::Block>,
    pub created_at: Timestamp,
}

impl From<OutboxEntry> for OutboxEntryDto {
    fn from(e: OutboxEntry) -> Self {
        OutboxEntryDto {
            id: e.id,
            seq: e.seq,
            channel_id: e.account_id,
            conversation_id: e.conversation_id,
            message_id: e.message_id,
            external_chat_id: e.external_chat_id,
            reply_to_external_message_id: e.reply_to_external_id,
            sender_id: e.sender_id,
            sender_name: e.sender_name,
            text: e.text,
            blocks: e.blocks,
            created_at: e.created_at,
        }
    }
}

#[derive(Serialize)]
pub struct OutboxPageDto {
    pub items: Vec<OutboxEntryDto>,
}

/// `{ids: [...]}` and/or `{acks: [{id, externalMessageId?}]}`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AckRequest {
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default)]
    pub acks: Vec<AckItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AckItem {
    pub id: String,
    #[serde(default)]
    pub external_message_id: Option<String>,
}

impl AckRequest {
    pub fn into_pairs(self) -> Vec<(String, Option<String>)> {
        self.ids
            .into_iter()
            .map(|id| (id, None))
            .chain(self.acks.into_iter().map(|a| (a.id, a.external_message_id)))
            .collect()
    }
}

#[derive(Serialize)]
pub struct AckedDto {
    pub acknowledged: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_or_many_and_errors_name_the_event() {
        let (one, batch) = decode_events(br#"{"kind":"session","state":"qr","qrCode":"data:x"}"#).unwrap();
        assert!(!batch);
        assert!(matches!(&one[0], ChannelEvent::Session(s) if s.state == "qr"));
        let err = decode_events(
            br#"[{"kind":"session","state":"connected"},{"kind":"message","externalChatId":"c","isGroup":"no"},{"kind":"x"}]"#,
        )
        .unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(fields, ["[1].isGroup", "[2].kind"], "{err:?}");
        let missing = decode_events(br#"{"kind":"message","externalChatId":"c"}"#).unwrap_err();
        assert_eq!(missing.errors[0].code, "externalMessageId");
        assert_eq!(decode_events(b"42").unwrap_err().errors[0].code, "body");
    }

    #[test]
    fn timestamps_are_rfc3339_or_unix_seconds_or_milliseconds() {
        let at = Timestamp::parse_rfc3339("2025-07-16T11:13:54Z").unwrap();
        assert_eq!(parse_instant(&Value::from("2025-07-16T11:13:54Z")), Some(at));
        assert_eq!(parse_instant(&Value::from(at.unix_ms() / 1000)), Some(at));
        assert_eq!(parse_instant(&Value::from(at.unix_ms())), Some(at));
        assert_eq!(parse_instant(&Value::from("yesterday")), None);
        assert_eq!(parse_instant(&Value::from(-1)), None);
    }
}
