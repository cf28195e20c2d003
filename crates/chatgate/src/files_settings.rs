//! The settings of uploaded files: the `[files]` table, overlaid by `--files-*`/`--s3-*` flags
//! and their variables, turned into the gateway's `FilesConfig` once the token secret is known.

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use chatgate_gateway::auth::parse_duration;
use chatgate_gateway::files::{FilesConfig, S3Config, StorageConfig, ThumbnailSettings, derive_signing_key};
use serde::Deserialize;

use crate::cli::FileArgs;

/// The `[files]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesTable {
    pub signed: Option<bool>,
    pub signing_secret: Option<String>,
    pub url_ttl: Option<String>,
    pub s3: Option<S3Table>,
    pub thumbnails: ThumbnailSettings,
}

/// The `[files.s3]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Table {
    pub bucket: Option<String>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// Resolved, except for the signing key, which may depend on the token secret.
pub struct FilesSettings {
    pub storage: StorageConfig,
    pub signed: bool,
    signing_secret: Option<String>,
    pub url_ttl: Duration,
    pub thumbnails: ThumbnailSettings,
}

impl std::fmt::Debug for FilesSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesSettings")
            .field("storage", &self.storage)
            .field("signed", &self.signed)
            .field("signing_secret", &self.signing_secret.as_ref().map(|_| "…"))
            .field("url_ttl", &self.url_ttl)
            .field("thumbnails", &self.thumbnails)
            .finish()
    }
}

impl FilesSettings {
    pub fn resolve(args: &FileArgs, table: &FilesTable, data_dir: &Path) -> anyhow::Result<FilesSettings> {
        let pick = |flag: &Option<String>, key: Option<&String>| {
            flag.clone().or_else(|| key.cloned()).filter(|v| !v.trim().is_empty())
        };
        let no_s3 = S3Table::default();
        let s3 = table.s3.as_ref().unwrap_or(&no_s3);
        let storage = match pick(&args.s3_bucket, s3.bucket.as_ref()) {
            None => StorageConfig::Local { dir: data_dir.join("files") },
            Some(bucket) => {
                let endpoint = pick(&args.s3_endpoint, s3.endpoint.as_ref());
                if let Some(e) = &endpoint
                    && !(e.starts_with("http://") || e.starts_with("https://"))
                {
                    bail!("the S3 endpoint `{e}` is not an http(s) URL");
                }
                StorageConfig::S3(S3Config {
                    bucket,
                    endpoint,
                    region: pick(&args.s3_region, s3.region.as_ref()),
                    access_key_id: pick(&args.s3_access_key_id, s3.access_key_id.as_ref()),
                    secret_access_key: pick(&args.s3_secret_access_key, s3.secret_access_key.as_ref()),
                })
            }
        };
        let url_ttl = pick(&args.files_url_ttl, table.url_ttl.as_ref()).unwrap_or_else(|| "1h".to_owned());
        let url_ttl = parse_duration(&url_ttl).map_err(anyhow::Error::msg)?;
        if url_ttl < Duration::from_secs(10) {
            bail!("files URL lifetime {url_ttl:?} is too short (at least 10s)");
        }
        Ok(FilesSettings {
            storage,
            signed: args.files_signed || table.signed.unwrap_or(false),
            signing_secret: pick(&args.files_signing_secret, table.signing_secret.as_ref()),
            url_ttl,
            thumbnails: table.thumbnails.clone(),
        })
    }

    /// The gateway's configuration, and where the signing key came from (for the log).
    pub fn config(&self, token_secret: &[u8]) -> (FilesConfig, &'static str) {
        let (signing_key, source) = match &self.signing_secret {
            Some(secret) => (secret.as_bytes().to_vec(), "from CHATGATE_FILES_SIGNING_SECRET"),
            None => (derive_signing_key(token_secret), "derived from the token secret"),
        };
        let config = FilesConfig {
            storage: self.storage.clone(),
            signed: self.signed,
            signing_key,
            url_ttl: self.url_ttl,
            thumbnails: self.thumbnails.clone(),
        };
        (config, source)
    }
}
