//! Engine.IO v4: sessions over HTTP long-polling and WebSocket, the upgrade from one to the
//! other, and the heartbeat. It moves packets; what they mean is the [`EngineHandler`]'s.
//!
//! - `packet`: the Engine.IO packets and the long-polling payload.
//! - `session`: one session, its transport and its queue.
//! - `polling`: the long-polling requests (GET waits for packets, POST brings them).
//! - `websocket`: the WebSocket transport, and the probe that upgrades a polling session.
//! - `heartbeat`: one task for every session: pings, ping timeouts, the handler's deadlines.

mod heartbeat;
pub mod packet;
mod polling;
mod session;
mod websocket;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use chatgate_websocket::{Frame, Limits};
use http::{Method, Request, StatusCode, header};
use serde_json::json;

pub use packet::BadPacket;
use session::Transport;
pub use session::{CloseReason, Handshake, Session, SessionClosed};

/// How sessions behave; the defaults are those of the reference (Node) server.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// How often the server pings each session.
    pub ping_interval: Duration,
    /// How long a client has to answer a ping.
    pub ping_timeout: Duration,
    /// The largest packet or long-polling body a client may send, in bytes.
    pub max_payload: usize,
    /// How long a client has to complete an upgrade to WebSocket once it probed.
    pub upgrade_timeout: Duration,
    /// Bytes that may wait for a client that does not read or poll; more end its session.
    pub max_queued_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
            upgrade_timeout: Duration::from_secs(10),
            max_queued_bytes: 4 << 20,
        }
    }
}

/// What the application does with sessions. Every method runs where the packet arrived (the
/// WebSocket's task, or the POST that carried it), in order, and must not block.
pub trait EngineHandler: Send + Sync + 'static {
    /// Per-session state of the application.
    type Data: Send + Sync + 'static;

    fn new_session(&self) -> Self::Data;

    fn on_open(&self, _session: &Arc<Session<Self::Data>>) {}

    /// A message packet. An `Err` ends the session with [`CloseReason::ParseError`].
    fn on_message(&self, session: &Arc<Session<Self::Data>>, text: &str) -> Result<(), BadPacket>;

    /// A binary message. An `Err` ends the session with [`CloseReason::ParseError`].
    fn on_binary(&self, session: &Arc<Session<Self::Data>>, data: &[u8]) -> Result<(), BadPacket>;

    /// The session ended; called once.
    fn on_close(&self, session: &Arc<Session<Self::Data>>, reason: CloseReason);

    /// How long after a session opens [`on_check`](EngineHandler::on_check) runs, if ever.
    fn check_after(&self) -> Option<Duration> {
        None
    }

    /// The application's own deadline for a session (Socket.IO's connect timeout): `Some`
    /// closes it. `age` is how long the session has been open.
    fn on_check(&self, _session: &Arc<Session<Self::Data>>, _age: Duration) -> Option<CloseReason> {
        None
    }
}

type Sessions<D> = RwLock<HashMap<Arc<str>, Arc<Session<D>>>>;

/// The Engine.IO server: every session, and the requests that serve them.
pub struct Engine<H: EngineHandler> {
    pub(crate) handler: H,
    pub(crate) config: EngineConfig,
    sessions: Sessions<H::Data>,
    pub(crate) timers: heartbeat::Timers<H::Data>,
    started: Instant,
}

/// Engine.IO's HTTP errors, as the reference server words them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HttpError {
    UnknownTransport,
    UnknownSession,
    BadHandshakeMethod,
    BadRequest,
    UnsupportedProtocolVersion,
    PayloadTooLarge,
}

impl HttpError {
    pub fn response(self) -> Response {
        let (status, code, message) = match self {
            HttpError::UnknownTransport => (StatusCode::BAD_REQUEST, 0, "Transport unknown"),
            HttpError::UnknownSession => (StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
            HttpError::BadHandshakeMethod => (StatusCode::BAD_REQUEST, 2, "Bad handshake method"),
            HttpError::BadRequest => (StatusCode::BAD_REQUEST, 3, "Bad request"),
            HttpError::UnsupportedProtocolVersion => {
                (StatusCode::BAD_REQUEST, 5, "Unsupported protocol version")
            }
            HttpError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, 3, "Payload too large"),
        };
        let body = json!({"code": code, "message": message}).to_string();
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap_or_default()
    }
}

/// A random id of 20 URL-safe characters, as the reference server makes them.
pub fn new_id() -> Arc<str> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 15]>()).into()
}

impl<H: EngineHandler> Engine<H> {
    /// A new engine; its heartbeat runs on the current Tokio runtime until the engine is dropped.
    pub fn new(handler: H, config: EngineConfig) -> Arc<Engine<H>> {
        let engine = Arc::new(Engine {
            handler,
            config,
            sessions: RwLock::default(),
            timers: heartbeat::Timers::default(),
            started: Instant::now(),
        });
        tokio::spawn(heartbeat::run(Arc::downgrade(&engine)));
        engine
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The moment `ms` after the engine started.
    pub(crate) fn instant_of(&self, ms: u64) -> Instant {
        self.started + Duration::from_millis(ms)
    }

    fn ws_limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.config.max_payload,
            max_queued_bytes: self.config.max_queued_bytes,
            ..Limits::default()
        }
    }

    pub(crate) fn session(&self, id: &str) -> Option<Arc<Session<H::Data>>> {
        self.sessions.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Every open session.
    pub fn sessions(&self) -> Vec<Arc<Session<H::Data>>> {
        self.sessions.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sessions.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn open_session(&self, handshake: Arc<Handshake>, transport: Transport) -> Arc<Session<H::Data>> {
        let session = Arc::new(Session::new(
            new_id(),
            handshake,
            transport,
            self.now_ms(),
            self.config.max_queued_bytes,
            self.handler.new_session(),
        ));
        self.sessions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session.id().clone(), session.clone());
        let check = self.handler.check_after();
        self.timers.opened(Arc::downgrade(&session), session.opened_ms, self.config.ping_interval, check);
        session
    }

    /// The open packet that starts a session.
    fn open_packet(&self, session: &Session<H::Data>, upgrades: &[&str]) -> Frame {
        let open = json!({
            "sid": &**session.id(),
            "upgrades": upgrades,
            "pingInterval": self.config.ping_interval.as_millis() as u64,
            "pingTimeout": self.config.ping_timeout.as_millis() as u64,
            "maxPayload": self.config.max_payload,
        });
        Frame::text(format!("0{open}"))
    }

    /// Ends a session: its transport is closed and the handler told, once.
    pub fn close_session(&self, session: &Arc<Session<H::Data>>, reason: CloseReason) {
        if session.mark_closed(reason) {
            self.sessions.write().unwrap_or_else(|p| p.into_inner()).remove(session.id());
            self.handler.on_close(session, reason);
        }
    }

    /// Ends every session (their clients reconnect).
    pub fn close_all(&self, reason: CloseReason) {
        for session in self.sessions() {
            self.close_session(&session, reason);
        }
    }

    /// A text packet from a client, on whichever transport it came.
    pub(crate) fn receive_text(
        &self,
        session: &Arc<Session<H::Data>>,
        text: &str,
    ) -> Result<(), CloseReason> {
        match packet::parse(text).map_err(|_| CloseReason::ParseError)? {
            packet::ClientPacket::Message(message) => {
                self.handler.on_message(session, message).map_err(|BadPacket| CloseReason::ParseError)
            }
            packet::ClientPacket::Pong(_) => {
                session.pong();
                Ok(())
            }
            packet::ClientPacket::Close => Err(CloseReason::TransportClose),
            // Pings come from the server in protocol 4; upgrades and noops need no answer here.
            packet::ClientPacket::Ping(_) | packet::ClientPacket::Upgrade | packet::ClientPacket::Noop => {
                Ok(())
            }
        }
    }

    pub(crate) fn receive_binary(
        &self,
        session: &Arc<Session<H::Data>>,
        data: &[u8],
    ) -> Result<(), CloseReason> {
        self.handler.on_binary(session, data).map_err(|BadPacket| CloseReason::ParseError)
    }

    /// Serves one Engine.IO request (`/socket.io/?EIO=4&transport=…`).
    pub async fn handle(self: &Arc<Self>, request: Request<Body>) -> Response {
        let query = Query::of(&request);
        let transport = match query.transport.as_deref() {
            Some(t @ ("polling" | "websocket")) => t,
            _ => return HttpError::UnknownTransport.response(),
        };
        if query.eio.as_deref() != Some("4") {
            return HttpError::UnsupportedProtocolVersion.response();
        }
        if query.jsonp {
            // JSONP polling is not part of protocol 4's clients.
            return HttpError::UnknownTransport.response();
        }
        let session = match &query.sid {
            Some(id) => match self.session(id) {
                Some(session) => Some(session),
                None => return HttpError::UnknownSession.response(),
            },
            None => None,
        };
        match (transport, session) {
            ("websocket", session) => websocket::upgrade(self.clone(), request, session),
            (_, None) if request.method() == Method::GET => {
                let handshake = Arc::new(Handshake::new(request.uri(), request.headers()));
                let session =
                    self.open_session(handshake, Transport::Polling { queue: Default::default(), queued: 0 });
                let open = self.open_packet(&session, &["websocket"]);
                self.handler.on_open(&session);
                polling::text_response(open.payload())
            }
            (_, None) => HttpError::BadHandshakeMethod.response(),
            (_, Some(session)) if request.method() == Method::GET => polling::poll(self, session).await,
            (_, Some(session)) if request.method() == Method::POST => {
                polling::post(self, session, request.into_body()).await
            }
            _ => HttpError::BadRequest.response(),
        }
    }
}

/// The query parameters Engine.IO reads.
struct Query {
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
    jsonp: bool,
}

impl Query {
    fn of<B>(request: &Request<B>) -> Query {
        let mut q = Query { eio: None, transport: None, sid: None, jsonp: false };
        for (key, value) in form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes()) {
            match &*key {
                "EIO" => q.eio = Some(value.into_owned()),
                "transport" => q.transport = Some(value.into_owned()),
                "sid" => q.sid = Some(value.into_owned()),
                "j" => q.jsonp = true,
                _ => {}
            }
        }
        q
    }
}
