//! The WebSocket transport: a session that starts on a WebSocket, or a polling session that
//! moves to one (`2probe` → `3probe`, a noop to the waiting poll, then `5`).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use chatgate_websocket::{CloseCode, CloseReason as WsCloseReason, Handler, Message, WebSocket};
use http::Request;

use super::packet;
use super::session::{CloseReason, Handshake, Session, Transport};
use super::{Engine, EngineHandler, HttpError};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Upgrading a polling session: waiting for `2probe`.
    Probe,
    /// Probed: waiting for `5`.
    AwaitUpgrade,
    /// The session's transport.
    Open,
}

/// What a WebSocket request opens.
enum Opening<D> {
    /// A new session, on this WebSocket from the start.
    New(Arc<Handshake>),
    /// The upgrade of a polling session.
    Upgrade(Arc<Session<D>>),
}

struct WsTransport<H: EngineHandler> {
    engine: Arc<Engine<H>>,
    session: Arc<Session<H::Data>>,
    phase: Phase,
}

pub(super) fn upgrade<H: EngineHandler>(
    engine: Arc<Engine<H>>,
    mut request: Request<Body>,
    session: Option<Arc<Session<H::Data>>>,
) -> Response {
    // A second WebSocket for a session that has (or is getting) one is accepted and closed
    // at once, as the reference server does.
    let redundant = session.as_ref().is_some_and(|session| {
        let state = session.lock();
        state.upgrading || !matches!(state.transport, Transport::Polling { .. })
    });
    let (response, upgrade) = match chatgate_websocket::accept(&mut request) {
        Ok(accepted) => accepted,
        Err(_) => return HttpError::BadRequest.response(),
    };
    if redundant {
        let limits = engine.ws_limits();
        tokio::spawn(async move {
            if let Ok((socket, _)) = upgrade.websocket(limits).await {
                socket.close(CloseCode::POLICY, "the session already has a WebSocket");
                chatgate_websocket::serve(socket, bytes::Bytes::new(), Discard).await;
            }
        });
        return response.map(|()| Body::empty());
    }
    let opening = match session {
        Some(session) => Opening::Upgrade(session),
        None => Opening::New(Arc::new(Handshake::new(request.uri(), request.headers()))),
    };
    tokio::spawn(async move {
        let (socket, leftover) = match upgrade.websocket(engine.ws_limits()).await {
            Ok(taken) => taken,
            Err(e) => {
                tracing::warn!(error = %e, "a Socket.IO WebSocket upgrade failed");
                return;
            }
        };
        let transport = match opening {
            Opening::Upgrade(session) => {
                let timeout = engine.config.upgrade_timeout;
                let (waiting, probing) = (session.clone(), socket.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    if !waiting.is_websocket() {
                        // Its transport then cancels the upgrade it began, if it began one.
                        probing.close(CloseCode::POLICY, "upgrade timed out");
                    }
                });
                WsTransport { engine, session, phase: Phase::Probe }
            }
            Opening::New(handshake) => {
                let session = engine.open_session(handshake, Transport::WebSocket(socket.clone()));
                let _ = socket.send(engine.open_packet(&session, &[]));
                engine.handler.on_open(&session);
                WsTransport { engine, session, phase: Phase::Open }
            }
        };
        chatgate_websocket::serve(socket, leftover, transport).await;
    });
    response.map(|()| Body::empty())
}

/// Reads a refused WebSocket until its close handshake ends.
struct Discard;

impl Handler for Discard {
    fn on_message(&mut self, _: &Arc<WebSocket>, _: Message<'_>) {}
    fn on_close(&mut self, _: &Arc<WebSocket>, _: &WsCloseReason) {}
}

impl<H: EngineHandler> Handler for WsTransport<H> {
    fn on_message(&mut self, socket: &Arc<WebSocket>, message: Message<'_>) {
        match (self.phase, message) {
            (Phase::Open, Message::Text(text)) => {
                if let Err(reason) = self.engine.receive_text(&self.session, text) {
                    self.engine.close_session(&self.session, reason);
                }
            }
            (Phase::Open, Message::Binary(data)) => {
                if let Err(reason) = self.engine.receive_binary(&self.session, data) {
                    self.engine.close_session(&self.session, reason);
                }
            }
            (Phase::Probe, Message::Text("2probe")) => {
                if self.session.begin_upgrade() {
                    let _ = socket.send(packet::probe_answer());
                    self.phase = Phase::AwaitUpgrade;
                } else {
                    socket.close(CloseCode::POLICY, "the session cannot be upgraded");
                }
            }
            (Phase::AwaitUpgrade, Message::Text("5")) => {
                if self.session.finish_upgrade(socket) {
                    self.phase = Phase::Open;
                } else {
                    socket.close(CloseCode::POLICY, "the session cannot be upgraded");
                }
            }
            // A noop while waiting for the upgrade packet is harmless.
            (Phase::AwaitUpgrade, Message::Text("6")) => {}
            _ => socket.close(CloseCode::PROTOCOL_ERROR, "unexpected packet during the upgrade"),
        }
    }

    fn on_close(&mut self, _socket: &Arc<WebSocket>, reason: &WsCloseReason) {
        match self.phase {
            Phase::Open => {
                // As the reference server: a connection that ends, with or without a close
                // frame, is "transport close"; one we had to end is a "transport error".
                let why = match reason {
                    WsCloseReason::ClientClosed(_) | WsCloseReason::Lost => CloseReason::TransportClose,
                    WsCloseReason::ServerClosed(_) => CloseReason::ServerClose,
                    WsCloseReason::Protocol(_) => CloseReason::ParseError,
                    WsCloseReason::TooSlow => CloseReason::TransportError,
                };
                self.engine.close_session(&self.session, why);
            }
            // The polling session goes on as it was.
            Phase::AwaitUpgrade => self.session.cancel_upgrade(),
            Phase::Probe => {}
        }
    }
}
