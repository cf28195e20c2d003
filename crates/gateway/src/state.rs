use std::sync::Arc;
use std::time::Duration;

use chatgate_core::Core;

use crate::auth::Tokens;
use crate::http::ratelimit::{IpLimit, RateLimitConfig, RateLimits};

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
    /// The customer gateway: tokens and the `/ws/chat` socket.
    pub customers: CustomerSettings,
    /// Bot streams and webhook delivery (`[bots]`).
    pub bots: crate::bots::BotSettings,
    /// Services reachable through `/api/proxy/{service}/…`.
    pub proxy: crate::proxy::ProxySettings,
    /// Google sign-in, when a client id is configured.
    pub google: Option<crate::auth::google::GoogleSettings>,
    /// DsAccount sign-in, when an introspection endpoint is configured.
    pub dsaccount: Option<crate::auth::dsaccount::DsAccountSettings>,
}

/// The `[customers]` table.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomerSettings {
    /// The tenant of customers created by the public token endpoint.
    pub tenant: String,
    /// Lifetime of a customer token.
    #[serde(with = "crate::auth::tokens::duration_text")]
    pub token_ttl: Duration,
    /// Token requests per second from one client address (0: unlimited), and the burst.
    pub token_requests_per_second: u32,
    pub token_burst: u32,
    /// Largest frame a customer may send on `/ws/chat`.
    pub max_frame_bytes: usize,
}

impl Default for CustomerSettings {
    fn default() -> Self {
        CustomerSettings {
            tenant: chatgate_core::DEFAULT_TENANT.to_owned(),
            token_ttl: Duration::from_secs(24 * 3600),
            token_requests_per_second: 5,
            token_burst: 20,
            max_frame_bytes: 64 * 1024,
        }
    }
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
            customers: CustomerSettings::default(),
            bots: crate::bots::BotSettings::default(),
            proxy: crate::proxy::ProxySettings::default(),
            google: None,
            dsaccount: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub tokens: Arc<Tokens>,
    pub config: Arc<GatewayConfig>,
    pub rate_limits: Arc<RateLimits>,
    /// File storage, download signing and thumbnails.
    pub files: Arc<crate::files::Files>,
    /// Public customer-token requests per client address.
    pub customer_token_limit: Arc<IpLimit>,
    /// Open bot streams and bots' event streams on this node.
    pub bots: Arc<crate::bots::BotRuntime>,
    /// The configured outside login providers.
    pub login_providers: Arc<crate::auth::providers::LoginProviders>,
    pub proxy: Arc<crate::proxy::Proxy>,
}

impl AppState {
    pub fn new(
        core: Arc<Core>,
        tokens: Arc<Tokens>,
        config: GatewayConfig,
        files: Arc<crate::files::Files>,
    ) -> Self {
        let rate_limits = Arc::new(RateLimits::new(&config.rate_limits));
        let customer_token_limit =
            Arc::new(IpLimit::new(config.customers.token_requests_per_second, config.customers.token_burst));
        let bots = Arc::new(crate::bots::BotRuntime::new(core.clone(), &config.bots));
        let login_providers = Arc::new(crate::auth::providers::LoginProviders::new(
            config.google.as_ref(),
            config.dsaccount.as_ref(),
        ));
        let proxy = Arc::new(crate::proxy::Proxy::new(&config.proxy));
        AppState {
            core,
            tokens,
            config: Arc::new(config),
            rate_limits,
            files,
            customer_token_limit,
            bots,
            login_providers,
            proxy,
        }
    }
}
