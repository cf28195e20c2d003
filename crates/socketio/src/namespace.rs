//! Namespaces: what an application defines ([`NamespaceHandler`]), and the sockets and rooms of
//! one, which broadcasts go through ([`Namespace`], [`Broadcast`]).
//!
//! A room maps socket ids straight to their sessions, so a broadcast is one lookup per room and
//! a send per member: the packet is encoded once, and each member's send only queues the same
//! bytes (written together at the end of the broadcast, see `chatgate_websocket::corked`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chatgate_websocket::Frame;
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::Handshake;
use crate::protocol::PacketKind;
use crate::server::EngineSession;
use crate::socket::{DisconnectReason, EmitError, Event, Payload, Socket, encode, event_frame};

/// A client asking to join a namespace.
pub struct Connecting<'a> {
    /// The id its socket will have.
    pub socket_id: &'a str,
    /// The request that opened its connection.
    pub handshake: &'a Handshake,
    /// The CONNECT packet's payload (`auth` in the JavaScript client).
    pub auth: Option<&'a Value>,
}

/// A connection refused by a namespace; the client's `connect_error` gets `message` (and
/// `data`, when present).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectError {
    pub message: String,
    pub data: Option<Value>,
}

impl ConnectError {
    pub fn new(message: impl Into<String>) -> ConnectError {
        ConnectError { message: message.into(), data: None }
    }

    pub(crate) fn to_json(&self) -> Value {
        match &self.data {
            Some(data) => json!({"message": self.message, "data": data}),
            None => json!({"message": self.message}),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a namespace does. Each method runs in the connection's own task or request, in the
/// order the client's packets arrived; none may block. Work that waits (a database, another
/// service) belongs in a task of its own, which can hold a clone of the socket.
pub trait NamespaceHandler: Send + Sync + 'static {
    /// What the namespace keeps per socket.
    type Data: Send + Sync + 'static;

    /// Admits a client (a connect middleware): `Err` refuses it with a `connect_error`.
    fn connect(&self, request: &Connecting<'_>) -> Result<Self::Data, ConnectError>;

    /// The client was told it is connected; runs before any of its events.
    fn connected(&self, _socket: &Socket<Self::Data>) {}

    /// A client event.
    fn event(&self, socket: &Socket<Self::Data>, event: Event);

    /// The socket left the namespace (it has already left its rooms).
    fn disconnected(&self, _socket: &Socket<Self::Data>, _reason: DisconnectReason) {}
}

type Members = HashMap<Arc<str>, Arc<EngineSession>>;

#[derive(Default)]
pub(crate) struct Rooms {
    /// Every socket of the namespace, by id.
    sockets: Members,
    rooms: HashMap<Arc<str>, Members>,
}

/// The sockets and rooms of one namespace.
pub(crate) struct NsCore {
    pub path: Arc<str>,
    members: RwLock<Rooms>,
}

impl NsCore {
    pub fn new(path: Arc<str>) -> NsCore {
        NsCore { path, members: RwLock::default() }
    }

    fn read(&self) -> RwLockReadGuard<'_, Rooms> {
        self.members.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Rooms> {
        self.members.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_socket(&self, id: &Arc<str>, session: &Arc<EngineSession>) {
        self.write().sockets.insert(id.clone(), session.clone());
    }

    pub fn add_to_room(&self, room: Arc<str>, id: &Arc<str>, session: &Arc<EngineSession>) {
        self.write().rooms.entry(room).or_default().insert(id.clone(), session.clone());
    }

    pub fn remove_from_room(&self, room: &str, id: &str) {
        let mut members = self.write();
        if let Some(room_members) = members.rooms.get_mut(room) {
            room_members.remove(id);
            if room_members.is_empty() {
                members.rooms.remove(room);
            }
        }
    }

    pub fn remove_socket(&self, id: &str, rooms: &[Arc<str>]) {
        let mut members = self.write();
        members.sockets.remove(id);
        for room in rooms {
            if let Some(room_members) = members.rooms.get_mut(room) {
                room_members.remove(id);
                if room_members.is_empty() {
                    members.rooms.remove(room);
                }
            }
        }
    }
}

/// A namespace, for broadcasts from anywhere.
#[derive(Clone)]
pub struct Namespace {
    pub(crate) core: Arc<NsCore>,
}

impl Namespace {
    pub fn path(&self) -> &str {
        &self.core.path
    }

    /// A broadcast to the sockets in `room` (a room name, or a socket's id).
    pub fn to(&self, room: impl AsRef<str>) -> Broadcast {
        Broadcast {
            core: self.core.clone(),
            rooms: vec![room.as_ref().into()],
            except: Vec::new(),
            except_socket: None,
        }
    }

    /// A broadcast to every socket of the namespace but those in `room`.
    pub fn except(&self, room: impl AsRef<str>) -> Broadcast {
        Broadcast {
            core: self.core.clone(),
            rooms: Vec::new(),
            except: vec![room.as_ref().into()],
            except_socket: None,
        }
    }

    /// Emits to every socket of the namespace; returns how many it was sent to.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<usize, EmitError> {
        Broadcast { core: self.core.clone(), rooms: Vec::new(), except: Vec::new(), except_socket: None }
            .emit(event, data)
    }

    /// Sockets connected to the namespace.
    pub fn socket_count(&self) -> usize {
        self.core.read().sockets.len()
    }

    /// Sockets in `room`.
    pub fn room_size(&self, room: &str) -> usize {
        self.core.read().rooms.get(room).map_or(0, HashMap::len)
    }
}

/// Who a broadcast goes to: the sockets in any of its rooms (every socket of the namespace
/// when it names none), less those in its excluded rooms.
pub struct Broadcast {
    core: Arc<NsCore>,
    rooms: Vec<Arc<str>>,
    except: Vec<Arc<str>>,
    except_socket: Option<Arc<str>>,
}

impl Broadcast {
    pub fn to(mut self, room: impl AsRef<str>) -> Broadcast {
        self.rooms.push(room.as_ref().into());
        self
    }

    pub fn except(mut self, room: impl AsRef<str>) -> Broadcast {
        self.except.push(room.as_ref().into());
        self
    }

    pub(crate) fn except_socket(mut self, id: Arc<str>) -> Broadcast {
        self.except_socket = Some(id);
        self
    }

    /// Emits `event` with `data` as its one argument; returns how many sockets it was sent to.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<usize, EmitError> {
        let frame = event_frame(&self.core.path, None, event, data)?;
        Ok(self.send(std::slice::from_ref(&frame)))
    }

    /// Emits `event` with several arguments, or with binary attachments.
    pub fn emit_payload(&self, event: &str, payload: &Payload) -> Result<usize, EmitError> {
        let frames = encode(&self.core.path, None, Some(event), payload, PacketKind::Event)?;
        Ok(self.send(&frames))
    }

    /// Sends encoded frames to every target, corked: each target's connection is written once,
    /// after all were queued.
    fn send(&self, frames: &[Frame]) -> usize {
        chatgate_websocket::corked(|| {
            let members = self.core.read();
            let excluded = self.excluded(&members);
            let mut sent = 0;
            let mut deliver = |id: &Arc<str>, session: &Arc<EngineSession>| {
                if excluded.contains(&**id) || self.except_socket.as_deref() == Some(&**id) {
                    return;
                }
                if session.send_all(frames.iter().cloned()).is_ok() {
                    sent += 1;
                }
            };
            match self.rooms.as_slice() {
                [] => members.sockets.iter().for_each(|(id, s)| deliver(id, s)),
                [room] => match members.rooms.get(room) {
                    Some(in_room) => in_room.iter().for_each(|(id, s)| deliver(id, s)),
                    // A socket's id is a room with that socket alone.
                    None => {
                        if let Some((id, s)) = members.sockets.get_key_value(room) {
                            deliver(id, s);
                        }
                    }
                },
                rooms => {
                    let mut seen: HashSet<&str> = HashSet::new();
                    for room in rooms {
                        match members.rooms.get(room) {
                            Some(in_room) => {
                                for (id, s) in in_room {
                                    if seen.insert(id) {
                                        deliver(id, s);
                                    }
                                }
                            }
                            None => {
                                if let Some((id, s)) = members.sockets.get_key_value(room)
                                    && seen.insert(id)
                                {
                                    deliver(id, s);
                                }
                            }
                        }
                    }
                }
            }
            sent
        })
    }

    fn excluded<'m>(&self, members: &'m Rooms) -> HashSet<&'m str> {
        let mut out = HashSet::new();
        for room in &self.except {
            match members.rooms.get(room) {
                Some(in_room) => out.extend(in_room.keys().map(|id| &**id)),
                None => {
                    if let Some((id, _)) = members.sockets.get_key_value(room) {
                        out.insert(&**id);
                    }
                }
            }
        }
        out
    }
}
