use std::sync::Arc;
use std::time::Duration;

use chatgate_core::Core;

use crate::auth::Tokens;
use crate::http::ratelimit::{RateLimitConfig, RateLimits};

/// The gateway's own settings (the core's limits live in `chatgate_core::Limits`).
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Whether `POST /api/auth/dev` may create and log in dev users.
    pub dev_login: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Lifetime of tokens issued at login.
    pub login_token_ttl: Duration,
    pub rate_limits: RateLimitConfig,
    /// Timings and sizes of the SignalR hubs.
    pub hubs: HubSettings,
}

/// The `[signalr]` table: the SignalR defaults of ASP.NET Core unless changed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSettings {
    /// A ping goes to a connection that was sent nothing for this long.
    pub keep_alive_ms: u64,
    /// A connection whose client sends nothing for this long is closed.
    pub client_timeout_ms: u64,
    /// Time from connecting to completing the handshake.
    pub handshake_timeout_ms: u64,
    /// Largest message a client may send to a hub.
    pub max_message_bytes: usize,
    /// How long a long poll waits before answering empty.
    pub poll_timeout_ms: u64,
}

impl Default for HubSettings {
    fn default() -> Self {
        let d = chatgate_signalr::HubOptions::default();
        HubSettings {
            keep_alive_ms: d.keep_alive.as_millis() as u64,
            client_timeout_ms: d.client_timeout.as_millis() as u64,
            handshake_timeout_ms: d.handshake_timeout.as_millis() as u64,
            max_message_bytes: d.max_message_bytes,
            poll_timeout_ms: d.poll_timeout.as_millis() as u64,
        }
    }
}

impl HubSettings {
    pub fn options(&self) -> chatgate_signalr::HubOptions {
        chatgate_signalr::HubOptions {
            keep_alive: Duration::from_millis(self.keep_alive_ms.max(100)),
            client_timeout: Duration::from_millis(self.client_timeout_ms.max(200)),
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms.max(100)),
            max_message_bytes: self.max_message_bytes.max(1024),
            poll_timeout: Duration::from_millis(self.poll_timeout_ms.max(100)),
            ..chatgate_signalr::HubOptions::default()
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            dev_login: false,
            max_body_bytes: 1024 * 1024,
            login_token_ttl: Duration::from_secs(24 * 3600),
            rate_limits: RateLimitConfig::default(),
            hubs: HubSettings::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub tokens: Arc<Tokens>,
    pub config: Arc<GatewayConfig>,
    pub rate_limits: Arc<RateLimits>,
}

impl AppState {
    pub fn new(core: Arc<Core>, tokens: Arc<Tokens>, config: GatewayConfig) -> Self {
        let rate_limits = Arc::new(RateLimits::new(&config.rate_limits));
        AppState { core, tokens, config: Arc::new(config), rate_limits }
    }
}
