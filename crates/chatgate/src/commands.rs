//! The short-lived commands: `migrate`, `token`, `user add`.

use std::io::Read;
use std::sync::Arc;

use anyhow::{Context, bail};
use chatgate_bus::InProcessBus;
use chatgate_core::{Core, Limits, Principal, Role, SystemClock, Timestamp};
use chatgate_gateway::auth::{Tokens, parse_duration, passwords};
use chatgate_store::SqliteStore;

use crate::cli::{StoreArgs, TokenArgs, UserAddArgs};
use crate::config::{FileSettings, StoreSettings};
use crate::secret::signing_secret;

pub async fn migrate(args: StoreArgs) -> anyhow::Result<()> {
    let file = FileSettings::load(args.config.as_deref())?;
    let settings = StoreSettings::resolve(&args, &file)?;
    settings.prepare()?;
    let applied = SqliteStore::migrate(&settings.sqlite_path)
        .await
        .with_context(|| format!("cannot migrate {}", settings.sqlite_path.display()))?;
    println!("{} is up to date ({} migrations):", settings.sqlite_path.display(), applied.len());
    for name in applied {
        println!("  {name}");
    }
    Ok(())
}

pub fn token(args: TokenArgs) -> anyhow::Result<()> {
    let role: Role = args.role.parse().map_err(anyhow::Error::msg)?;
    if role == Role::Customer {
        bail!("customers use customer tokens (POST /api/v1/public/customer-token), not JWTs");
    }
    let ttl = parse_duration(&args.ttl).map_err(anyhow::Error::msg)?;
    let file = FileSettings::load(args.store.config.as_deref())?;
    let store = StoreSettings::resolve(&args.store, &file)?;
    let configured = args.jwt_secret.or(file.jwt_secret).filter(|s| !s.is_empty());
    let (secret, _) = signing_secret(configured.as_deref(), &store.data_dir)?;
    let mut principal = Principal::new(args.tenant, args.sub, role);
    principal.name = args.name;
    let (token, _) =
        Tokens::new(&secret).issue(&principal, ttl, Timestamp::now()).map_err(|e| anyhow::anyhow!(e.0))?;
    println!("{token}");
    Ok(())
}

pub async fn add_user(args: UserAddArgs) -> anyhow::Result<()> {
    let role: Role = args.role.parse().map_err(anyhow::Error::msg)?;
    if matches!(role, Role::Bot | Role::Customer) {
        bail!("bots and customers do not log in with passwords; choose agent, admin, dev or user");
    }
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password).context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    if password.len() < 8 {
        bail!("the password must be at least 8 characters");
    }
    let file = FileSettings::load(args.store.config.as_deref())?;
    let settings = StoreSettings::resolve(&args.store, &file)?;
    settings.prepare()?;
    let store = Arc::new(SqliteStore::open(&settings.sqlite_path, &Default::default()).await?);
    let core =
        Core::new(store.clone(), Arc::new(InProcessBus::default()), Arc::new(SystemClock), Limits::default());
    let hash = passwords::hash(password).await.map_err(anyhow::Error::msg)?;
    let (_, participant) = core
        .create_credential(&args.tenant, &args.username, hash, role, args.name)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    store.close().await;
    println!(
        "created {role} '{}' in tenant '{}' (participant id {})",
        args.username, args.tenant, participant.id
    );
    Ok(())
}
