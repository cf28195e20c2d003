//! One Engine.IO session: its transport (a long-polling queue, or a WebSocket), its heartbeat
//! times, the request that opened it, and the application's data.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chatgate_websocket::{CloseCode, Frame, WebSocket};
use http::{HeaderMap, HeaderValue, Uri};
use tokio::sync::Notify;

use super::packet;

/// Why a session ended, in the words Socket.IO clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection (an Engine.IO close packet or a WebSocket close).
    TransportClose,
    /// The connection failed, or the client did something the transport forbids (two polls at
    /// once, a body too large, not reading what it is sent).
    TransportError,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The client sent a packet that could not be parsed.
    ParseError,
    /// The application closed it.
    ServerClose,
    /// The server is shutting down; clients reconnect.
    ServerShuttingDown,
}

impl CloseReason {
    /// The disconnect reason as Socket.IO names it.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ServerClose => "forced close",
            CloseReason::ServerShuttingDown => "server shutting down",
        }
    }
}

/// The request that opened a session, kept (as owned copies, not slices of the connection's
/// read buffer) for the handlers that connect namespaces later.
#[derive(Debug)]
pub struct Handshake {
    uri: Uri,
    headers: HeaderMap,
}

impl Handshake {
    pub fn new(uri: &Uri, headers: &HeaderMap) -> Handshake {
        let mut owned = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            // Cookies and the like can be large and are of no use here; what a handler reads
            // is the query, Authorization and the few headers a client sets on purpose.
            if name == http::header::COOKIE {
                continue;
            }
            let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
            copy.set_sensitive(value.is_sensitive());
            owned.append(name.clone(), copy);
        }
        let uri = Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone());
        Handshake { uri, headers: owned }
    }

    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of query parameter `name`, decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.uri.query()?;
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

pub(crate) enum Transport {
    Polling { queue: VecDeque<Frame>, queued: usize },
    WebSocket(Arc<WebSocket>),
}

pub(crate) struct State {
    pub transport: Transport,
    pub closed: Option<CloseReason>,
    /// A long poll is waiting for packets.
    pub polling: bool,
    /// A long-polling POST is being handled.
    pub posting: bool,
    /// A WebSocket answered the probe and the upgrade is under way.
    pub upgrading: bool,
    /// More was queued for polling than the client took: the session is to be closed.
    pub overflowed: bool,
}

/// A session, shared by its transport, the heartbeat and the application.
pub struct Session<D> {
    id: Arc<str>,
    handshake: Arc<Handshake>,
    pub(crate) state: Mutex<State>,
    /// Wakes a waiting long poll: packets arrived, the transport changed or the session closed.
    pub(crate) poll_wake: Notify,
    pub(crate) opened_ms: u64,
    pub(crate) ping_sent_ms: AtomicU64,
    pub(crate) awaiting_pong: AtomicBool,
    max_queued: usize,
    /// The application's state of this session.
    pub data: D,
}

/// A frame was not sent: the session is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionClosed;

impl<D> Session<D> {
    pub(crate) fn new(
        id: Arc<str>,
        handshake: Arc<Handshake>,
        transport: Transport,
        now_ms: u64,
        max_queued: usize,
        data: D,
    ) -> Session<D> {
        Session {
            id,
            handshake,
            state: Mutex::new(State {
                transport,
                closed: None,
                polling: false,
                posting: false,
                upgrading: false,
                overflowed: false,
            }),
            poll_wake: Notify::new(),
            opened_ms: now_ms,
            ping_sent_ms: AtomicU64::new(now_ms),
            awaiting_pong: AtomicBool::new(false),
            max_queued,
            data,
        }
    }

    pub fn id(&self) -> &Arc<str> {
        &self.id
    }

    pub fn handshake(&self) -> &Arc<Handshake> {
        &self.handshake
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// Whether a polling client let its queue pass the limit.
    pub(crate) fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Whether the session has moved to a WebSocket.
    pub fn is_websocket(&self) -> bool {
        matches!(self.lock().transport, Transport::WebSocket(_))
    }

    /// Sends one packet.
    pub fn send(&self, frame: Frame) -> Result<(), SessionClosed> {
        self.send_all(std::iter::once(frame))
    }

    /// Sends packets that must arrive together and in order (a packet and its attachments).
    pub fn send_all(&self, frames: impl IntoIterator<Item = Frame>) -> Result<(), SessionClosed> {
        let mut state = self.lock();
        if state.closed.is_some() || state.overflowed {
            return Err(SessionClosed);
        }
        match &mut state.transport {
            Transport::WebSocket(socket) => socket.send_all(frames).map_err(|_| SessionClosed),
            Transport::Polling { queue, queued } => {
                for frame in frames {
                    *queued += frame.len();
                    queue.push_back(frame);
                }
                if *queued > self.max_queued {
                    // The client stopped polling. Nothing more is queued; the next poll or
                    // the heartbeat, whichever comes first, ends the session.
                    queue.clear();
                    *queued = 0;
                    state.overflowed = true;
                    drop(state);
                    self.poll_wake.notify_one();
                    return Err(SessionClosed);
                }
                drop(state);
                self.poll_wake.notify_one();
                Ok(())
            }
        }
    }

    /// Marks the session closed and ends its transport; `false` if it already was.
    pub(crate) fn mark_closed(&self, reason: CloseReason) -> bool {
        let mut state = self.lock();
        if state.closed.is_some() {
            return false;
        }
        state.closed = Some(reason);
        if let Transport::WebSocket(socket) = &state.transport {
            let code = match reason {
                CloseReason::ServerShuttingDown => CloseCode::GOING_AWAY,
                CloseReason::ParseError => CloseCode::PROTOCOL_ERROR,
                _ => CloseCode::NORMAL,
            };
            socket.close(code, "");
        }
        drop(state);
        self.poll_wake.notify_one();
        true
    }

    pub(crate) fn pong(&self) {
        self.awaiting_pong.store(false, Ordering::Release);
    }

    /// A WebSocket answered the probe: a pending long poll is told to end (noop), so that the
    /// client can move over.
    pub(crate) fn begin_upgrade(&self) -> bool {
        let mut state = self.lock();
        if state.closed.is_some() || state.upgrading || !matches!(state.transport, Transport::Polling { .. })
        {
            return false;
        }
        state.upgrading = true;
        if let Transport::Polling { queue, queued } = &mut state.transport {
            let noop = packet::noop();
            *queued += noop.len();
            queue.push_back(noop);
        }
        drop(state);
        self.poll_wake.notify_one();
        true
    }

    /// The client completed the upgrade: from now on packets go over `socket`, starting with
    /// those still queued for polling.
    pub(crate) fn finish_upgrade(&self, socket: &Arc<WebSocket>) -> bool {
        let mut state = self.lock();
        if state.closed.is_some() || !state.upgrading {
            return false;
        }
        state.upgrading = false;
        let before = std::mem::replace(&mut state.transport, Transport::WebSocket(socket.clone()));
        if let Transport::Polling { queue, .. } = before {
            let waiting: Vec<Frame> = queue.into_iter().filter(|f| !packet::is_noop(f)).collect();
            if !waiting.is_empty() && socket.send_all(waiting).is_err() {
                return false;
            }
        }
        drop(state);
        self.poll_wake.notify_one();
        true
    }

    pub(crate) fn cancel_upgrade(&self) {
        self.lock().upgrading = false;
    }
}
