//! The opening handshake (RFC 6455 section 4.2) over hyper: check the request, answer 101, and
//! take the TCP connection once hyper lets it go.

use std::fmt;
use std::io;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio::net::TcpStream;

use crate::socket::{Limits, WebSocket};

/// Why a request could not be upgraded: answer it with [`status`](HandshakeError::status)
/// and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeError {
    status: StatusCode,
    message: &'static str,
}

impl HandshakeError {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &'static str {
        self.message
    }

    /// The answer to send, `Sec-WebSocket-Version` included when the version was wrong.
    pub fn response(&self) -> Response<String> {
        let mut response = Response::new(self.message.to_owned());
        *response.status_mut() = self.status;
        if self.status == StatusCode::UPGRADE_REQUIRED {
            response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        response
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for HandshakeError {}

fn refuse(status: StatusCode, message: &'static str) -> HandshakeError {
    HandshakeError { status, message }
}

/// Whether `request` asks to become a WebSocket (whatever else may be wrong with it).
pub fn is_upgrade_request<B>(request: &Request<B>) -> bool {
    has_token(request.headers(), header::UPGRADE, "websocket")
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// A request accepted for upgrade: await [`Upgrade::websocket`] after returning the 101.
pub struct Upgrade {
    on_upgrade: OnUpgrade,
}

/// Checks that `request` is a WebSocket opening handshake; returns the 101 answer (to be sent
/// as the response) and the upgrade to await once it is.
pub fn accept<B>(request: &mut Request<B>) -> Result<(Response<()>, Upgrade), HandshakeError> {
    if request.method() != Method::GET {
        return Err(refuse(StatusCode::METHOD_NOT_ALLOWED, "A WebSocket is opened with GET"));
    }
    if request.version() != Version::HTTP_11 {
        return Err(refuse(StatusCode::HTTP_VERSION_NOT_SUPPORTED, "A WebSocket is opened over HTTP/1.1"));
    }
    let headers = request.headers();
    if !has_token(headers, header::CONNECTION, "upgrade") || !is_upgrade_request(request) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Expected the headers Connection: Upgrade and Upgrade: websocket",
        ));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        return Err(refuse(StatusCode::UPGRADE_REQUIRED, "Only WebSocket version 13 is supported"));
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|k| {
            base64::engine::general_purpose::STANDARD.decode(k.as_bytes()).is_ok_and(|d| d.len() == 16)
        })
        .ok_or_else(|| {
            refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing or is not 16 bytes in base64")
        })?;
    let accept = accept_key(key.as_bytes());
    let on_upgrade = request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or_else(|| refuse(StatusCode::INTERNAL_SERVER_ERROR, "This connection cannot be upgraded"))?;
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    Ok((response, Upgrade { on_upgrade }))
}

/// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + the RFC's GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

impl Upgrade {
    /// Waits for hyper to hand over the connection; returns it as a WebSocket, with what the
    /// client already sent after its request.
    ///
    /// The connection must be hyper's plain TCP connection (as `axum::serve` and hyper-util's
    /// servers make it): writes go straight to the socket, which is what lets a broadcast skip
    /// a task per receiver.
    pub async fn websocket(self, limits: Limits) -> io::Result<(Arc<WebSocket>, Bytes)> {
        let upgraded = self.on_upgrade.await.map_err(io::Error::other)?;
        let (io, leftover) =
            match hyper_util::server::conn::auto::upgrade::downcast::<TokioIo<TcpStream>>(upgraded) {
                Ok(parts) => (parts.io, parts.read_buf),
                Err(upgraded) => match upgraded.downcast::<TokioIo<TcpStream>>() {
                    Ok(parts) => (parts.io, parts.read_buf),
                    Err(_) => {
                        return Err(io::Error::new(
                            io::ErrorKind::Unsupported,
                            "a WebSocket needs the plain TCP connection of hyper's server",
                        ));
                    }
                },
            };
        Ok((WebSocket::new(io.into_inner(), limits), leftover))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_the_rfcs_example() {
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    fn request(edit: impl FnOnce(&mut http::request::Builder)) -> Request<()> {
        let mut builder = Request::get("/ws")
            .header("connection", "keep-alive, Upgrade")
            .header("upgrade", "WebSocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        edit(&mut builder);
        builder.body(()).unwrap_or_default()
    }

    #[test]
    fn bad_handshakes_say_what_is_wrong() {
        let mut no_upgrade = Request::get("/ws").body(()).unwrap_or_default();
        assert_eq!(accept(&mut no_upgrade).err().map(|e| e.status()), Some(StatusCode::BAD_REQUEST));
        let mut post = request(|_| ());
        *post.method_mut() = Method::POST;
        assert_eq!(accept(&mut post).err().map(|e| e.status()), Some(StatusCode::METHOD_NOT_ALLOWED));
        let mut old = request(|b| {
            b.headers_mut().map(|h| h.insert("sec-websocket-version", HeaderValue::from_static("8")));
        });
        let refused = accept(&mut old).err();
        assert_eq!(refused.as_ref().map(|e| e.status()), Some(StatusCode::UPGRADE_REQUIRED));
        assert_eq!(
            refused.map(|e| e.response().headers()["sec-websocket-version"].clone()),
            Some(HeaderValue::from_static("13"))
        );
        let mut bad_key = request(|b| {
            b.headers_mut().map(|h| h.insert("sec-websocket-key", HeaderValue::from_static("short")));
        });
        assert_eq!(accept(&mut bad_key).err().map(|e| e.status()), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn a_good_handshake_needs_hypers_upgrade_to_go_on() {
        // Outside hyper there is no connection to take over; everything else checked out.
        let mut good = request(|_| ());
        assert_eq!(accept(&mut good).err().map(|e| e.status()), Some(StatusCode::INTERNAL_SERVER_ERROR));
    }
}
