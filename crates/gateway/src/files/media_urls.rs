//! Signed `url`s on the media references the server hands out, when downloads need signing.
//!
//! A stored `MediaReference` keeps what the client sent (`{storageKey}` or an outside `{url}`);
//! a signed URL expires, so it is added as each answer or event leaves, never stored. The rule
//! works on the rendered JSON, so every REST answer and every hub event gets it, whichever door
//! rendered it and whatever shape wraps the reference:
//!
//! - an object whose only keys are `storageKey` and `url` is a MediaReference: with a
//!   `storageKey` and no `url`, it gets `url`; an outside `url` the client gave stays as given,
//!   while one of this server's own download paths (a client echoing an old signed URL back) is
//!   signed afresh;
//! - a media-listing item names its references in pairs of fields, `storageKey`/`url`,
//!   `thumbnailStorageKey`/`thumbnailUrl` and `linkImageStorageKey`/`linkImageUrl`: a key with
//!   a `null` URL beside it gets the URL.

use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chatgate_core::{Event, Timestamp};
use serde_json::{Map, Value};

use super::signing::UrlSigner;
use crate::http::problem::ApiError;
use crate::state::AppState;

/// Fills signed URLs into rendered JSON; does nothing when downloads are not signed.
#[derive(Clone, Default)]
pub struct MediaUrls {
    signer: Option<Arc<UrlSigner>>,
}

/// Field pairs of flattened references (the media listing's items).
const URL_PAIRS: [(&str, &str); 3] =
    [("storageKey", "url"), ("thumbnailStorageKey", "thumbnailUrl"), ("linkImageStorageKey", "linkImageUrl")];

/// Answers larger than this, or of unknown length, are passed on unsigned rather than read
/// into memory.
const MAX_SIGNED_BODY_BYTES: u64 = 16 * 1024 * 1024;

/// Paths whose answers are not chatgate's rendering: file bytes (an uploaded JSON file is served
/// as it is) and proxied upstream answers (passed back unchanged).
const UNSIGNED_PATHS: [&str; 2] = ["/api/files/", "/api/proxy/"];

impl MediaUrls {
    pub fn new(signer: Option<Arc<UrlSigner>>) -> MediaUrls {
        MediaUrls { signer }
    }

    pub fn enabled(&self) -> bool {
        self.signer.is_some()
    }

    /// Adds signed URLs throughout `value`; returns how many.
    pub fn fill_json(&self, value: &mut Value, now: Timestamp) -> usize {
        match &self.signer {
            Some(signer) => fill(signer, value, now),
            None => 0,
        }
    }

    /// The event with signed URLs on its media references, if it has any to sign. Events carry
    /// the stored form; hubs render this one instead.
    pub fn fill_event(&self, event: &Event, now: Timestamp) -> Option<Event> {
        let signer = self.signer.as_ref()?;
        let mut value = serde_json::to_value(event).ok()?;
        if fill(signer, &mut value, now) == 0 {
            return None;
        }
        match serde_json::from_value(value) {
            Ok(signed) => Some(signed),
            Err(e) => {
                tracing::warn!(error = %e, event = event.kind.name(), "event not signed; sent as stored");
                None
            }
        }
    }
}

fn fill(signer: &UrlSigner, value: &mut Value, now: Timestamp) -> usize {
    match value {
        Value::Array(items) => items.iter_mut().map(|v| fill(signer, v, now)).sum(),
        Value::Object(object) => {
            let mut filled = fill_object(signer, object, now);
            for v in object.values_mut() {
                filled += fill(signer, v, now);
            }
            filled
        }
        _ => 0,
    }
}

fn fill_object(signer: &UrlSigner, object: &mut Map<String, Value>, now: Timestamp) -> usize {
    let is_reference =
        object.contains_key("storageKey") && object.keys().all(|k| k == "storageKey" || k == "url");
    if is_reference {
        let ours = |url: &str| url.starts_with("/api/files/");
        return match (object.get("storageKey"), object.get("url")) {
            (Some(Value::String(key)), None | Some(Value::Null)) if !key.is_empty() => {
                let url = signer.signed_url(key, now);
                object.insert("url".to_owned(), Value::String(url));
                1
            }
            (Some(Value::String(key)), Some(Value::String(url))) if !key.is_empty() && ours(url) => {
                let url = signer.signed_url(key, now);
                object.insert("url".to_owned(), Value::String(url));
                1
            }
            _ => 0,
        };
    }
    let mut filled = 0;
    for (key_field, url_field) in URL_PAIRS {
        if let (Some(Value::String(key)), Some(Value::Null)) = (object.get(key_field), object.get(url_field))
            && !key.is_empty()
        {
            let url = signer.signed_url(key, now);
            object.insert(url_field.to_owned(), Value::String(url));
            filled += 1;
        }
    }
    filled
}

/// Middleware over the REST answers: JSON bodies that mention a `storageKey` get signed URLs.
pub async fn sign_responses(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let urls = state.files.media_urls();
    if !urls.enabled() || UNSIGNED_PATHS.iter().any(|p| request.uri().path().starts_with(p)) {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let known_size = response.body().size_hint().upper().is_some_and(|n| n <= MAX_SIGNED_BODY_BYTES);
    if !is_json || !known_size {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_SIGNED_BODY_BYTES as usize).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "answer could not be read to sign its media URLs");
            return ApiError::from(chatgate_core::CoreError::unexpected("The answer could not be completed"))
                .into_response();
        }
    };
    if !bytes.windows(b"StorageKey\"".len()).any(|w| w.eq_ignore_ascii_case(b"StorageKey\"")) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if urls.fill_json(&mut value, Timestamp::now()) == 0 {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let signed = serde_json::to_vec(&value).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(signed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn urls() -> MediaUrls {
        MediaUrls::new(Some(Arc::new(UrlSigner::new(b"k".to_vec(), 60_000))))
    }

    #[test]
    fn references_with_a_key_get_a_signed_url_and_outside_urls_stay() {
        let mut v = json!({
            "blocks": [
                {"$type": "image", "source": {"storageKey": "K/a b.png"}, "thumbnail": null},
                {"$type": "video", "source": {"url": "https://cdn.example/v.mp4"}},
                {"$type": "file", "source": {"storageKey": "K/r.pdf", "url": "https://mirror/r.pdf"}, "fileName": "r"}
            ],
            "avatar": {"storageKey": "K/me.png"},
            "uploadResponse": {"storageKey": "K/x", "downloadUrl": "/api/files/K/x"}
        });
        let n = urls().fill_json(&mut v, Timestamp::from_unix_ms(0));
        assert_eq!(n, 2);
        let url = v["blocks"][0]["source"]["url"].as_str().unwrap();
        assert!(url.starts_with("/api/files/K/a%20b.png?expires="), "{url}");
        assert!(url.contains("&sig="));
        assert_eq!(v["blocks"][1]["source"], json!({"url": "https://cdn.example/v.mp4"}));
        assert_eq!(v["blocks"][2]["source"]["url"], "https://mirror/r.pdf");
        assert!(v["avatar"]["url"].is_string());
        assert!(v["uploadResponse"].get("url").is_none());
    }

    #[test]
    fn an_old_signed_url_sent_back_is_signed_afresh() {
        let mut v = json!({"thumbnail": {"storageKey": "K/t.jpg", "url": "/api/files/K/t.jpg?expires=2000-01-01T00:00:00.000Z&sig=x"}});
        assert_eq!(urls().fill_json(&mut v, Timestamp::from_unix_ms(1_700_000_000_000)), 1);
        let url = v["thumbnail"]["url"].as_str().unwrap();
        assert!(url.starts_with("/api/files/K/t.jpg?expires=2023-"), "{url}");
    }

    #[test]
    fn media_items_get_urls_beside_their_keys() {
        let mut v = json!({"items": [{
            "kind": "Attachment", "storageKey": "K/a.png", "url": null,
            "thumbnailStorageKey": "T/t.jpg", "thumbnailUrl": null,
            "linkImageStorageKey": null, "linkImageUrl": null
        }]});
        assert_eq!(urls().fill_json(&mut v, Timestamp::from_unix_ms(0)), 2);
        assert!(v["items"][0]["url"].as_str().unwrap().starts_with("/api/files/K/a.png?"));
        assert!(v["items"][0]["thumbnailUrl"].as_str().unwrap().starts_with("/api/files/T/t.jpg?"));
        assert!(v["items"][0]["linkImageUrl"].is_null());
    }

    #[test]
    fn nothing_changes_without_signing() {
        let mut v = json!({"source": {"storageKey": "K/a.png"}});
        assert_eq!(MediaUrls::default().fill_json(&mut v, Timestamp::from_unix_ms(0)), 0);
        assert_eq!(v, json!({"source": {"storageKey": "K/a.png"}}));
    }
}
