//! The Socket.IO doors (seeds 000, 001, 004) on socketioxide, served at `/socket.io/` on the
//! same port as everything else, over WebSocket and HTTP long-polling.
//!
//! Each namespace is a door of its own, in its own module, with a `register` function that
//! defines the namespace and starts the task that renders core events for it. Rooms are local
//! to this node: every node renders the events it receives from the bus for its own sockets, so
//! no Socket.IO adapter is needed across nodes.

pub mod auth;
pub mod chatomni;
pub mod support;
pub mod whatsapp;

use std::time::Duration;

use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderValue, Request, Uri};
use socketioxide::SocketIo;
use socketioxide::layer::SocketIoLayer;

use crate::state::AppState;

/// Largest Socket.IO packet accepted, in bytes.
const MAX_PAYLOAD: u64 = 1024 * 1024;

/// Makes the head of a request that opens a Socket.IO session own its bytes; other requests
/// pass untouched.
///
/// socketioxide keeps the head of the request that opened a session for the session's whole
/// life, and the header values and URI that hyper parses are slices of the connection's read
/// buffer (8–16 KiB): kept as they are, they would hold that whole buffer per connection. Copies
/// hold only themselves. Requests of an open session (`sid=`: polls, posts, the upgrade of a
/// polling session) are not kept, so they are not copied.
pub fn own_request_head<B>(mut request: Request<B>) -> Request<B> {
    let uri = request.uri();
    let opens_session = uri.path().starts_with("/socket.io")
        && !uri.query().unwrap_or_default().split('&').any(|pair| pair.starts_with("sid="));
    if !opens_session {
        return request;
    }
    let shared = std::mem::take(request.headers_mut());
    let mut owned = HeaderMap::with_capacity(shared.len());
    for (name, value) in &shared {
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        owned.append(name.clone(), copy);
    }
    *request.headers_mut() = owned;
    if let Ok(uri) = Uri::try_from(request.uri().to_string()) {
        // axum's copy of the URI, made before any layer runs, shares the buffer too.
        if let Some(OriginalUri(original)) = request.extensions_mut().get_mut::<OriginalUri>() {
            *original = uri.clone();
        }
        *request.uri_mut() = uri;
    }
    request
}

/// Every Socket.IO namespace, running.
#[derive(Clone)]
pub struct SocketDoors {
    pub io: SocketIo,
}

impl SocketDoors {
    /// Defines every namespace over `state` and returns the layer that serves them.
    pub fn start(state: &AppState) -> (SocketIoLayer, SocketDoors) {
        let (layer, io) = SocketIo::builder()
            .max_payload(MAX_PAYLOAD)
            .ws_max_message_size(MAX_PAYLOAD as usize)
            .ws_read_buffer_size(4 * 1024)
            .ping_interval(Duration::from_secs(25))
            .ping_timeout(Duration::from_secs(20))
            .build_layer();
        support::register(&io, state);
        chatomni::register(&io, state);
        whatsapp::register(&io, state);
        let _ = state;
        (layer, SocketDoors { io })
    }

    /// Disconnects every socket; clients reconnect on their own (graceful shutdown).
    pub async fn close_all(&self) {
        for namespace in self.io.nsps() {
            if let Err(e) = namespace.disconnect().await {
                tracing::debug!(error = ?e, "disconnecting a namespace's sockets");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::OriginalUri;
    use axum::http::{HeaderValue, Request, Uri};
    use bytes::Bytes;

    use super::own_request_head;

    /// A request whose head is made of slices of one buffer, as hyper parses it.
    fn parsed(path: &str, buffer: &Bytes) -> Request<()> {
        let text = std::str::from_utf8(buffer).unwrap_or_default();
        let slice =
            |s: &str| buffer.slice_ref(text.find(s).map_or(&buffer[..0], |at| &buffer[at..at + s.len()]));
        let uri = Uri::from_maybe_shared(slice(path)).unwrap_or_default();
        let mut request = Request::builder().uri(uri.clone()).body(()).unwrap_or_default();
        request.extensions_mut().insert(OriginalUri(uri));
        let token =
            HeaderValue::from_maybe_shared(slice("Bearer abc")).unwrap_or(HeaderValue::from_static(""));
        request.headers_mut().insert("authorization", token);
        request.headers_mut().append(
            "x-tag",
            HeaderValue::from_maybe_shared(slice("one")).unwrap_or(HeaderValue::from_static("")),
        );
        request.headers_mut().append(
            "x-tag",
            HeaderValue::from_maybe_shared(slice("two")).unwrap_or(HeaderValue::from_static("")),
        );
        request
    }

    fn inside(buffer: &Bytes, bytes: &[u8]) -> bool {
        buffer.as_ptr_range().contains(&bytes.as_ptr())
    }

    #[test]
    fn a_socket_io_request_head_no_longer_points_into_the_read_buffer() {
        let path = "/socket.io/?EIO=4&transport=websocket&token=t";
        let buffer = Bytes::from(format!(
            "GET {path} HTTP/1.1\r\nAuthorization: Bearer abc\r\nX-Tag: one\r\nX-Tag: two\r\n\r\n"
        ));
        let before = parsed(path, &buffer);
        assert!(
            inside(&buffer, before.headers()["authorization"].as_bytes()),
            "the fixture shares the buffer"
        );

        let after = own_request_head(before);

        assert_eq!(after.uri(), path);
        assert_eq!(after.headers()["authorization"], "Bearer abc");
        let tags: Vec<_> = after.headers().get_all("x-tag").iter().collect();
        assert_eq!(tags, ["one", "two"]);
        for value in after.headers().values() {
            assert!(!inside(&buffer, value.as_bytes()), "{value:?} still points into the buffer");
        }
        let query = after.uri().query().unwrap_or_default();
        assert!(!inside(&buffer, query.as_bytes()), "the URI still points into the buffer");
        let original = after.extensions().get::<OriginalUri>().map(|o| o.0.clone()).unwrap_or_default();
        assert_eq!(original, path);
        assert!(!inside(&buffer, original.query().unwrap_or_default().as_bytes()));
    }

    #[test]
    fn other_requests_pass_as_they_are() {
        for path in ["/api/conversations?limit=5", "/socket.io/?EIO=4&transport=polling&sid=abc"] {
            let buffer = Bytes::from(format!("GET {path} HTTP/1.1\r\nAuthorization: Bearer abc\r\n\r\n"));
            let after = own_request_head(parsed(path, &buffer));
            assert!(inside(&buffer, after.headers()["authorization"].as_bytes()), "{path}");
            assert!(inside(&buffer, after.uri().query().unwrap_or_default().as_bytes()), "{path}");
        }
    }
}
