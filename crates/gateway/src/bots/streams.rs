//! Streamed replies, for bot tokens: start → status* → chunks* → complete | abort. Each handler
//! decodes and makes one call on the core's [`Streams`](chatgate_core::service::Streams).

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chatgate_core::event::StreamPart;
use chatgate_core::model::Block;
use chatgate_core::service::{CompleteStream, StartStream};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::dto::StartedStreamDto;
use crate::http::problem::ApiError;
use crate::rest::dto::MessageDto;
use crate::rest::extract::{ApiJson, ApiPath, Caller, parse_json};
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct StartStreamRequest {
    #[serde(default)]
    reply_to_message_id: Option<String>,
    #[serde(default)]
    client_message_id: Option<String>,
}

/// 201 `{streamId, messageId}`; the body may be empty.
pub async fn start(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(conversation_id): ApiPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let body: StartStreamRequest = optional_json(&state, request).await?;
    let input = StartStream {
        reply_to_message_id: body.reply_to_message_id,
        client_message_id: body.client_message_id,
    };
    let started = state.bots.streams.start(&caller, &conversation_id, input).await?;
    let dto = StartedStreamDto { stream_id: started.stream_id, message_id: started.message_id };
    Ok((StatusCode::CREATED, Json(dto)).into_response())
}

#[derive(Deserialize)]
pub struct StatusRequest {
    status: String,
    #[serde(default)]
    detail: Option<String>,
}

pub async fn status(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(stream_id): ApiPath<String>,
    ApiJson(body): ApiJson<StatusRequest>,
) -> Result<StatusCode, ApiError> {
    state.bots.streams.status(&caller, &stream_id, &body.status, body.detail.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartRequest {
    text: String,
    chunk_index: u32,
}

/// `{text, chunkIndex}` for one chunk, or `{parts: [{text, chunkIndex}, …]}` for several.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunksRequest {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    chunk_index: Option<u32>,
    #[serde(default)]
    parts: Option<Vec<PartRequest>>,
}

pub async fn chunks(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(stream_id): ApiPath<String>,
    ApiJson(body): ApiJson<ChunksRequest>,
) -> Result<StatusCode, ApiError> {
    let parts = match (body.parts, body.text, body.chunk_index) {
        (Some(parts), None, None) => {
            parts.into_iter().map(|p| StreamPart { text: p.text, chunk_index: p.chunk_index }).collect()
        }
        (None, Some(text), Some(chunk_index)) => vec![StreamPart { text, chunk_index }],
        (None, Some(_), None) => return Err(ApiError::validation("chunkIndex", "is required")),
        (None, None, Some(_)) => return Err(ApiError::validation("text", "is required")),
        _ => return Err(ApiError::validation("body", "must be {text, chunkIndex} or {parts: [...]}")),
    };
    state.bots.streams.chunks(&caller, &stream_id, parts).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CompleteRequest {
    #[serde(default)]
    blocks: Option<Vec<Block>>,
    #[serde(default)]
    finish_reason: Option<String>,
}

/// 200 with the stored message (REST `MessageDto`); the body may be empty.
pub async fn complete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(stream_id): ApiPath<String>,
    request: Request,
) -> Result<Json<MessageDto>, ApiError> {
    let body: CompleteRequest = optional_json(&state, request).await?;
    let input = CompleteStream { blocks: body.blocks, finish_reason: body.finish_reason };
    let message = state.bots.streams.complete(&caller, &stream_id, input).await?;
    Ok(Json(MessageDto::from(message)))
}

#[derive(Deserialize)]
pub struct AbortRequest {
    reason: String,
}

pub async fn abort(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(stream_id): ApiPath<String>,
    ApiJson(body): ApiJson<AbortRequest>,
) -> Result<StatusCode, ApiError> {
    state.bots.streams.abort(&caller, &stream_id, &body.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A JSON object body, or the defaults when the body is empty.
async fn optional_json<T: DeserializeOwned + Default>(
    state: &AppState,
    request: Request,
) -> Result<T, ApiError> {
    let limit = state.config.max_body_bytes;
    let bytes = axum::body::to_bytes(request.into_body(), limit).await.map_err(|_| {
        ApiError::validation(
            "body",
            format!("is larger than the {limit} bytes this server accepts (max_body_bytes)"),
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) { Ok(T::default()) } else { parse_json(&bytes) }
}
