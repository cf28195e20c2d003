//! The settings of a chatgate process: defaults, overlaid by the TOML file, overlaid by
//! variables and flags (which clap has already merged).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use chatgate_core::Limits;
use chatgate_gateway::auth::dsaccount::DsAccountSettings;
use chatgate_gateway::auth::google::{self, GoogleSettings};
use chatgate_gateway::auth::parse_duration;
use chatgate_gateway::bots::BotSettings;
use chatgate_gateway::http::ratelimit::RateLimitConfig;
use chatgate_gateway::proxy::{self, ProxySettings};
use chatgate_gateway::{CustomerSettings, HubSettings};
use chatgate_store::Durability;
use serde::Deserialize;

use crate::cli::{ServeArgs, StoreArgs};
use crate::files_settings::{FilesSettings, FilesTable};

/// The TOML file. Every key is optional; see the README for the full list.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSettings {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub bus_url: Option<String>,
    pub dev: Option<bool>,
    pub jwt_secret: Option<String>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub login_token_ttl: Option<String>,
    pub sqlite_durability: Option<String>,
    pub limits: Limits,
    pub rate_limits: Option<RateLimitConfig>,
    pub signalr: HubSettings,
    pub files: FilesTable,
    pub customers: CustomerSettings,
    pub bots: BotSettings,
    pub proxy: ProxySettings,
    pub google_client_id: Option<String>,
    pub google_jwks_url: Option<String>,
    pub dsaccount_introspect_url: Option<String>,
    pub dsaccount_client_id: Option<String>,
    pub dsaccount_client_secret: Option<String>,
}

impl FileSettings {
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileSettings> {
        let Some(path) = path else { return Ok(FileSettings::default()) };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid chatgate configuration", path.display()))
    }
}

/// Where the data is: the data directory and the database inside or outside it.
#[derive(Clone, Debug)]
pub struct StoreSettings {
    pub data_dir: PathBuf,
    pub sqlite_path: PathBuf,
}

impl StoreSettings {
    pub fn resolve(args: &StoreArgs, file: &FileSettings) -> anyhow::Result<StoreSettings> {
        let data_dir = args
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./data"));
        let url = args.database_url.clone().or_else(|| file.database_url.clone());
        let sqlite_path = match url.as_deref() {
            None | Some("") => data_dir.join("chatgate.db"),
            Some(url) => match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
                Some(path) if !path.is_empty() => PathBuf::from(path),
                _ if url.starts_with("postgres") => bail!(
                    "DATABASE_URL names PostgreSQL, which this build does not support yet; \
                     unset DATABASE_URL to use the embedded SQLite store"
                ),
                _ => bail!("DATABASE_URL `{url}` is not understood; use sqlite://PATH or leave it unset"),
            },
        };
        Ok(StoreSettings { data_dir, sqlite_path })
    }

    /// Creates the data directory (and the database's directory).
    pub fn prepare(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create the data directory {}", self.data_dir.display()))?;
        std::fs::create_dir_all(self.data_dir.join("files"))
            .with_context(|| format!("cannot create {}", self.data_dir.join("files").display()))?;
        if let Some(parent) = self.sqlite_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct ServeSettings {
    pub host: String,
    pub port: u16,
    pub store: StoreSettings,
    pub bus_url: Option<String>,
    pub dev: bool,
    pub jwt_secret: Option<String>,
    pub log: String,
    pub json_logs: bool,
    pub max_body_bytes: usize,
    pub login_token_ttl: Duration,
    pub durability: Durability,
    pub limits: Limits,
    pub rate_limits: RateLimitConfig,
    pub hubs: HubSettings,
    pub files: FilesSettings,
    pub customers: CustomerSettings,
    pub bots: BotSettings,
    pub proxy: ProxySettings,
    pub google: Option<GoogleSettings>,
    pub dsaccount: Option<DsAccountSettings>,
}

impl ServeSettings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<ServeSettings> {
        let file = FileSettings::load(args.store.config.as_deref())?;
        let store = StoreSettings::resolve(&args.store, &file)?;
        let files = FilesSettings::resolve(&args.files, &file.files, &store.data_dir)?;
        let (bots, proxy, google, dsaccount) = outside_settings(&args, &file)?;
        let log_format = args.log_format.or(file.log_format.clone()).unwrap_or_else(|| "text".into());
        let json_logs = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => bail!("log format `{other}` is not text or json"),
        };
        let ttl = args.login_token_ttl.or(file.login_token_ttl.clone()).unwrap_or_else(|| "24h".into());
        let durability =
            args.sqlite_durability.or(file.sqlite_durability.clone()).unwrap_or_else(|| "full".into());
        let mut customers = file.customers.clone();
        if let Some(ttl) = &args.customer_token_ttl {
            customers.token_ttl = parse_duration(ttl).map_err(anyhow::Error::msg)?;
        }
        if let Some(tenant) = args.customer_tenant.clone().filter(|t| !t.is_empty()) {
            customers.tenant = tenant;
        }
        let mut rate_limits = file.rate_limits.clone().unwrap_or_default();
        if let Some(n) = args.rate_limit_per_ip {
            rate_limits.per_ip_per_second = n;
            rate_limits.per_ip_burst = n.saturating_mul(2);
        }
        if let Some(n) = args.rate_limit_per_user {
            rate_limits.per_user_per_second = n;
            rate_limits.per_user_burst = n.saturating_mul(2);
        }
        Ok(ServeSettings {
            host: args.host.or(file.host.clone()).unwrap_or_else(|| "0.0.0.0".into()),
            port: args.port.or(file.port).unwrap_or(8080),
            store,
            bus_url: args.bus_url.or(file.bus_url.clone()).filter(|u| !u.is_empty()),
            dev: args.dev || file.dev.unwrap_or(false),
            jwt_secret: args.jwt_secret.or(file.jwt_secret.clone()).filter(|s| !s.is_empty()),
            log: args.log.or(file.log.clone()).unwrap_or_else(|| "info".into()),
            json_logs,
            max_body_bytes: args.max_body_bytes.or(file.max_body_bytes).unwrap_or(1024 * 1024),
            login_token_ttl: parse_duration(&ttl).map_err(anyhow::Error::msg)?,
            durability: durability.parse().map_err(anyhow::Error::msg)?,
            limits: file.limits,
            rate_limits,
            hubs: file.signalr,
            files,
            customers,
            bots,
            proxy,
            google,
            dsaccount,
        })
    }
}

type OutsideSettings = (BotSettings, ProxySettings, Option<GoogleSettings>, Option<DsAccountSettings>);

/// Bots, the proxy and the login providers: what chatgate reaches outside itself.
fn outside_settings(args: &ServeArgs, file: &FileSettings) -> anyhow::Result<OutsideSettings> {
    let mut bots = file.bots.clone();
    bots.stream_coalesce_ms = args.stream_coalesce_ms.unwrap_or(bots.stream_coalesce_ms);
    bots.stream_idle_timeout_ms = args.stream_idle_timeout_ms.unwrap_or(bots.stream_idle_timeout_ms);
    bots.webhook_max_attempts = args.webhook_max_attempts.unwrap_or(bots.webhook_max_attempts);
    bots.webhook_initial_backoff_ms = args.webhook_backoff_ms.unwrap_or(bots.webhook_initial_backoff_ms);
    bots.webhook_timeout_ms = args.webhook_timeout_ms.unwrap_or(bots.webhook_timeout_ms);
    if let Some(url) = &args.bot_topic_redis_url {
        bots.topic_redis_url = Some(url.clone());
    }
    if let Some(url) = bots.topic_redis_url.as_deref().filter(|u| !u.is_empty()) {
        chatgate_gateway::bots::check_topic_url(url).map_err(anyhow::Error::msg)?;
    }

    let mut proxy = file.proxy.clone();
    for (name, url) in &proxy.services {
        proxy::check_service(name, url).map_err(anyhow::Error::msg)?;
    }
    if let Some(list) = &args.proxy_services {
        proxy.services = proxy::parse_services(list).map_err(anyhow::Error::msg)?;
    }
    proxy.timeout_ms = args.proxy_timeout_ms.unwrap_or(proxy.timeout_ms);

    let pick =
        |flag: &Option<String>, key: &Option<String>| flag.clone().or(key.clone()).filter(|v| !v.is_empty());
    let google = pick(&args.google_client_id, &file.google_client_id).map(|client_id| GoogleSettings {
        client_id,
        jwks_url: pick(&args.google_jwks_url, &file.google_jwks_url)
            .unwrap_or_else(|| google::DEFAULT_JWKS_URL.to_owned()),
    });
    let dsaccount =
        pick(&args.dsaccount_introspect_url, &file.dsaccount_introspect_url).map(|url| DsAccountSettings {
            introspect_url: url,
            client_id: pick(&args.dsaccount_client_id, &file.dsaccount_client_id),
            client_secret: pick(&args.dsaccount_client_secret, &file.dsaccount_client_secret),
        });
    if let Some(d) = &dsaccount
        && !(d.introspect_url.starts_with("http://") || d.introspect_url.starts_with("https://"))
    {
        bail!("CHATGATE_DSACCOUNT_INTROSPECT_URL `{}` is not an http(s) URL", d.introspect_url);
    }
    Ok((bots, proxy, google, dsaccount))
}
