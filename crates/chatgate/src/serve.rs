//! `chatgate serve`: assemble store, bus, core and doors; listen; shut down cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use chatgate_bus::InProcessBus;
use chatgate_core::{Core, SystemClock};
use chatgate_gateway::auth::Tokens;
use chatgate_gateway::files::Files;
use chatgate_gateway::{AppState, Gateway, GatewayConfig};
use chatgate_store::{SqliteOptions, SqliteStore};
use tokio::net::TcpListener;

use crate::config::ServeSettings;
use crate::secret::signing_secret;

/// Every connection is a file descriptor: take as many as the system allows this process.
fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit with a valid pointer to a stack value.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            if limit.rlim_cur < limit.rlim_max {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
            return Some(limit.rlim_cur);
        }
    }
    None
}

pub async fn run(settings: ServeSettings) -> anyhow::Result<()> {
    let open_files = raise_open_file_limit();
    if let Some(url) = &settings.bus_url {
        bail!(
            "CHATGATE_BUS_URL `{url}` names a distributed bus, which this build does not support yet; \
             unset it to use the in-process bus"
        );
    }
    settings.store.prepare()?;
    let (secret, secret_source) = signing_secret(settings.jwt_secret.as_deref(), &settings.store.data_dir)?;

    let options = SqliteOptions { durability: settings.durability, ..Default::default() };
    let store = SqliteStore::open(&settings.store.sqlite_path, &options)
        .await
        .with_context(|| format!("cannot open the database {}", settings.store.sqlite_path.display()))?;
    let store = Arc::new(store);
    let bus = Arc::new(InProcessBus::default());
    let core = Arc::new(Core::new(store.clone(), bus, Arc::new(SystemClock), settings.limits.clone()));

    let config = GatewayConfig {
        dev_login: settings.dev,
        max_body_bytes: settings.max_body_bytes,
        login_token_ttl: settings.login_token_ttl,
        rate_limits: settings.rate_limits.clone(),
        hubs: settings.hubs.clone(),
        customers: settings.customers.clone(),
        bots: settings.bots.clone(),
        proxy: settings.proxy.clone(),
        google: settings.google.clone(),
        dsaccount: settings.dsaccount.clone(),
    };
    let (files_config, files_key_source) = settings.files.config(&secret);
    let files = Files::open(&files_config).map_err(anyhow::Error::msg).context("cannot open file storage")?;
    tracing::info!("files: {}", files.describe());
    if files_config.signed {
        tracing::info!("file URL signing key: {files_key_source}");
    }
    let state = AppState::new(core.clone(), Arc::new(Tokens::new(&secret)), config, Arc::new(files));
    let rate_limits = state.rate_limits.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            rate_limits.forget_idle();
        }
    });
    let gateway = Gateway::start(state);
    let app = gateway.router();

    let address = format!("{}:{}", settings.host, settings.port);
    let listener = TcpListener::bind(&address).await.with_context(|| {
        format!("cannot listen on {address}: is another server using the port? Choose another with --port")
    })?;
    let local = listener.local_addr()?;
    tracing::info!("store: {}", core.describe_store());
    tracing::info!("bus: {}", core.describe_bus());
    tracing::info!("token secret: {secret_source}");
    if let Some(n) = open_files {
        tracing::info!("open files: up to {n} (one per connection)");
    }
    if settings.dev {
        tracing::warn!("dev login is ON: POST /api/auth/dev creates users; do not expose this server");
    } else {
        tracing::info!("dev login: off (enable with --dev)");
    }
    if let Some(g) = &settings.google {
        tracing::info!("google login: client id {}, keys from {}", g.client_id, g.jwks_url);
    }
    if let Some(d) = &settings.dsaccount {
        tracing::info!("dsaccount login: introspection at {}", d.introspect_url);
    }
    if !settings.proxy.services.is_empty() {
        let names: Vec<&str> = settings.proxy.services.keys().map(String::as_str).collect();
        tracing::info!("proxy services: {}", names.join(", "));
    }
    tracing::info!(
        "bot streams: chunks coalesced within {} ms, idle streams aborted after {} ms",
        settings.bots.stream_coalesce_ms,
        settings.bots.stream_idle_timeout_ms
    );
    tracing::info!("chatgate {} listening on http://{local}", env!("CARGO_PKG_VERSION"));

    // Real-time frames are small and must leave at once: no Nagle delay behind an unacked one.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            gateway.close_realtime("The server is restarting.").await;
        })
        .await
        .context("the server stopped with an error")?;
    tracing::info!("connections drained; closing the store");
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: no new connections, finishing the open ones");
}
