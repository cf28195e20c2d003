//! The server: namespaces over the engine, and the Socket.IO client of each session (its
//! sockets, and a binary packet waiting for its attachments).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::any;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::engine::{BadPacket, CloseReason, Engine, EngineConfig, EngineHandler, Session, new_id};
use crate::namespace::{ConnectError, Connecting, Namespace, NamespaceHandler, NsCore};
use crate::protocol::{self, PacketKind};
use crate::socket::{AckSender, DisconnectReason, Event, Payload, Socket};

/// How the server behaves; the defaults are those of the reference (Node) server.
#[derive(Clone, Debug)]
pub struct SocketIoConfig {
    pub engine: EngineConfig,
    /// How long a client may stay connected without joining any namespace.
    pub connect_timeout: Duration,
    /// Binary attachments one packet may announce.
    pub max_attachments: usize,
    /// Where the server is served (`/socket.io`).
    pub path: String,
}

impl Default for SocketIoConfig {
    fn default() -> Self {
        SocketIoConfig {
            engine: EngineConfig::default(),
            connect_timeout: Duration::from_secs(45),
            max_attachments: 10,
            path: "/socket.io".to_owned(),
        }
    }
}

pub(crate) type EngineSession = Session<Client>;

/// A namespace with its handler, type-erased.
trait AnyNamespace: Send + Sync {
    fn core(&self) -> &Arc<NsCore>;
    fn connect(
        self: Arc<Self>,
        session: &Arc<EngineSession>,
        auth: Option<&Value>,
    ) -> Result<Arc<dyn AnySocket>, ConnectError>;
}

/// A socket with its namespace's handler, type-erased: what a client's packets reach.
pub(crate) trait AnySocket: Send + Sync {
    fn id(&self) -> &Arc<str>;
    fn connected(&self);
    fn event(&self, event: Event);
    fn acknowledged(&self, id: u64, payload: Payload);
    /// Leaves the namespace; the handler hears of it once.
    fn closed(&self, reason: DisconnectReason);
}

struct Ns<H: NamespaceHandler> {
    handler: H,
    core: Arc<NsCore>,
}

struct Bound<H: NamespaceHandler> {
    socket: Socket<H::Data>,
    ns: Arc<Ns<H>>,
}

impl<H: NamespaceHandler> AnyNamespace for Ns<H> {
    fn core(&self) -> &Arc<NsCore> {
        &self.core
    }

    fn connect(
        self: Arc<Self>,
        session: &Arc<EngineSession>,
        auth: Option<&Value>,
    ) -> Result<Arc<dyn AnySocket>, ConnectError> {
        let id = new_id();
        let request = Connecting { socket_id: &id, handshake: session.handshake(), auth };
        let data = self.handler.connect(&request)?;
        let socket = Socket::new(id, self.core.clone(), session.clone(), data);
        Ok(Arc::new(Bound { socket, ns: self }))
    }
}

impl<H: NamespaceHandler> AnySocket for Bound<H> {
    fn id(&self) -> &Arc<str> {
        &self.socket.inner.id
    }

    fn connected(&self) {
        self.ns.core.add_socket(&self.socket.inner.id, &self.socket.inner.session);
        self.ns.handler.connected(&self.socket);
    }

    fn event(&self, event: Event) {
        if self.socket.is_connected() {
            self.ns.handler.event(&self.socket, event);
        }
    }

    fn acknowledged(&self, id: u64, payload: Payload) {
        self.socket.acknowledged(id, payload);
    }

    fn closed(&self, reason: DisconnectReason) {
        if self.socket.detach() {
            self.ns.handler.disconnected(&self.socket, reason);
        }
    }
}

/// An event or acknowledgement with its attachments: a whole packet, or one that waits for its
/// attachments (`expected` of them).
struct Whole {
    namespace: String,
    kind: PacketKind,
    id: Option<u64>,
    args: Vec<Value>,
    attachments: Vec<Bytes>,
}

struct Pending {
    packet: Whole,
    expected: usize,
}

#[derive(Default)]
struct ClientState {
    /// The client's sockets, one per namespace it joined.
    sockets: Vec<(Arc<str>, Arc<dyn AnySocket>)>,
    pending: Option<Pending>,
    /// Whether it ever joined a namespace (else it is closed after the connect timeout).
    joined: bool,
}

/// The Socket.IO side of a session.
#[derive(Default)]
pub struct Client {
    state: Mutex<ClientState>,
}

impl Client {
    fn lock(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn socket(&self, namespace: &str) -> Option<Arc<dyn AnySocket>> {
        self.lock().sockets.iter().find(|(ns, _)| &**ns == namespace).map(|(_, s)| s.clone())
    }
}

/// Removes one of a session's sockets and tells its handler.
pub(crate) fn disconnect_socket(session: &Arc<EngineSession>, socket_id: &str, reason: DisconnectReason) {
    let removed = {
        let mut client = session.data.lock();
        let at = client.sockets.iter().position(|(_, s)| &**s.id() == socket_id);
        at.map(|at| client.sockets.swap_remove(at).1)
    };
    if let Some(socket) = removed {
        socket.closed(reason);
    }
}

type Namespaces = RwLock<HashMap<String, Arc<dyn AnyNamespace>>>;

/// The engine's handler: Socket.IO packets in Engine.IO messages.
pub(crate) struct SocketIoHandler {
    namespaces: Arc<Namespaces>,
    connect_timeout: Duration,
    max_attachments: usize,
}

impl SocketIoHandler {
    fn namespace(&self, path: &str) -> Option<Arc<dyn AnyNamespace>> {
        self.namespaces.read().unwrap_or_else(|p| p.into_inner()).get(path).cloned()
    }

    fn connect(
        &self,
        session: &Arc<EngineSession>,
        path: &str,
        auth: Option<&Value>,
    ) -> Result<(), BadPacket> {
        if session.data.socket(path).is_some() {
            // The reference server treats a second CONNECT to a joined namespace as a broken client.
            return Err(BadPacket);
        }
        let Some(namespace) = self.namespace(path) else {
            let refusal = ConnectError::new("Invalid namespace").to_json();
            return send_json(session, PacketKind::ConnectError, path, &refusal);
        };
        let ns_path = namespace.core().path.clone();
        match namespace.connect(session, auth) {
            Ok(socket) => {
                {
                    let mut client = session.data.lock();
                    client.sockets.push((ns_path, socket.clone()));
                    client.joined = true;
                }
                send_json(session, PacketKind::Connect, path, &json!({"sid": &**socket.id()})).ok();
                socket.connected();
                Ok(())
            }
            Err(refusal) => send_json(session, PacketKind::ConnectError, path, &refusal.to_json()),
        }
    }

    /// A whole packet (attachments included) for a joined namespace.
    fn deliver(
        &self,
        session: &Arc<EngineSession>,
        socket: Arc<dyn AnySocket>,
        packet: Whole,
    ) -> Result<(), BadPacket> {
        let Whole { namespace, kind, id, args, attachments } = packet;
        match kind {
            PacketKind::Event | PacketKind::BinaryEvent => {
                let mut args = args.into_iter();
                let name = match args.next() {
                    Some(Value::String(name)) => name,
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Err(BadPacket),
                };
                let ack = id.map(|id| AckSender::new(session.clone(), namespace.as_str().into(), id));
                socket.event(Event { name, payload: Payload { args: args.collect(), attachments }, ack });
                Ok(())
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                socket.acknowledged(id.ok_or(BadPacket)?, Payload { args, attachments });
                Ok(())
            }
            _ => Err(BadPacket),
        }
    }
}

fn send_json(
    session: &EngineSession,
    kind: PacketKind,
    namespace: &str,
    data: &Value,
) -> Result<(), BadPacket> {
    let frame = protocol::frame(kind, namespace, 0, None, |out| serde_json::to_writer(out, data))
        .map_err(|_| BadPacket)?;
    session.send(frame).map_err(|_| BadPacket)
}

impl EngineHandler for SocketIoHandler {
    type Data = Client;

    fn new_session(&self) -> Client {
        Client::default()
    }

    fn on_message(&self, session: &Arc<EngineSession>, text: &str) -> Result<(), BadPacket> {
        if session.data.lock().pending.is_some() {
            // Attachments are binary messages; text in between breaks the packet.
            return Err(BadPacket);
        }
        let packet = protocol::parse(text, self.max_attachments).map_err(|e| {
            tracing::debug!(error = e.0, "closing a Socket.IO connection that sent a malformed packet");
            BadPacket
        })?;
        if packet.kind == PacketKind::Connect {
            let auth = packet.data.as_ref();
            return self.connect(session, packet.namespace, auth);
        }
        let socket = session.data.socket(packet.namespace).ok_or(BadPacket)?;
        match packet.kind {
            PacketKind::Disconnect => {
                disconnect_socket(session, socket.id(), DisconnectReason::ClientNamespaceDisconnect);
                Ok(())
            }
            PacketKind::Event | PacketKind::Ack | PacketKind::BinaryEvent | PacketKind::BinaryAck => {
                let args = match packet.data {
                    Some(Value::Array(args)) => args,
                    _ => return Err(BadPacket),
                };
                let whole = Whole {
                    namespace: packet.namespace.to_owned(),
                    kind: packet.kind,
                    id: packet.id,
                    args,
                    attachments: Vec::with_capacity(packet.attachments),
                };
                if packet.attachments > 0 {
                    session.data.lock().pending =
                        Some(Pending { packet: whole, expected: packet.attachments });
                    return Ok(());
                }
                self.deliver(session, socket, whole)
            }
            PacketKind::Connect | PacketKind::ConnectError => Err(BadPacket),
        }
    }

    fn on_binary(&self, session: &Arc<EngineSession>, data: &[u8]) -> Result<(), BadPacket> {
        let complete = {
            let mut client = session.data.lock();
            let pending = client.pending.as_mut().ok_or(BadPacket)?;
            pending.packet.attachments.push(Bytes::copy_from_slice(data));
            if pending.packet.attachments.len() < pending.expected {
                return Ok(());
            }
            client.pending.take()
        };
        let Some(Pending { packet, .. }) = complete else { return Ok(()) };
        let socket = session.data.socket(&packet.namespace).ok_or(BadPacket)?;
        self.deliver(session, socket, packet)
    }

    fn on_close(&self, session: &Arc<EngineSession>, reason: CloseReason) {
        let sockets = std::mem::take(&mut session.data.lock().sockets);
        for (_, socket) in sockets {
            socket.closed(DisconnectReason::Transport(reason));
        }
    }

    fn check_after(&self) -> Option<Duration> {
        Some(self.connect_timeout)
    }

    fn on_check(&self, session: &Arc<EngineSession>, _age: Duration) -> Option<CloseReason> {
        (!session.data.lock().joined).then_some(CloseReason::ServerClose)
    }
}

/// A Socket.IO server. Cloning gives another handle to the same server.
#[derive(Clone)]
pub struct SocketIo {
    engine: Arc<Engine<SocketIoHandler>>,
    namespaces: Arc<Namespaces>,
    path: Arc<str>,
}

impl SocketIo {
    /// A server with no namespace yet; its heartbeat runs on the current Tokio runtime.
    pub fn new(config: SocketIoConfig) -> SocketIo {
        let namespaces: Arc<Namespaces> = Arc::default();
        let handler = SocketIoHandler {
            namespaces: namespaces.clone(),
            connect_timeout: config.connect_timeout,
            max_attachments: config.max_attachments,
        };
        let path = config.path.trim_end_matches('/');
        let path = if path.is_empty() { "/socket.io" } else { path };
        SocketIo { engine: Engine::new(handler, config.engine), namespaces, path: path.into() }
    }

    /// Defines the namespace at `path` (`"/"` is the main one); returns it, for broadcasts.
    pub fn namespace<H: NamespaceHandler>(&self, path: &str, handler: H) -> Namespace {
        let core = Arc::new(NsCore::new(path.into()));
        let ns: Arc<dyn AnyNamespace> = Arc::new(Ns { handler, core: core.clone() });
        self.namespaces.write().unwrap_or_else(|p| p.into_inner()).insert(path.to_owned(), ns);
        Namespace { core }
    }

    /// The namespace at `path`, if defined.
    pub fn of(&self, path: &str) -> Option<Namespace> {
        let namespaces = self.namespaces.read().unwrap_or_else(|p| p.into_inner());
        namespaces.get(path).map(|ns| Namespace { core: ns.core().clone() })
    }

    /// Routes that serve the server at its path, to merge into an application's router.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let engine = self.engine.clone();
        let serve = any(move |request: Request| {
            let engine = engine.clone();
            async move { engine.handle(request).await }
        });
        Router::new().route(&format!("{}/", self.path), serve.clone()).route(&self.path, serve)
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.engine.session_count()
    }

    /// Closes every connection; clients reconnect on their own (graceful shutdown).
    pub fn close_all(&self) {
        self.engine.close_all(CloseReason::ServerShuttingDown);
    }
}
