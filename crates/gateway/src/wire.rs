//! Decoding JSON into request types for every door, with failures as validation errors that
//! name the field (`blocks[0].format`). Each door renders the error in its own format.

use chatgate_core::CoreError;
use chatgate_core::decode::locate;
use serde::de::DeserializeOwned;
use serde_json::Value;

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
