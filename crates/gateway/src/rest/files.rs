//! Files (seed 002 section 8): upload URLs, uploads (raw `PUT` or multipart `POST` field `file`),
//! downloads with one byte range, deletion by the uploader. The bytes move through
//! `crate::files`; the rules are the core's.

use std::pin::pin;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post, put};
use chatgate_core::Timestamp;
use chatgate_core::model::StoredFile;
use chatgate_core::service::UploadRequest;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::files::{Files, drain};
use crate::http::problem::ApiError;
use crate::state::AppState;

const FILES_PREFIX: &str = "/api/files/";

/// Bytes of multipart fields other than `file` (they are read and ignored).
const MAX_OTHER_FIELD_BYTES: usize = 64 * 1024;

/// The `/api/files` routes. Upload bodies may be as large as the file limit (plus room for the
/// multipart framing), unlike every other body.
pub fn routes(max_file_bytes: u64) -> Router<AppState> {
    let upload_limit = usize::try_from(max_file_bytes).unwrap_or(usize::MAX).saturating_add(1024 * 1024);
    Router::new()
        .route("/api/files/upload-url", post(create_upload_url))
        .route(
            "/api/files/uploads/{upload_id}",
            put(upload_raw).post(upload_multipart).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/files/{*storage_key}", get(download).delete(delete))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUploadUrlRequest {
    file_name: String,
    content_type: String,
    file_size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUploadUrlResponse {
    /// Relative: the client prepends its base URL.
    upload_url: String,
    storage_key: String,
    expires_at: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    /// Relative, and signed when downloads need signing.
    download_url: String,
    storage_key: String,
    file_name: String,
    content_type: String,
    file_size: u64,
    uploaded_at: Timestamp,
}

impl UploadResponse {
    fn of(file: StoredFile, files: &Files) -> UploadResponse {
        UploadResponse {
            download_url: files.download_url(&file.storage_key),
            storage_key: file.storage_key,
            file_name: file.file_name,
            content_type: file.content_type,
            file_size: file.size,
            uploaded_at: file.created_at,
        }
    }
}

pub async fn create_upload_url(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateUploadUrlRequest>,
) -> Result<Json<CreateUploadUrlResponse>, ApiError> {
    let request = UploadRequest {
        file_name: body.file_name,
        content_type: body.content_type,
        file_size: body.file_size,
    };
    let grant = state.core.grant_upload(&caller, request).await?;
    Ok(Json(CreateUploadUrlResponse {
        upload_url: format!("/api/files/uploads/{}", grant.id),
        storage_key: grant.storage_key,
        expires_at: grant.expires_at,
    }))
}

/// `PUT` with the file's bytes as the body.
pub async fn upload_raw(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(upload_id): ApiPath<String>,
    body: Body,
) -> Result<Json<UploadResponse>, ApiError> {
    let mut stream = body.into_data_stream();
    let received = state.files.receive(&state.core, &caller, &upload_id, &mut stream).await;
    if received.is_err() {
        drain(&mut stream).await;
    }
    Ok(Json(UploadResponse::of(received?, &state.files)))
}

/// `POST` `multipart/form-data` with the bytes in the field `file`; other fields are ignored.
pub async fn upload_multipart(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(upload_id): ApiPath<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<UploadResponse>, ApiError> {
    let mut multipart = multipart.map_err(|e| ApiError::validation("body", e.body_text()))?;
    let received = loop {
        let field = multipart.next_field().await.map_err(|e| ApiError::validation("body", e.body_text()))?;
        let Some(mut field) = field else {
            return Err(ApiError::validation(
                "file",
                "is required: send the bytes in the multipart field `file`",
            ));
        };
        if field.name() == Some("file") {
            let mut stream = pin!(field);
            let received = state.files.receive(&state.core, &caller, &upload_id, &mut stream).await;
            if received.is_err() {
                drain(&mut stream).await;
            }
            break received;
        }
        let mut read = 0;
        while let Some(chunk) =
            field.chunk().await.map_err(|e| ApiError::validation("body", e.body_text()))?
        {
            read += chunk.len();
            if read > MAX_OTHER_FIELD_BYTES {
                return Err(ApiError::validation(
                    "body",
                    format!(
                        "multipart fields other than `file` may hold at most {MAX_OTHER_FIELD_BYTES} bytes"
                    ),
                ));
            }
        }
    };
    // Whatever follows the file (more fields, the closing boundary) is read and ignored.
    while let Ok(Some(field)) = multipart.next_field().await {
        drain(&mut pin!(field)).await;
    }
    Ok(Json(UploadResponse::of(received?, &state.files)))
}

#[derive(Deserialize)]
pub struct SignedQuery {
    expires: Option<String>,
    sig: Option<String>,
}

/// `GET /api/files/{storageKey…}`: public, or signed when signing is on; one byte range.
pub async fn download(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SignedQuery>,
) -> Result<Response, ApiError> {
    let storage_key = storage_key_of(&uri)?;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    state
        .files
        .download(&state.core, &storage_key, query.expires.as_deref(), query.sig.as_deref(), range)
        .await
}

/// `DELETE /api/files/{storageKey…}`: the uploader removes the file and its thumbnail.
pub async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    uri: Uri,
) -> Result<StatusCode, ApiError> {
    let storage_key = storage_key_of(&uri)?;
    for removed in state.core.delete_file(&caller, &storage_key).await? {
        state.files.remove_bytes(&removed.storage_key).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The storage key in a request path: everything after `/api/files/`, each segment
/// percent-decoded on its own, so `/` separates segments and `%2F` cannot forge one.
fn storage_key_of(uri: &Uri) -> Result<String, ApiError> {
    let not_found = || ApiError::not_found(format!("No file at {}", uri.path()));
    let raw = uri.path().strip_prefix(FILES_PREFIX).ok_or_else(not_found)?;
    let mut segments = Vec::new();
    for segment in raw.split('/') {
        let decoded = percent_decode_str(segment).decode_utf8().map_err(|_| not_found())?;
        if decoded.is_empty() || decoded.contains('/') {
            return Err(not_found());
        }
        segments.push(decoded.into_owned());
    }
    Ok(segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Option<String> {
        storage_key_of(&path.parse::<Uri>().unwrap()).ok()
    }

    #[test]
    fn keys_are_decoded_segment_by_segment() {
        assert_eq!(key("/api/files/01H/a%20b%23.png").as_deref(), Some("01H/a b#.png"));
        assert_eq!(key("/api/files/01H/%E1%BA%A3nh.png").as_deref(), Some("01H/ảnh.png"));
        assert_eq!(key("/api/files/01H%2Fx"), None);
        assert_eq!(key("/api/files/01H//x"), None);
        assert_eq!(key("/api/files/"), None);
        assert_eq!(key("/api/files/%FF"), None);
    }
}
