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
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            dev_login: false,
            max_body_bytes: 1024 * 1024,
            login_token_ttl: Duration::from_secs(24 * 3600),
            rate_limits: RateLimitConfig::default(),
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
