//! Decoding JSON into request types for every door, with failures as validation errors that
//! name the field (`blocks[0].format`). Each door renders the error in its own format.

use chatgate_core::CoreError;
use chatgate_core::decode::locate;
use chatgate_core::model::{Block, Mention, QuickReply};
use chatgate_core::service::SendMessage;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The body of a message as seed 002 sends it (`SendMessageRequest`), over REST and, with a
/// `conversationId` beside it, over the chat hub.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageBody {
    pub blocks: Vec<Block>,
    #[serde(default)]
    pub reply_to_message_id: Option<String>,
    #[serde(default)]
    pub quick_replies: Option<Vec<QuickReply>>,
    #[serde(default)]
    pub mentions: Option<Vec<Mention>>,
    #[serde(default)]
    pub client_message_id: Option<String>,
}

impl From<SendMessageBody> for SendMessage {
    fn from(b: SendMessageBody) -> Self {
        SendMessage {
            blocks: b.blocks,
            reply_to_message_id: b.reply_to_message_id,
            quick_replies: b.quick_replies,
            mentions: b.mentions,
            client_message_id: b.client_message_id,
        }
    }
}

/// Decodes a JSON document that must be an object.
pub fn from_object_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CoreError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(CoreError::invalid("body", "must be a JSON object")),
        Some(b'{') => {}
        Some(_) => return Err(CoreError::invalid("body", "must be a JSON object (`{...}`)")),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return CoreError::invalid("body", format!("is not valid JSON ({inner})"));
        }
        let (field, description) = locate(&path, &inner.to_string());
        CoreError::invalid(field, description)
    })?;
    de.end().map_err(|e| CoreError::invalid("body", format!("has trailing characters ({e})")))?;
    Ok(value)
}

/// Decodes an already parsed JSON value that must be an object (a hub argument, an event
/// payload).
pub fn from_object<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, CoreError> {
    if !value.is_object() {
        return Err(CoreError::invalid(what, "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let (field, description) = locate(&path, &e.into_inner().to_string());
        CoreError::invalid(if field == "body" { what.to_owned() } else { field }, description)
    })
}

/// Removes the string field `key` from a JSON object (for requests that are another request's
/// body plus an id, decoded in two steps so that errors keep their field paths).
pub fn take_string(value: &mut Value, key: &str) -> Result<String, CoreError> {
    let Some(object) = value.as_object_mut() else {
        return Err(CoreError::invalid("request", "must be a JSON object"));
    };
    match object.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(CoreError::invalid(key, "must be a string")),
        None => Err(CoreError::invalid(key, "is required")),
    }
}
