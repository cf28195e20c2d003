//! The bot door (seed 002 section 9; DESIGN 4.7): the Bot API for developers, the bot-side API
//! (tokens, the event stream, streamed replies) and the delivery of messages to bots.
//!
//! - [`rest`]: `/api/bots…` — listing is public, management is for `role=dev` (the core decides).
//! - [`streams`]: `/api/conversations/{id}/streams` and `/api/streams/{id}/…` for bot tokens.
//! - [`delivery`]: one task that follows the core's events, asks the core which bots hear of each
//!   message and hands the delivery to every [`delivery::Outlet`]: the signed webhook and the
//!   bots' open event streams, and with `topic_redis_url` the bot's topic as a Redis stream
//!   ([`topics`]).
//! - [`events`]: `GET /api/bots/me/events`, the Server-Sent Events outlet.

pub mod delivery;
pub mod dto;
pub mod events;
pub mod rest;
pub mod streams;
pub mod topics;

pub use topics::check_topic_url;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use chatgate_core::Core;
use chatgate_core::service::{StreamSettings, Streams};
use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// The `[bots]` table: stream timings and how webhooks are delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotSettings {
    /// Chunks arriving within this many milliseconds are sent to clients together (0: each alone).
    pub stream_coalesce_ms: u64,
    /// A stream with no call for this long is aborted.
    pub stream_idle_timeout_ms: u64,
    /// Tries per webhook delivery (the first included).
    pub webhook_max_attempts: u32,
    /// Wait before the first retry; doubles after each, up to `webhook_max_backoff_ms`.
    pub webhook_initial_backoff_ms: u64,
    pub webhook_max_backoff_ms: u64,
    /// How long one webhook POST may take.
    pub webhook_timeout_ms: u64,
    /// Deliveries whose JSON is larger are not sent (and logged).
    pub max_webhook_body_bytes: usize,
    /// Webhook deliveries under way at once, retries included; more are dropped (and logged).
    pub max_webhooks_in_flight: usize,
    /// Event streams (`GET /api/bots/me/events`) one bot may hold open at once.
    pub max_event_streams_per_bot: usize,
    /// When set, every delivery is also added to the Redis stream named after the bot's topic.
    pub topic_redis_url: Option<String>,
    /// Entries kept per topic stream (approximately: `XADD … MAXLEN ~`).
    pub topic_max_len: usize,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            stream_coalesce_ms: 50,
            stream_idle_timeout_ms: 60_000,
            webhook_max_attempts: 5,
            webhook_initial_backoff_ms: 500,
            webhook_max_backoff_ms: 30_000,
            webhook_timeout_ms: 10_000,
            max_webhook_body_bytes: 1024 * 1024,
            max_webhooks_in_flight: 1024,
            max_event_streams_per_bot: 8,
            topic_redis_url: None,
            topic_max_len: 100_000,
        }
    }
}

impl BotSettings {
    pub fn streams(&self) -> StreamSettings {
        StreamSettings {
            coalesce_window_ms: self.stream_coalesce_ms,
            idle_timeout_ms: self.stream_idle_timeout_ms.max(100),
        }
    }
}

/// What the bot door keeps on this node: the open streams and the bots' event streams.
pub struct BotRuntime {
    pub streams: Arc<Streams>,
    pub event_streams: Arc<events::EventStreams>,
    pub settings: BotSettings,
}

impl BotRuntime {
    pub fn new(core: Arc<Core>, settings: &BotSettings) -> BotRuntime {
        BotRuntime {
            streams: Arc::new(Streams::new(core, settings.streams())),
            event_streams: Arc::new(events::EventStreams::new(settings.max_event_streams_per_bot)),
            settings: settings.clone(),
        }
    }
}

/// Starts delivering to bots and timing streams; returns the door's routes.
pub fn start(state: &AppState) -> Router<AppState> {
    let settings = &state.bots.settings;
    let webhook = delivery::WebhookOutlet::new(settings);
    let mut outlets: Vec<Arc<dyn delivery::Outlet>> =
        vec![Arc::new(webhook), state.bots.event_streams.clone()];
    if let Some(url) = settings.topic_redis_url.as_deref().filter(|u| !u.is_empty()) {
        match topics::RedisTopicOutlet::start(url, settings.topic_max_len) {
            Ok(outlet) => {
                tracing::info!(redis = %topics::redacted(url), "bot deliveries also go to Redis streams named after each bot's topic");
                outlets.push(Arc::new(outlet));
            }
            // The settings were checked at startup (`check_topic_url`); this is not expected.
            Err(e) => tracing::error!("{e}"),
        }
    }
    tokio::spawn(delivery::run(state.core.subscribe(), state.core.clone(), outlets));
    tokio::spawn(drive_streams(state.core.clone(), state.bots.streams.clone()));
    routes()
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/bots", get(rest::list).post(rest::create))
        .route("/api/bots/me/events", get(events::connect))
        .route("/api/bots/{id}", get(rest::get).put(rest::update).delete(rest::delete))
        .route("/api/bots/{id}/activate", post(rest::activate))
        .route("/api/bots/{id}/deactivate", post(rest::deactivate))
        .route("/api/bots/{id}/token", post(rest::token))
        .route("/api/conversations/{id}/streams", post(streams::start))
        .route("/api/streams/{id}/status", post(streams::status))
        .route("/api/streams/{id}/chunks", post(streams::chunks))
        .route("/api/streams/{id}/complete", post(streams::complete))
        .route("/api/streams/{id}/abort", post(streams::abort))
}

/// Calls [`Streams::tick`] when its deadline passes or a new one appears: releases coalesced
/// chunks and aborts idle streams.
async fn drive_streams(core: Arc<Core>, streams: Arc<Streams>) {
    loop {
        let next = streams.tick().await;
        let now = core.now();
        let wait = next.map_or(60_000, |due| due.ms_since(now).clamp(1, 60_000)) as u64;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait)) => {}
            () = streams.changed() => {}
        }
    }
}
