//! The settings of a chatgate process: defaults, overlaid by the TOML file, overlaid by
//! variables and flags (which clap has already merged).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use chatgate_core::Limits;
use chatgate_gateway::HubSettings;
use chatgate_gateway::auth::parse_duration;
use chatgate_gateway::http::ratelimit::RateLimitConfig;
use chatgate_store::Durability;
use serde::Deserialize;

use crate::cli::{ServeArgs, StoreArgs};

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
}

impl ServeSettings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<ServeSettings> {
        let file = FileSettings::load(args.store.config.as_deref())?;
        let store = StoreSettings::resolve(&args.store, &file)?;
        let log_format = args.log_format.or(file.log_format.clone()).unwrap_or_else(|| "text".into());
        let json_logs = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => bail!("log format `{other}` is not text or json"),
        };
        let ttl = args.login_token_ttl.or(file.login_token_ttl.clone()).unwrap_or_else(|| "24h".into());
        let durability =
            args.sqlite_durability.or(file.sqlite_durability.clone()).unwrap_or_else(|| "full".into());
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
        })
    }
}
