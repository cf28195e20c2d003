//! Files (seed 002 section 8, DESIGN 4.8): the bytes behind `storageKey`s, and everything about
//! them that is not a rule. The core decides who may upload and delete and records what was
//! uploaded; this module streams bytes to and from storage, signs and checks download URLs, and
//! makes thumbnails in the background. `rest::files` holds the HTTP handlers.
//!
//! - [`storage`]: a local directory or an S3-compatible bucket (`object_store`).
//! - [`signing`]: HMAC-signed, expiring download URLs.
//! - [`media_urls`]: signed `url`s added to the media references of answers and events.
//! - [`range`]: one HTTP byte range.
//! - [`thumbnails`]: the background thumbnail worker.

pub mod media_urls;
pub mod range;
pub mod signing;
pub mod storage;
pub mod thumbnails;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chatgate_core::model::{StoredFile, UploadGrant};
use chatgate_core::{Core, CoreError, Principal, Timestamp};
use futures_util::{Stream, StreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::http::problem::ApiError;
pub use media_urls::MediaUrls;
use range::{ByteRange, parse_range};
pub use signing::{SignatureError, UrlSigner, derive_signing_key, download_path};
pub use storage::{ObjectStorage, S3Config, StorageConfig, WriteError};
pub use thumbnails::ThumbnailSettings;

/// How files are kept and served.
#[derive(Clone)]
pub struct FilesConfig {
    pub storage: StorageConfig,
    /// Downloads need `expires` and `sig` (`CHATGATE_FILES_SIGNED`).
    pub signed: bool,
    /// The HMAC key of download URLs.
    pub signing_key: Vec<u8>,
    /// How long a signed download URL stays valid (at least).
    pub url_ttl: Duration,
    pub thumbnails: ThumbnailSettings,
}

impl fmt::Debug for FilesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilesConfig")
            .field("storage", &self.storage)
            .field("signed", &self.signed)
            .field("url_ttl", &self.url_ttl)
            .field("thumbnails", &self.thumbnails)
            .finish_non_exhaustive()
    }
}

/// Bytes read (and thrown away) after refusing an upload, so the client hears the answer
/// instead of a reset connection; a longer body is cut off.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;

/// How often upload grants that expired long ago are forgotten.
const GRANT_PURGE_EVERY: Duration = Duration::from_secs(10 * 60);

/// Starts the background work of files: thumbnails, and forgetting expired upload grants.
pub fn start(core: Arc<Core>, files: Arc<Files>) {
    thumbnails::start(core.clone(), files);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(GRANT_PURGE_EVERY);
        loop {
            every.tick().await;
            match core.purge_upload_grants().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(grants = n, "expired upload grants forgotten"),
                Err(e) => tracing::warn!(error = %e, "expired upload grants not purged"),
            }
        }
    });
}

pub struct Files {
    storage: ObjectStorage,
    signer: Option<Arc<UrlSigner>>,
    thumbnails: ThumbnailSettings,
}

impl Files {
    pub fn open(config: &FilesConfig) -> Result<Files, String> {
        let storage = ObjectStorage::open(&config.storage)?;
        let signer = config
            .signed
            .then(|| Arc::new(UrlSigner::new(config.signing_key.clone(), config.url_ttl.as_millis() as i64)));
        Ok(Files { storage, signer, thumbnails: config.thumbnails.clone() })
    }

    /// For the startup log: where files are and whether downloads are signed.
    pub fn describe(&self) -> String {
        let access =
            if self.signer.is_some() { "downloads need signed URLs" } else { "downloads are public" };
        format!("{} ({access})", self.storage.describe())
    }

    pub fn media_urls(&self) -> MediaUrls {
        MediaUrls::new(self.signer.clone())
    }

    pub fn thumbnail_settings(&self) -> &ThumbnailSettings {
        &self.thumbnails
    }

    /// The relative URL a file is downloaded from: signed when signing is on.
    pub fn download_url(&self, storage_key: &str) -> String {
        match &self.signer {
            Some(signer) => signer.signed_url(storage_key, Timestamp::now()),
            None => download_path(storage_key),
        }
    }

    /// Receives an upload: claims the grant, streams `body` to storage (refusing anything longer
    /// than announced), and records the file. On failure nothing is kept and the grant may be
    /// used again until it expires.
    pub async fn receive<S, E>(
        &self,
        core: &Core,
        principal: &Principal,
        upload_id: &str,
        body: &mut S,
    ) -> Result<StoredFile, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: fmt::Display,
    {
        let grant = core.start_upload(principal, upload_id).await?;
        let written = match self.storage.write(&grant.storage_key, body, grant.size).await {
            Ok(written) => written,
            Err(failure) => {
                core.abandon_upload(&grant).await;
                return Err(upload_failure(&grant, failure));
            }
        };
        match core.finish_upload(&grant, written).await {
            Ok(file) => Ok(file),
            Err(e) => {
                self.remove_bytes(&grant.storage_key).await;
                Err(e.into())
            }
        }
    }

    /// Removes stored bytes; a failure leaves an orphan object behind, which is only logged.
    pub async fn remove_bytes(&self, storage_key: &str) {
        if let Err(e) = self.storage.delete(storage_key).await {
            tracing::warn!(error = %e, key = storage_key, "file bytes not deleted from storage");
        }
    }

    /// Answers `GET /api/files/{storageKey}`: the signature first (when signing is on), then the
    /// file, whole or one byte range of it.
    pub async fn download(
        &self,
        core: &Core,
        storage_key: &str,
        expires: Option<&str>,
        sig: Option<&str>,
        range: Option<&str>,
    ) -> Result<Response, ApiError> {
        if let Some(signer) = &self.signer {
            signer.verify(storage_key, expires, sig, Timestamp::now()).map_err(invalid_signature)?;
        }
        let file = core.file(storage_key).await?;
        let (status, span) = match parse_range(range, file.size) {
            ByteRange::Whole => (StatusCode::OK, None),
            ByteRange::Part { start, end } => (StatusCode::PARTIAL_CONTENT, Some(start..end + 1)),
            ByteRange::Unsatisfiable => return Ok(unsatisfiable(file.size)),
        };
        let stream = match self.storage.read(storage_key, span.clone()).await {
            Ok(stream) => stream,
            Err(storage::StorageError::NotFound(_)) => {
                tracing::warn!(key = storage_key, "file recorded but missing from storage");
                return Err(ApiError::from(chatgate_core::policy::file_not_found(storage_key)));
            }
            Err(e) => {
                tracing::error!(error = %e, key = storage_key, "file storage failed");
                return Err(ApiError::from(CoreError::unexpected(
                    "File storage failed; the server log has the details",
                )));
            }
        };
        Ok(file_response(&file, status, span, Body::from_stream(stream)))
    }
}

/// The headers of a file answer. Files are shown from this server's own origin, so they are
/// never sniffed into something runnable, and anything but media and PDF downloads as an
/// attachment.
fn file_response(file: &StoredFile, status: StatusCode, span: Option<Range<u64>>, body: Body) -> Response {
    let length = span.as_ref().map_or(file.size, |r| r.end - r.start);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(r) = &span {
        let value = format!("bytes {}-{}/{}", r.start, r.end - 1, file.size);
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(header::CONTENT_RANGE, v);
        }
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Nothing served from here may run as a page of this origin (PDFs are left to the browser's
    // viewer, which a sandbox would block).
    if file.content_type != "application/pdf" {
        headers
            .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    let inline = ["image/", "video/", "audio/"].iter().any(|p| file.content_type.starts_with(p))
        || file.content_type == "application/pdf";
    let disposition = content_disposition(if inline { "inline" } else { "attachment" }, &file.file_name);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `inline; filename="a_b.png"; filename*=UTF-8''a%20b.png` (RFC 6266): an ASCII fallback and
/// the exact name.
fn content_disposition(kind: &str, file_name: &str) -> String {
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let fallback: String = file_name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}", utf8_percent_encode(file_name, ATTR))
}

/// 400 `Invalid Signature`, the seed's answer to a missing, tampered or expired signature.
pub fn invalid_signature(reason: SignatureError) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        title: "Invalid Signature",
        detail: reason.describe().to_owned(),
        errors: None,
        retry_after: None,
    }
}

/// 416, with the file's size in `Content-Range` as RFC 9110 asks.
fn unsatisfiable(size: u64) -> Response {
    let mut response = ApiError {
        status: StatusCode::RANGE_NOT_SATISFIABLE,
        title: "RangeNotSatisfiable",
        detail: format!("The file has {size} bytes; the requested range starts past its end"),
        errors: None,
        retry_after: None,
    }
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    response
}

fn upload_failure(grant: &UploadGrant, failure: WriteError) -> ApiError {
    match failure {
        WriteError::TooLarge => ApiError::validation(
            "file",
            format!("is larger than the fileSize of {} bytes the upload URL was granted for", grant.size),
        ),
        WriteError::Body(e) => ApiError::validation("file", format!("could not be read: {e}")),
        WriteError::Storage(e) => {
            tracing::error!(error = %e, key = %grant.storage_key, "upload not stored");
            ApiError::from(CoreError::unexpected("File storage failed; the server log has the details"))
        }
    }
}

/// Reads and discards what is left of a refused upload, up to a bound.
pub async fn drain<S, E>(body: &mut S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut read: u64 = 0;
    while let Some(Ok(chunk)) = body.next().await {
        read = read.saturating_add(chunk.len() as u64);
        if read > DRAIN_BYTES {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_keep_the_exact_name_and_an_ascii_fallback() {
        assert_eq!(
            content_disposition("inline", "ảnh 1.png"),
            "inline; filename=\"_nh 1.png\"; filename*=UTF-8''%E1%BA%A3nh%201.png"
        );
        assert_eq!(
            content_disposition("attachment", "a\"b.pdf"),
            "attachment; filename=\"a_b.pdf\"; filename*=UTF-8''a%22b.pdf"
        );
    }
}
