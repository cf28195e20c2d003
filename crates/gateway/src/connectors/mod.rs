//! The connector bridge (DESIGN 4.9): channel accounts (`/api/channels`), and the API of the
//! processes that run a platform client themselves (a WhatsApp Web session…): they report events
//! (`POST /api/connectors/{id}/events`) and take the agents' replies to deliver from the outbox,
//! by long poll (`GET …/outbox?wait=30`, acknowledged by id) or over a WebSocket (`…/stream`).
//!
//! A connector authenticates with its account's key (`Authorization: Bearer ck_…`). Waiting
//! connectors are woken by the core's `OutboxReady` events (one task follows the bus for this
//! node), and find what to deliver in the store, so a wake-up that is lost costs only a delay.

pub mod dto;
pub mod rest;
pub mod stream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use chatgate_core::event::EventKind;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::state::AppState;

/// The connector door's handlers reach the app and the wake-ups of this node.
#[derive(Clone)]
pub struct ConnectorDoor {
    pub app: AppState,
    pub signals: Arc<OutboxSignals>,
}

impl ConnectorDoor {
    /// Starts following the core's events to wake connectors waiting for replies.
    pub fn start(app: AppState) -> ConnectorDoor {
        let signals = Arc::new(OutboxSignals::default());
        tokio::spawn(wake_on_replies(app.core.subscribe(), signals.clone()));
        ConnectorDoor { app, signals }
    }

    pub fn routes(&self) -> Router<AppState> {
        let admin = Router::new()
            .route("/api/channels", get(rest::list_channels).post(rest::create_channel))
            .route("/api/channels/{id}/connector-key", post(rest::replace_connector_key))
            .with_state(self.app.clone());
        let connectors = Router::new()
            .route("/api/connectors/{id}/events", post(rest::post_events))
            .route("/api/connectors/{id}/outbox", get(rest::outbox))
            .route("/api/connectors/{id}/outbox/ack", post(rest::ack))
            .route("/api/connectors/{id}/stream", get(stream::connect))
            .with_state(self.clone());
        admin.merge(connectors)
    }

    /// Ends every long poll and stream (graceful shutdown); connectors come back after it.
    pub fn close(&self) {
        self.signals.closing.send_replace(true);
    }
}

/// One counter per account that has a waiting connector, bumped when a reply is queued.
pub struct OutboxSignals {
    by_account: Mutex<HashMap<String, watch::Sender<u64>>>,
    closing: watch::Sender<bool>,
}

impl Default for OutboxSignals {
    fn default() -> Self {
        OutboxSignals { by_account: Mutex::new(HashMap::new()), closing: watch::channel(false).0 }
    }
}

impl OutboxSignals {
    /// A receiver that changes when the account's outbox gets an entry. Subscribe before
    /// reading the outbox, so that nothing queued in between is missed.
    pub fn subscribe(&self, account_id: &str) -> watch::Receiver<u64> {
        let mut map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(account_id.to_owned()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    fn ring(&self, account_id: &str) {
        let mut map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = map.get(account_id) {
            if sender.receiver_count() == 0 {
                map.remove(account_id);
            } else {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
}

async fn wake_on_replies(mut events: chatgate_core::EventStream, signals: Arc<OutboxSignals>) {
    while let Some(event) = events.next().await {
        if let EventKind::OutboxReady(e) = &event.kind {
            signals.ring(&e.account_id);
        }
    }
}
