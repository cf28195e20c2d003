//! Messages: send and page through a conversation's log, search it, and act on one message.

use crate::wire::SendMessageBody;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chatgate_core::model::{Block, Mention};
use chatgate_core::service::{EditMessage, HistoryQuery};
use chatgate_core::store::Direction;
use serde::Deserialize;

use super::dto::{CursorPage, DeletedMessageDto, MessageDto};
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, present};
use crate::http::problem::ApiError;
use crate::state::AppState;

/// 201 with the stored message. A retry with a known `clientMessageId` answers the first message
/// again, marked `Idempotent-Replayed: true`.
pub async fn send(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(conversation_id): ApiPath<String>,
    ApiJson(body): ApiJson<SendMessageBody>,
) -> Result<Response, ApiError> {
    let sent = state.core.send_message(&caller, &conversation_id, body.into()).await?;
    let mut response = (StatusCode::CREATED, Json(MessageDto::from(sent.message))).into_response();
    if !sent.created {
        response
            .headers_mut()
            .insert(HeaderName::from_static("idempotent-replayed"), HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum DirectionParam {
    #[default]
    Older,
    Newer,
}

#[derive(Deserialize)]
pub struct HistoryParams {
    limit: Option<u32>,
    cursor: Option<String>,
    #[serde(default)]
    direction: DirectionParam,
}

pub async fn history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(conversation_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryParams>,
) -> Result<Json<CursorPage<MessageDto>>, ApiError> {
    let query = HistoryQuery {
        limit: q.limit,
        cursor: q.cursor.filter(|c| !c.is_empty()),
        direction: match q.direction {
            DirectionParam::Older => Direction::Older,
            DirectionParam::Newer => Direction::Newer,
        },
    };
    let page = state.core.history(&caller, &conversation_id, query).await?;
    Ok(Json(CursorPage::from_page(page, Into::into)))
}

#[derive(Deserialize)]
pub struct SearchParams {
    q: String,
    limit: Option<u32>,
}

pub async fn search(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(conversation_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> Result<Json<Vec<MessageDto>>, ApiError> {
    let found = state.core.search_messages(&caller, &conversation_id, &q.q, q.limit).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MessageDto>, ApiError> {
    Ok(Json(state.core.message(&caller, &id).await?.into()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditMessageRequest {
    blocks: Vec<Block>,
    #[serde(default)]
    mentions: Option<Vec<Mention>>,
    #[serde(default, deserialize_with = "present")]
    reply_to_message_id: Option<Option<String>>,
}

pub async fn edit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EditMessageRequest>,
) -> Result<Json<MessageDto>, ApiError> {
    let edit = EditMessage {
        blocks: body.blocks,
        mentions: body.mentions,
        reply_to_message_id: body.reply_to_message_id,
    };
    Ok(Json(state.core.edit_message(&caller, &id, edit).await?.into()))
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeletedMessageDto>, ApiError> {
    let deleted = state.core.delete_message(&caller, &id).await?;
    Ok(Json(DeletedMessageDto { message_id: deleted.id, deleted_at: deleted.deleted_at }))
}

pub async fn recover(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.recover_message(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ReactionRequest {
    emoji: String,
}

pub async fn add_reaction(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReactionRequest>,
) -> Result<StatusCode, ApiError> {
    state.core.add_reaction(&caller, &id, &body.emoji).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_reaction(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.core.remove_reaction(&caller, &id, &emoji).await?;
    Ok(StatusCode::NO_CONTENT)
}
