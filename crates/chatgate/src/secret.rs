//! The token-signing secret: `CHATGATE_JWT_SECRET` when set, otherwise one generated on first
//! start and kept (readable by the owner only) in the data directory, so tokens survive restarts.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

pub enum SecretSource {
    Configured,
    Generated(PathBuf),
    Kept(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Configured => write!(f, "from CHATGATE_JWT_SECRET"),
            SecretSource::Generated(p) => write!(f, "generated into {}", p.display()),
            SecretSource::Kept(p) => write!(f, "kept in {}", p.display()),
        }
    }
}

pub fn signing_secret(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<(Vec<u8>, SecretSource)> {
    if let Some(secret) = configured {
        return Ok((secret.as_bytes().to_vec(), SecretSource::Configured));
    }
    let path = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let secret = existing.trim();
        if !secret.is_empty() {
            return Ok((secret.as_bytes().to_vec(), SecretSource::Kept(path)));
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(secret.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((secret.into_bytes(), SecretSource::Generated(path)))
}
