//! HTTP long-polling: a GET waits until the session has packets and takes them all; a POST
//! brings the client's packets. One of each at a time per session.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::packet::{self, PolledPacket};
use super::session::{CloseReason, Session, Transport};
use super::{Engine, EngineHandler, HttpError};

pub(super) fn text_response(payload: Bytes) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=UTF-8")
        .body(Body::from(payload))
        .unwrap_or_default()
}

/// Clears the session's "a poll is waiting" mark however the poll ends (the client may go
/// away while it waits, and the handler's future is then dropped).
struct PollClaim<'a, D>(&'a Session<D>);

impl<D> Drop for PollClaim<'_, D> {
    fn drop(&mut self) {
        self.0.lock().polling = false;
    }
}

pub(super) async fn poll<H: EngineHandler>(engine: &Engine<H>, session: Arc<Session<H::Data>>) -> Response {
    {
        let mut state = session.lock();
        if !matches!(state.transport, Transport::Polling { .. }) {
            return HttpError::BadRequest.response();
        }
        if state.polling {
            drop(state);
            // Two polls at once: the protocol says the session is broken.
            engine.close_session(&session, CloseReason::TransportError);
            return HttpError::BadRequest.response();
        }
        state.polling = true;
    }
    let _claim = PollClaim(&session);
    loop {
        let notified = session.poll_wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if session.overflowed() {
            engine.close_session(&session, CloseReason::TransportError);
        }
        {
            let mut state = session.lock();
            if let Some(reason) = state.closed {
                // A client that asked to close gets a noop; one that is closed, a close packet.
                let last =
                    if reason == CloseReason::TransportClose { packet::noop() } else { packet::close() };
                return text_response(last.payload());
            }
            match &mut state.transport {
                Transport::Polling { queue, queued } if !queue.is_empty() => {
                    let payload = packet::join_payload(queue.iter());
                    queue.clear();
                    *queued = 0;
                    if queue.capacity() > 32 {
                        *queue = Default::default();
                    }
                    return text_response(payload);
                }
                Transport::Polling { .. } => {}
                // Upgraded while this poll waited.
                Transport::WebSocket(_) => return text_response(packet::noop().payload()),
            }
        }
        notified.await;
    }
}

/// Clears the session's "a POST is being handled" mark.
struct PostClaim<'a, D>(&'a Session<D>);

impl<D> Drop for PostClaim<'_, D> {
    fn drop(&mut self) {
        self.0.lock().posting = false;
    }
}

pub(super) async fn post<H: EngineHandler>(
    engine: &Engine<H>,
    session: Arc<Session<H::Data>>,
    body: Body,
) -> Response {
    {
        let mut state = session.lock();
        if !matches!(state.transport, Transport::Polling { .. }) || state.closed.is_some() {
            return HttpError::BadRequest.response();
        }
        if state.posting {
            drop(state);
            engine.close_session(&session, CloseReason::TransportError);
            return HttpError::BadRequest.response();
        }
        state.posting = true;
    }
    let _claim = PostClaim(&session);
    let bytes = match Limited::new(body, engine.config.max_payload).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            engine.close_session(&session, CloseReason::TransportError);
            return HttpError::PayloadTooLarge.response();
        }
        // The client went away mid-body.
        Err(_) => return HttpError::BadRequest.response(),
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        engine.close_session(&session, CloseReason::ParseError);
        return HttpError::BadRequest.response();
    };
    let outcome = chatgate_websocket::corked(|| {
        for packet in packet::split_payload(text) {
            match packet {
                Ok(PolledPacket::Text(text)) => engine.receive_text(&session, text)?,
                Ok(PolledPacket::Binary(data)) => engine.receive_binary(&session, &data)?,
                Err(_) => return Err(CloseReason::ParseError),
            }
        }
        Ok(())
    });
    match outcome {
        Ok(()) => ok(),
        Err(CloseReason::TransportClose) => {
            engine.close_session(&session, CloseReason::TransportClose);
            ok()
        }
        Err(reason) => {
            engine.close_session(&session, reason);
            HttpError::BadRequest.response()
        }
    }
}

fn ok() -> Response {
    Response::builder().header(header::CONTENT_TYPE, "text/html").body(Body::from("ok")).unwrap_or_default()
}
