//! A running hub: its connections, groups and users, how invocations are dispatched, and the
//! heartbeat that pings idle connections and closes silent ones.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::connection::{Connection, Frame, Transport};
use crate::hub::{
    Authenticate, Caller, ConnectionHook, ErasedMethod, HubBuilder, HubOptions, HubUser, InvokeError,
};
use crate::protocol::{self, HubMessage, JSON_PROTOCOL_MAX_VERSION};

pub use crate::connection::ConnectionId;

type Members<U> = HashMap<ConnectionId, Arc<Connection<U>>>;

#[derive(Default)]
struct Maps<U: HubUser> {
    by_id: Members<U>,
    by_token: HashMap<String, Arc<Connection<U>>>,
    /// Only connections that completed the handshake are in groups and users.
    groups: HashMap<String, Members<U>>,
    users: HashMap<String, Members<U>>,
}

pub(crate) struct HubInner<U: HubUser> {
    pub name: String,
    pub authenticate: Authenticate<U>,
    methods: HashMap<String, (String, ErasedMethod<U>)>,
    on_connected: Option<ConnectionHook<U>>,
    on_disconnected: Option<ConnectionHook<U>>,
    pub options: HubOptions,
    maps: RwLock<Maps<U>>,
    started: Instant,
}

/// A hub: cheap to clone, shared by its routes and by the application that sends through it.
pub struct Hub<U: HubUser> {
    pub(crate) inner: Arc<HubInner<U>>,
}

impl<U: HubUser> Clone for Hub<U> {
    fn clone(&self) -> Self {
        Hub { inner: self.inner.clone() }
    }
}

fn frame(bytes: Bytes) -> Option<Frame> {
    std::str::from_utf8(&bytes).ok().map(Frame::text)
}

impl<U: HubUser> Hub<U> {
    /// Starts defining a hub. `name` is for logs; `authenticate` turns an access token into the
    /// connection's user.
    pub fn builder(
        name: &str,
        authenticate: impl Fn(Option<&str>) -> Result<U, String> + Send + Sync + 'static,
    ) -> HubBuilder<U> {
        HubBuilder::new(name, Arc::new(authenticate))
    }

    pub(crate) fn from_builder(b: HubBuilder<U>) -> Hub<U> {
        let inner = Arc::new(HubInner {
            name: b.name,
            authenticate: b.authenticate,
            methods: b.methods,
            on_connected: b.on_connected,
            on_disconnected: b.on_disconnected,
            options: b.options,
            maps: RwLock::new(Maps {
                by_id: HashMap::new(),
                by_token: HashMap::new(),
                groups: HashMap::new(),
                users: HashMap::new(),
            }),
            started: Instant::now(),
        });
        tokio::spawn(heartbeat(Arc::downgrade(&inner)));
        Hub { inner }
    }

    /// The negotiate endpoint and the three transports, mounted at `path` (e.g. `/hubs/chat`).
    pub fn routes<S>(&self, path: &str) -> axum::Router<S> {
        crate::transport::routes(self.clone(), path)
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn options(&self) -> &HubOptions {
        &self.inner.options
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    /// Connections that completed the handshake.
    pub fn connection_count(&self) -> usize {
        self.read(|m| m.by_id.values().filter(|c| c.handshake_done()).count())
    }

    fn read<T>(&self, f: impl FnOnce(&Maps<U>) -> T) -> T {
        match self.inner.maps.read() {
            Ok(maps) => f(&maps),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Maps<U>) -> T) -> T {
        match self.inner.maps.write() {
            Ok(mut maps) => f(&mut maps),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    // ---- sending -------------------------------------------------------------------------

    fn encode<A: Serialize + ?Sized>(&self, target: &str, arguments: &A) -> Option<Frame> {
        match protocol::encode_invocation(target, arguments) {
            Ok(bytes) => frame(bytes),
            Err(e) => {
                tracing::error!(hub = %self.inner.name, target, error = %e, "cannot encode an invocation");
                None
            }
        }
    }

    fn deliver(&self, connection: &Arc<Connection<U>>, frame: Frame) {
        if connection.push(frame, self.now_ms()).is_err() {
            tracing::warn!(hub = %self.inner.name, connection = %connection.id, "client too slow; closing");
            self.close_connection(
                connection,
                Some("The client did not read its messages fast enough.".to_owned()),
                true,
            );
        }
    }

    /// Invokes `target` with `arguments` (a tuple or slice, sent as the arguments array) on one
    /// connection.
    pub fn send_to_connection<A: Serialize + ?Sized>(&self, id: &str, target: &str, arguments: &A) {
        let Some(connection) = self.read(|m| m.by_id.get(id).cloned()) else { return };
        if !connection.handshake_done() {
            return;
        }
        if let Some(f) = self.encode(target, arguments) {
            self.deliver(&connection, f);
        }
    }

    /// Invokes `target` on every connection in `group`, encoding once.
    pub fn send_to_group<A: Serialize + ?Sized>(&self, group: &str, target: &str, arguments: &A) {
        self.send_to_group_except_user(group, None, target, arguments);
    }

    /// As [`Hub::send_to_group`], skipping the connections of one user.
    pub fn send_to_group_except_user<A: Serialize + ?Sized>(
        &self,
        group: &str,
        except_user: Option<&str>,
        target: &str,
        arguments: &A,
    ) {
        let members: Vec<Arc<Connection<U>>> = self.read(|m| {
            m.groups
                .get(group)
                .map(|g| {
                    g.values()
                        .filter(|c| except_user.is_none_or(|u| c.user.user_id() != u))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        });
        if members.is_empty() {
            return;
        }
        if let Some(f) = self.encode(target, arguments) {
            for c in &members {
                self.deliver(c, f.clone());
            }
        }
    }

    /// Invokes `target` on every connection of each user in `user_ids`, encoding once.
    pub fn send_to_users<'a, A: Serialize + ?Sized>(
        &self,
        user_ids: impl IntoIterator<Item = &'a str>,
        target: &str,
        arguments: &A,
    ) {
        let members: Vec<Arc<Connection<U>>> = self.read(|m| {
            user_ids.into_iter().filter_map(|u| m.users.get(u)).flat_map(|c| c.values().cloned()).collect()
        });
        if members.is_empty() {
            return;
        }
        if let Some(f) = self.encode(target, arguments) {
            for c in &members {
                self.deliver(c, f.clone());
            }
        }
    }

    pub fn send_to_user<A: Serialize + ?Sized>(&self, user_id: &str, target: &str, arguments: &A) {
        self.send_to_users([user_id], target, arguments);
    }

    // ---- groups --------------------------------------------------------------------------

    pub fn add_to_group(&self, connection_id: &str, group: &str) {
        self.write(|m| {
            if let Some(c) = m.by_id.get(connection_id).cloned()
                && c.handshake_done()
                && !c.is_closed()
            {
                if let Ok(mut groups) = c.groups.lock() {
                    groups.insert(group.to_owned());
                }
                m.groups.entry(group.to_owned()).or_default().insert(c.id.clone(), c);
            }
        });
    }

    pub fn remove_from_group(&self, connection_id: &str, group: &str) {
        self.write(|m| {
            if let Some(members) = m.groups.get_mut(group) {
                if let Some(c) = members.remove(connection_id)
                    && let Ok(mut groups) = c.groups.lock()
                {
                    groups.remove(group);
                }
                if members.is_empty() {
                    m.groups.remove(group);
                }
            }
        });
    }

    /// Removes every connection of `user_id` from `group` (e.g. when they leave a room).
    pub fn remove_user_from_group(&self, user_id: &str, group: &str) {
        let ids: Vec<ConnectionId> =
            self.read(|m| m.users.get(user_id).map(|c| c.keys().cloned().collect()).unwrap_or_default());
        for id in ids {
            self.remove_from_group(&id, group);
        }
    }

    pub fn group_size(&self, group: &str) -> usize {
        self.read(|m| m.groups.get(group).map_or(0, HashMap::len))
    }

    // ---- lifecycle -----------------------------------------------------------------------

    pub(crate) fn register(&self, connection: Arc<Connection<U>>) {
        self.write(|m| {
            m.by_token.insert(connection.token.clone(), connection.clone());
            m.by_id.insert(connection.id.clone(), connection);
        });
    }

    pub(crate) fn by_token(&self, token: &str) -> Option<Arc<Connection<U>>> {
        self.read(|m| m.by_token.get(token).cloned())
    }

    /// Closes one connection: it receives a Close message (once the handshake is done), leaves
    /// its groups, and the hub's disconnect hook runs.
    pub(crate) fn close_connection(
        &self,
        c: &Arc<Connection<U>>,
        error: Option<String>,
        allow_reconnect: bool,
    ) {
        let close = c
            .handshake_done()
            .then(|| frame(protocol::encode(&HubMessage::Close { error: error.clone(), allow_reconnect })))
            .flatten();
        if !c.mark_closed(close) {
            return;
        }
        if let Some(e) = &error {
            tracing::debug!(hub = %self.inner.name, connection = %c.id, error = %e, "closing connection");
        }
        let was_connected = c.handshake_done();
        self.write(|m| {
            m.by_id.remove(&c.id);
            m.by_token.remove(&c.token);
            let groups: Vec<String> =
                c.groups.lock().map(|g| g.iter().cloned().collect()).unwrap_or_default();
            for g in groups {
                if let Some(members) = m.groups.get_mut(&g) {
                    members.remove(&c.id);
                    if members.is_empty() {
                        m.groups.remove(&g);
                    }
                }
            }
            let user = c.user.user_id();
            if let Some(members) = m.users.get_mut(&user) {
                members.remove(&c.id);
                if members.is_empty() {
                    m.users.remove(&user);
                }
            }
        });
        if was_connected && let Some(hook) = self.inner.on_disconnected.clone() {
            let caller = Caller { connection_id: c.id.clone(), user: c.user.clone(), hub: self.clone() };
            tokio::spawn(hook(caller));
        }
    }

    /// Closes every connection, telling clients whether to reconnect (graceful shutdown).
    pub fn close_all(&self, error: Option<&str>, allow_reconnect: bool) {
        let all: Vec<Arc<Connection<U>>> = self.read(|m| m.by_id.values().cloned().collect());
        for c in all {
            self.close_connection(&c, error.map(str::to_owned), allow_reconnect);
        }
    }

    // ---- receiving -----------------------------------------------------------------------

    /// Handles bytes from a client: the handshake first, then hub messages, one at a time.
    pub(crate) async fn receive(&self, c: &Arc<Connection<U>>, data: &[u8]) {
        c.last_received_ms.store(self.now_ms(), Ordering::Relaxed);
        let mut buffer = c.inbound.lock().await;
        if buffer.len() + data.len() > self.inner.options.hard_limit() {
            drop(buffer);
            self.close_connection(
                c,
                Some(format!(
                    "Connection closed with an error. InvalidDataException: The maximum message size of {}B was exceeded.",
                    self.inner.options.max_message_bytes
                )),
                false,
            );
            return;
        }
        buffer.extend_from_slice(data);
        for record in protocol::take_records(&mut buffer) {
            if c.is_closed() {
                return;
            }
            if !c.handshake_done() {
                self.handshake(c, &record).await;
            } else {
                self.message(c, &record).await;
            }
        }
    }

    async fn handshake(&self, c: &Arc<Connection<U>>, record: &[u8]) {
        let refusal = match protocol::parse_handshake(record) {
            Err(e) => Some(e.0),
            Ok(h) if !h.protocol.eq_ignore_ascii_case("json") => {
                Some(format!("The protocol '{}' is not supported.", h.protocol))
            }
            Ok(h) if h.version > JSON_PROTOCOL_MAX_VERSION || h.version == 0 => Some(format!(
                "The server does not support version {} of the '{}' protocol.",
                h.version, h.protocol
            )),
            Ok(_) => None,
        };
        let response = frame(protocol::handshake_response(refusal.as_deref()));
        if let Some(r) = response {
            let _ = c.push(r, self.now_ms());
        }
        if let Some(reason) = refusal {
            tracing::debug!(hub = %self.inner.name, connection = %c.id, reason, "handshake refused");
            self.close_connection(c, None, false);
            return;
        }
        c.set_handshake_done();
        self.write(|m| {
            m.users.entry(c.user.user_id()).or_default().insert(c.id.clone(), c.clone());
        });
        if let Some(hook) = self.inner.on_connected.clone() {
            hook(Caller { connection_id: c.id.clone(), user: c.user.clone(), hub: self.clone() }).await;
        }
    }

    async fn message(&self, c: &Arc<Connection<U>>, record: &[u8]) {
        let max = self.inner.options.max_message_bytes;
        if record.len() > max {
            if let Some(id) = protocol::invocation_id_of(record) {
                let error = format!(
                    "The message of {} bytes is larger than the {max} bytes this hub accepts.",
                    record.len()
                );
                self.complete(c, id, None, Some(error));
            }
            return;
        }
        let message = match protocol::parse_message(record) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                self.close_connection(
                    c,
                    Some(format!("Connection closed with an error. InvalidDataException: {e}")),
                    false,
                );
                return;
            }
        };
        match message {
            HubMessage::Invocation { invocation_id, target, arguments, stream_ids } => {
                if !stream_ids.is_empty() {
                    if let Some(id) = invocation_id {
                        self.complete(
                            c,
                            id,
                            None,
                            Some("Client-to-server streams are not supported by this hub.".into()),
                        );
                    }
                    return;
                }
                self.invoke(c, invocation_id, target, arguments).await;
            }
            HubMessage::StreamInvocation { invocation_id, target, .. } => {
                let error = format!(
                    "The client attempted to invoke the non-streaming '{target}' method with a streaming invocation."
                );
                self.complete(c, invocation_id, None, Some(error));
            }
            HubMessage::Close { .. } => self.close_connection(c, None, false),
            HubMessage::Ping
            | HubMessage::Completion { .. }
            | HubMessage::StreamItem { .. }
            | HubMessage::CancelInvocation { .. }
            | HubMessage::Ack { .. }
            | HubMessage::Sequence { .. } => {}
        }
    }

    async fn invoke(
        &self,
        c: &Arc<Connection<U>>,
        invocation_id: Option<String>,
        target: String,
        arguments: Vec<serde_json::Value>,
    ) {
        let Some((name, method)) = self.inner.methods.get(&target.to_lowercase()).cloned() else {
            tracing::debug!(hub = %self.inner.name, target, "unknown hub method");
            if let Some(id) = invocation_id {
                self.complete(c, id, None, Some(format!("Unknown hub method '{target}'")));
            }
            return;
        };
        let caller = Caller { connection_id: c.id.clone(), user: c.user.clone(), hub: self.clone() };
        // A task of its own, so that a panicking method fails this invocation, not the connection.
        let outcome = tokio::spawn(method(caller, arguments)).await;
        let (result, error) = match outcome {
            Ok(Ok(value)) => (value, None),
            Ok(Err(InvokeError::Binding(e))) => (
                None,
                Some(format!(
                    "Failed to invoke '{name}' due to an error on the server. InvalidDataException: {e}"
                )),
            ),
            Ok(Err(InvokeError::Hub(e))) => (None, Some(e)),
            Err(e) => {
                tracing::error!(hub = %self.inner.name, method = name, error = %e, "hub method failed");
                (None, Some(format!("An unexpected error occurred invoking '{name}' on the server.")))
            }
        };
        if let Some(id) = invocation_id {
            self.complete(c, id, result, error);
        }
    }

    fn complete(
        &self,
        c: &Arc<Connection<U>>,
        invocation_id: String,
        result: Option<serde_json::Value>,
        error: Option<String>,
    ) {
        let message = HubMessage::Completion { invocation_id, result, error };
        if let Some(f) = frame(protocol::encode(&message)) {
            self.deliver(c, f);
        }
    }
}

/// Pings connections that were quiet for `keep_alive`, closes those the client left silent for
/// `client_timeout`, and drops connections that never finished their handshake or stopped
/// polling. One task per hub instead of timers per connection.
async fn heartbeat<U: HubUser>(hub: Weak<HubInner<U>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ping = frame(protocol::encode(&HubMessage::Ping));
    loop {
        tick.tick().await;
        let Some(inner) = hub.upgrade() else { return };
        let hub = Hub { inner };
        let now = hub.now_ms();
        let options = hub.inner.options.clone();
        let all: Vec<Arc<Connection<U>>> = hub.read(|m| m.by_id.values().cloned().collect());
        for c in all {
            let since = |t: u64| Duration::from_millis(now.saturating_sub(t));
            if !c.handshake_done() {
                if since(c.created_ms) >= options.handshake_timeout {
                    hub.close_connection(&c, None, false);
                }
                continue;
            }
            if since(c.last_received_ms.load(Ordering::Relaxed)) >= options.client_timeout {
                hub.close_connection(
                    &c,
                    Some("Server timeout elapsed without receiving a message from the client.".into()),
                    true,
                );
                continue;
            }
            if c.attached() == Some(Transport::LongPolling)
                && !c.poll_waiting.load(Ordering::Acquire)
                && since(c.last_poll_ms.load(Ordering::Relaxed)) >= options.client_timeout
            {
                hub.close_connection(&c, None, false);
                continue;
            }
            if since(c.last_sent_ms.load(Ordering::Relaxed)) >= options.keep_alive
                && let Some(p) = &ping
            {
                hub.deliver(&c, p.clone());
            }
        }
    }
}
