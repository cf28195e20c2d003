//! Rate limits per client address and per authenticated participant (GCRA via `governor`).
//! A limit of 0 turns that limit off.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second from one client address (0: unlimited).
    pub per_ip_per_second: u32,
    pub per_ip_burst: u32,
    /// Requests per second by one participant (0: unlimited).
    pub per_user_per_second: u32,
    pub per_user_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_ip_per_second: 200,
            per_ip_burst: 400,
            per_user_per_second: 100,
            per_user_burst: 200,
        }
    }
}

type Keyed<K> = RateLimiter<K, HashMapStateStore<K>, DefaultClock>;

struct Limiter<K: Hash + Eq + Clone> {
    inner: Option<Keyed<K>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(per_second: u32, burst: u32) -> Self {
        let inner = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            RateLimiter::hashmap(Quota::per_second(rate).allow_burst(burst))
        });
        Limiter { inner }
    }

    /// `Err(seconds to wait)` when over the limit.
    fn check(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.inner else { return Ok(()) };
        limiter.check_key(key).map_err(|not_until| {
            let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + 1
        })
    }

    fn forget_idle(&self) {
        if let Some(limiter) = &self.inner {
            limiter.retain_recent();
        }
    }
}

/// One limit per client address (0 per second: no limit).
pub struct IpLimit(Limiter<IpAddr>);

impl IpLimit {
    pub fn new(per_second: u32, burst: u32) -> Self {
        IpLimit(Limiter::new(per_second, burst))
    }

    /// `Err(seconds to wait)` when over the limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.0.check(&ip)
    }

    pub fn forget_idle(&self) {
        self.0.forget_idle();
    }
}

pub struct RateLimits {
    per_ip: Limiter<IpAddr>,
    per_user: Limiter<(String, String)>,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        RateLimits {
            per_ip: Limiter::new(config.per_ip_per_second, config.per_ip_burst),
            per_user: Limiter::new(config.per_user_per_second, config.per_user_burst),
        }
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), u64> {
        self.per_ip.check(&ip)
    }

    pub fn check_user(&self, tenant: &str, participant_id: &str) -> Result<(), u64> {
        self.per_user.check(&(tenant.to_owned(), participant_id.to_owned()))
    }

    /// Drops the state of keys that are back to a full allowance (call now and then).
    pub fn forget_idle(&self) {
        self.per_ip.forget_idle();
        self.per_user.forget_idle();
    }
}
