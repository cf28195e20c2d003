//! A socket: one client connected to one namespace, as its handler sees it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chatgate_websocket::{Frame, FrameBuilder};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::engine::{CloseReason, Handshake};
use crate::namespace::{Broadcast, Namespace, NsCore};
use crate::protocol::{self, PacketKind};
use crate::server::EngineSession;

/// Arguments of an event or an acknowledgement, and their binary attachments. Binary values
/// appear in `args` as placeholders `{"_placeholder": true, "num": i}` for `attachments[i]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Payload {
    pub args: Vec<Value>,
    pub attachments: Vec<Bytes>,
}

/// A client event.
#[derive(Debug)]
pub struct Event {
    pub name: String,
    pub payload: Payload,
    /// Present when the client asked for an acknowledgement.
    pub ack: Option<AckSender>,
}

impl Event {
    /// The first argument, which is the whole payload for most clients.
    pub fn take_data(&mut self) -> Option<Value> {
        if self.payload.args.is_empty() { None } else { Some(self.payload.args.remove(0)) }
    }
}

/// Answers a client's event (its acknowledgement callback).
pub struct AckSender {
    session: Arc<EngineSession>,
    namespace: Arc<str>,
    id: u64,
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AckSender({}, {})", self.namespace, self.id)
    }
}

impl AckSender {
    pub(crate) fn new(session: Arc<EngineSession>, namespace: Arc<str>, id: u64) -> AckSender {
        AckSender { session, namespace, id }
    }

    /// Calls the client's callback with `data` as its one argument.
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), EmitError> {
        let frame = protocol::frame(PacketKind::Ack, &self.namespace, 0, Some(self.id), |out| {
            serde_json::to_writer(out, &[data])
        })?;
        self.session.send(frame).map_err(|_| EmitError::Closed)
    }

    /// Calls the client's callback with these arguments (and attachments).
    pub fn send_payload(self, payload: Payload) -> Result<(), EmitError> {
        let frames = encode(&self.namespace, Some(self.id), None, &payload, PacketKind::Ack)?;
        self.session.send_all(frames).map_err(|_| EmitError::Closed)
    }
}

/// Why an emit did not happen.
#[derive(Debug)]
pub enum EmitError {
    /// The data could not be serialized as JSON.
    Serialize(serde_json::Error),
    /// The socket is disconnected.
    Closed,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::Serialize(e) => write!(f, "the data is not serializable as JSON: {e}"),
            EmitError::Closed => f.write_str("the socket is disconnected"),
        }
    }
}

impl std::error::Error for EmitError {}

impl From<serde_json::Error> for EmitError {
    fn from(e: serde_json::Error) -> Self {
        EmitError::Serialize(e)
    }
}

/// Why an acknowledgement asked of the client did not come.
#[derive(Debug, PartialEq, Eq)]
pub enum AckError {
    Timeout,
    Disconnected,
}

/// Why a socket left its namespace, in the words Socket.IO clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client left the namespace.
    ClientNamespaceDisconnect,
    /// The server disconnected the socket ([`Socket::disconnect`]).
    ServerNamespaceDisconnect,
    /// The connection under it ended.
    Transport(CloseReason),
}

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::Transport(reason) => reason.as_str(),
        }
    }
}

/// Encodes an event or acknowledgement and its attachments: one text frame, then one binary
/// frame per attachment.
pub(crate) fn encode(
    namespace: &str,
    id: Option<u64>,
    name: Option<&str>,
    payload: &Payload,
    plain: PacketKind,
) -> serde_json::Result<Vec<Frame>> {
    let kind = match (plain, payload.attachments.is_empty()) {
        (kind, true) => kind,
        (PacketKind::Ack, false) => PacketKind::BinaryAck,
        (_, false) => PacketKind::BinaryEvent,
    };
    let text = protocol::frame(kind, namespace, payload.attachments.len(), id, |out| {
        write_args(out, name, &payload.args)
    })?;
    let mut frames = Vec::with_capacity(1 + payload.attachments.len());
    frames.push(text);
    frames.extend(payload.attachments.iter().map(Frame::binary));
    Ok(frames)
}

fn write_args(out: &mut FrameBuilder, name: Option<&str>, args: &[Value]) -> serde_json::Result<()> {
    out.push(b"[");
    let mut first = true;
    if let Some(name) = name {
        serde_json::to_writer(&mut *out, name)?;
        first = false;
    }
    for arg in args {
        if !first {
            out.push(b",");
        }
        serde_json::to_writer(&mut *out, arg)?;
        first = false;
    }
    out.push(b"]");
    Ok(())
}

/// An event with one argument, as most emits are.
pub(crate) fn event_frame<T: Serialize + ?Sized>(
    namespace: &str,
    id: Option<u64>,
    name: &str,
    data: &T,
) -> serde_json::Result<Frame> {
    protocol::frame(PacketKind::Event, namespace, 0, id, |out| serde_json::to_writer(out, &(name, data)))
}

/// Acknowledgements this socket waits for.
#[derive(Default)]
struct Acks {
    next: u64,
    waiting: HashMap<u64, oneshot::Sender<Payload>>,
}

pub(crate) struct SocketState<D> {
    pub id: Arc<str>,
    pub core: Arc<NsCore>,
    pub session: Arc<EngineSession>,
    /// The rooms joined; `None` once disconnected, so that nothing joins a room after.
    rooms: Mutex<Option<Vec<Arc<str>>>>,
    connected: AtomicBool,
    acks: Mutex<Acks>,
    data: D,
}

/// A client connected to a namespace. Cloning gives another handle to the same socket.
pub struct Socket<D> {
    pub(crate) inner: Arc<SocketState<D>>,
}

impl<D> Clone for Socket<D> {
    fn clone(&self) -> Self {
        Socket { inner: self.inner.clone() }
    }
}

impl<D> fmt::Debug for Socket<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Socket({} on {})", self.inner.id, self.inner.core.path)
    }
}

impl<D: Send + Sync + 'static> Socket<D> {
    pub(crate) fn new(id: Arc<str>, core: Arc<NsCore>, session: Arc<EngineSession>, data: D) -> Socket<D> {
        Socket {
            inner: Arc::new(SocketState {
                id,
                core,
                session,
                rooms: Mutex::new(Some(Vec::new())),
                connected: AtomicBool::new(true),
                acks: Mutex::default(),
                data,
            }),
        }
    }

    /// The socket's id, as the client knows it (`socket.id`).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// What the namespace's `connect` made of this client.
    pub fn data(&self) -> &D {
        &self.inner.data
    }

    /// The request that opened the connection.
    pub fn handshake(&self) -> &Handshake {
        self.inner.session.handshake()
    }

    pub fn namespace(&self) -> Namespace {
        Namespace { core: self.inner.core.clone() }
    }

    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    fn rooms_lock(&self) -> MutexGuard<'_, Option<Vec<Arc<str>>>> {
        self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins `room` (nothing happens once disconnected).
    pub fn join(&self, room: impl AsRef<str>) {
        let room = room.as_ref();
        let mut rooms = self.rooms_lock();
        let Some(rooms) = rooms.as_mut() else { return };
        if rooms.iter().any(|r| &**r == room) {
            return;
        }
        let room: Arc<str> = room.into();
        rooms.push(room.clone());
        self.inner.core.add_to_room(room, &self.inner.id, &self.inner.session);
    }

    pub fn leave(&self, room: impl AsRef<str>) {
        let room = room.as_ref();
        let mut rooms = self.rooms_lock();
        let Some(rooms) = rooms.as_mut() else { return };
        if let Some(at) = rooms.iter().position(|r| &**r == room) {
            let room = rooms.swap_remove(at);
            self.inner.core.remove_from_room(&room, &self.inner.id);
        }
    }

    /// The rooms joined (the socket is also reachable by its id, as a room of its own).
    pub fn rooms(&self) -> Vec<String> {
        self.rooms_lock().iter().flatten().map(|r| r.to_string()).collect()
    }

    /// Emits `event` with `data` as its one argument to this socket.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        let frame = event_frame(&self.inner.core.path, None, event, data)?;
        self.inner.session.send(frame).map_err(|_| EmitError::Closed)
    }

    /// Emits `event` with several arguments, or with binary attachments.
    pub fn emit_payload(&self, event: &str, payload: &Payload) -> Result<(), EmitError> {
        let frames = encode(&self.inner.core.path, None, Some(event), payload, PacketKind::Event)?;
        self.inner.session.send_all(frames).map_err(|_| EmitError::Closed)
    }

    /// Emits `event` and waits for the client's acknowledgement, up to `timeout`.
    pub async fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<Payload, AckError> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut acks = self.inner.acks.lock().unwrap_or_else(|p| p.into_inner());
            acks.next += 1;
            let id = acks.next;
            acks.waiting.insert(id, tx);
            id
        };
        let sent = event_frame(&self.inner.core.path, Some(id), event, data)
            .ok()
            .is_some_and(|frame| self.inner.session.send(frame).is_ok());
        if !sent {
            self.inner.acks.lock().unwrap_or_else(|p| p.into_inner()).waiting.remove(&id);
            return Err(AckError::Disconnected);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(payload)) => Ok(payload),
            Ok(Err(_)) => Err(AckError::Disconnected),
            Err(_) => {
                self.inner.acks.lock().unwrap_or_else(|p| p.into_inner()).waiting.remove(&id);
                Err(AckError::Timeout)
            }
        }
    }

    /// A broadcast to `room` that leaves this socket out.
    pub fn to(&self, room: impl AsRef<str>) -> Broadcast {
        self.namespace().to(room).except_socket(self.inner.id.clone())
    }

    /// Disconnects the socket from its namespace: the client is told (its socket does not
    /// reconnect by itself) and the handler's `disconnected` runs.
    pub fn disconnect(&self) {
        if self.is_connected() {
            let _ = self.inner.session.send(protocol::bare(PacketKind::Disconnect, &self.inner.core.path));
            crate::server::disconnect_socket(
                &self.inner.session,
                &self.inner.id,
                DisconnectReason::ServerNamespaceDisconnect,
            );
        }
    }

    /// The client's answer to an `emit_with_ack`.
    pub(crate) fn acknowledged(&self, id: u64, payload: Payload) {
        let waiting = self.inner.acks.lock().unwrap_or_else(|p| p.into_inner()).waiting.remove(&id);
        if let Some(tx) = waiting {
            let _ = tx.send(payload);
        }
    }

    /// Leaves the namespace and every room; returns whether it was still connected.
    pub(crate) fn detach(&self) -> bool {
        let rooms = self.rooms_lock().take();
        if !self.inner.connected.swap(false, Ordering::AcqRel) {
            return false;
        }
        self.inner.core.remove_socket(&self.inner.id, rooms.as_deref().unwrap_or_default());
        // Waiting acknowledgements end as Disconnected when their senders drop.
        self.inner.acks.lock().unwrap_or_else(|p| p.into_inner()).waiting.clear();
        true
    }
}
