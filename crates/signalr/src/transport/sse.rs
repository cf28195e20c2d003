//! The Server-Sent Events transport: server-to-client frames as `data:` events; the client
//! sends with HTTP POST.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};

use super::text;
use crate::connection::{Connection, Frame, Transport};
use crate::hub::HubUser;
use crate::registry::Hub;

/// Closes the connection when the response body is dropped (the client went away).
struct CloseOnDrop<U: HubUser> {
    hub: Hub<U>,
    connection: Arc<Connection<U>>,
}

impl<U: HubUser> Drop for CloseOnDrop<U> {
    fn drop(&mut self) {
        self.hub.close_connection(&self.connection, None, false);
    }
}

fn event(frame: &Frame) -> Bytes {
    let mut out = BytesMut::with_capacity(frame.payload().len() + 8);
    for line in frame.as_str().split('\n') {
        out.put_slice(b"data: ");
        out.put_slice(line.trim_end_matches('\r').as_bytes());
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
    out.freeze()
}

pub(super) fn stream<U: HubUser>(hub: Hub<U>, connection: Arc<Connection<U>>) -> Response {
    if connection.attach(Transport::ServerSentEvents).is_err() {
        return text(StatusCode::CONFLICT, "The connection already has a transport");
    }
    let guard = CloseOnDrop { hub, connection: connection.clone() };
    let closed = connection.closed_signal();
    // An empty comment first, so the client sees the stream open at once.
    let state = (guard, closed, Some(Bytes::from_static(b":\r\n\r\n")), false);
    let body = futures_util::stream::unfold(state, |(guard, mut closed, first, ended)| async move {
        if let Some(first) = first {
            return Some((Ok::<_, std::convert::Infallible>(first), (guard, closed, None, ended)));
        }
        if ended {
            return None;
        }
        let connection = guard.connection.clone();
        let mut receiver = connection.receiver.lock().await;
        tokio::select! {
            biased;
            frame = receiver.recv() => match frame {
                Some(f) => {
                    drop(receiver);
                    Some((Ok(event(&f)), (guard, closed, None, false)))
                }
                None => None,
            },
            _ = closed.changed() => {
                let mut out = BytesMut::new();
                while let Ok(f) = receiver.try_recv() {
                    out.put(event(&f));
                }
                if let Some(close) = connection.take_close_frame() {
                    out.put(event(&close));
                }
                drop(receiver);
                Some((Ok(out.freeze()), (guard, closed, None, true)))
            }
        }
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
