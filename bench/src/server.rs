//! A chatgate process for one benchmark run.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const SECRET: &str = "bench-secret";

/// chatgate as the fan-out benchmarks run it: rooms beyond the default participant limit (rate
/// limits are off for every benchmark server, see `Server::start`), durable commits.
pub const BENCH_CONFIG: &str = "[limits]\nmax_participants_per_conversation = 100000\n";

pub struct Server {
    child: Child,
    pub base: String,
    _data: tempfile::TempDir,
    _config: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts the server with `config` as its TOML configuration file.
    pub async fn start_with_config(
        binary: &Path,
        config: &str,
        extra_args: &[&str],
    ) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("chatgate.toml");
        std::fs::write(&path, config)?;
        let mut args = vec!["--config", path.to_str().unwrap_or_default()];
        args.extend_from_slice(extra_args);
        let mut server = Server::start(binary, &args).await?;
        server._config = Some(dir);
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub async fn start(binary: &Path, extra_args: &[&str]) -> anyhow::Result<Server> {
        if !binary.exists() {
            bail!("{} does not exist; build it with `cargo build --release -p chatgate`", binary.display());
        }
        let data = tempfile::tempdir()?;
        let mut child = Command::new(binary)
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--log", "warn,chatgate=info"])
            .arg("--data-dir")
            .arg(data.path())
            .args(["--rate-limit-per-ip", "0", "--rate-limit-per-user", "0"])
            .args(extra_args)
            .env("CHATGATE_JWT_SECRET", SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(a) = line.split("listening on http://").nth(1) {
                    return Ok::<_, anyhow::Error>(a.trim().to_owned());
                }
            }
            bail!("chatgate exited before listening")
        })
        .await
        .context("chatgate did not start within 30 s")??;
        // Keep draining the log so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, base: format!("http://{address}"), _data: data, _config: None })
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A user's token for `sub`, signed with the benchmark server's secret.
pub fn token(sub: &str) -> String {
    token_in(sub, "user", "default")
}

/// A token for `sub` with `role` (`user`, `agent`, `admin`) in `tenant`.
pub fn token_in(sub: &str, role: &str, tenant: &str) -> String {
    let claims =
        serde_json::json!({"sub": sub, "role": role, "tenant": tenant, "name": sub, "exp": 4_000_000_000i64});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signing a benchmark token")
}
