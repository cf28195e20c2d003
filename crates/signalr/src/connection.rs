//! One SignalR connection: its identity, its way to the client, and its state.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::BytesMut;
use chatgate_websocket::{CloseCode, WebSocket};
use tokio::sync::{Notify, mpsc, watch};

use crate::hub::HubUser;

pub type ConnectionId = String;

/// An encoded message on its way to clients, encoded once however many receive it: as the
/// WebSocket text frame itself (clones share the bytes), whose payload the HTTP transports send.
#[derive(Clone, Debug)]
pub struct Frame(chatgate_websocket::Frame);

impl Frame {
    pub(crate) fn text(text: &str) -> Frame {
        Frame(chatgate_websocket::Frame::text(text))
    }

    /// The message's bytes.
    pub fn payload(&self) -> &[u8] {
        self.0.payload_bytes()
    }

    /// The message's text.
    pub fn as_str(&self) -> &str {
        // Made from a `&str` (`Frame::text`), so always UTF-8.
        std::str::from_utf8(self.payload()).unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    WebSockets,
    ServerSentEvents,
    LongPolling,
}

pub(crate) struct Connection<U: HubUser> {
    pub id: ConnectionId,
    pub token: String,
    pub user: U,
    /// On WebSockets, frames are written straight to the socket by whoever sends them.
    socket: OnceLock<Arc<WebSocket>>,
    /// Otherwise they wait here for the transport that delivers them.
    outbound: mpsc::Sender<Frame>,
    /// Taken by the transport that delivers the frames; long polls borrow it one at a time.
    pub receiver: tokio::sync::Mutex<mpsc::Receiver<Frame>>,
    closed: AtomicBool,
    shutdown: watch::Sender<bool>,
    /// The Close message to deliver after everything queued before it.
    close_frame: Mutex<Option<Frame>>,
    /// Bytes of a record not yet terminated; its lock also keeps one message at a time.
    pub inbound: tokio::sync::Mutex<BytesMut>,
    handshake_done: AtomicBool,
    pub transport: Mutex<Option<Transport>>,
    pub groups: Mutex<HashSet<String>>,
    /// Milliseconds since the hub started, for the heartbeat.
    pub created_ms: u64,
    pub last_received_ms: AtomicU64,
    pub last_sent_ms: AtomicU64,
    /// Long polling: a newer poll tells the waiting one to end.
    pub poll_superseded: Notify,
    pub poll_generation: AtomicU64,
    pub poll_waiting: AtomicBool,
    pub last_poll_ms: AtomicU64,
}

impl<U: HubUser> Connection<U> {
    pub fn new(id: ConnectionId, token: String, user: U, queue: usize, now_ms: u64) -> Self {
        let (outbound, receiver) = mpsc::channel(queue.max(8));
        Connection {
            id,
            token,
            user,
            socket: OnceLock::new(),
            outbound,
            receiver: tokio::sync::Mutex::new(receiver),
            closed: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
            close_frame: Mutex::new(None),
            inbound: tokio::sync::Mutex::new(BytesMut::new()),
            handshake_done: AtomicBool::new(false),
            transport: Mutex::new(None),
            groups: Mutex::new(HashSet::new()),
            created_ms: now_ms,
            last_received_ms: AtomicU64::new(now_ms),
            last_sent_ms: AtomicU64::new(now_ms),
            poll_superseded: Notify::new(),
            poll_generation: AtomicU64::new(0),
            poll_waiting: AtomicBool::new(false),
            last_poll_ms: AtomicU64::new(now_ms),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn handshake_done(&self) -> bool {
        self.handshake_done.load(Ordering::Acquire)
    }

    pub fn set_handshake_done(&self) {
        self.handshake_done.store(true, Ordering::Release);
    }

    /// Sends a frame: on a WebSocket at once (or at the end of the sender's cork), otherwise
    /// queued for the transport. `Err(())` when the queue is full: the client is too slow. (A
    /// WebSocket whose client does not read is closed by the socket itself.)
    pub fn push(&self, frame: Frame, now_ms: u64) -> Result<(), ()> {
        if self.is_closed() {
            return Ok(());
        }
        if let Some(socket) = self.socket.get() {
            if socket.send(frame.0).is_ok() {
                self.last_sent_ms.store(now_ms, Ordering::Relaxed);
            }
            return Ok(());
        }
        match self.outbound.try_send(frame) {
            Ok(()) => {
                self.last_sent_ms.store(now_ms, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(()),
        }
    }

    /// Marks the connection closed; returns whether this call closed it.
    pub fn mark_closed(&self, close_frame: Option<Frame>) -> bool {
        if self.closed.swap(true, Ordering::SeqCst) {
            return false;
        }
        if let Ok(mut slot) = self.close_frame.lock() {
            *slot = close_frame;
        }
        self.shutdown.send_replace(true);
        // With `bind_socket`'s fence: at least one of the two sees the other and closes it.
        fence(Ordering::SeqCst);
        if let Some(socket) = self.socket.get() {
            self.close_socket(socket);
        }
        true
    }

    /// Writes to the client through `socket` from now on (the WebSockets transport). A
    /// connection closed meanwhile closes the socket at once.
    pub fn bind_socket(&self, socket: Arc<WebSocket>) {
        if self.socket.set(socket.clone()).is_err() {
            return;
        }
        fence(Ordering::SeqCst);
        if self.is_closed() {
            self.close_socket(&socket);
        }
    }

    /// The Close message (if any) after everything sent before it, then the WebSocket close.
    fn close_socket(&self, socket: &Arc<WebSocket>) {
        if let Some(close) = self.take_close_frame() {
            let _ = socket.send(close.0);
        }
        socket.close(CloseCode::NORMAL, "");
    }

    pub fn take_close_frame(&self) -> Option<Frame> {
        self.close_frame.lock().ok().and_then(|mut f| f.take())
    }

    /// Resolves once the connection is closed.
    pub fn closed_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Binds the connection to a transport; a second, different binding is refused.
    pub fn attach(&self, transport: Transport) -> Result<bool, Transport> {
        let mut slot = self.transport.lock().map_err(|_| transport)?;
        match *slot {
            None => {
                *slot = Some(transport);
                Ok(true)
            }
            Some(t) if t == transport && t == Transport::LongPolling => Ok(false),
            Some(t) => Err(t),
        }
    }

    pub fn attached(&self) -> Option<Transport> {
        self.transport.lock().ok().and_then(|t| *t)
    }
}
