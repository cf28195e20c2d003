//! `/api/conversations`: list, create, search, get, update, leave, members, pins and media.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chatgate_core::model::{MediaKind, MediaReference};
use chatgate_core::service::{ConversationPatch, NewConversation};
use serde::Deserialize;

use super::dto::{
    ConversationDto, ConversationListItemDto, ConversationMediaItemDto, ConversationParticipantDto,
    CursorPage,
};
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, present};
use crate::http::problem::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<CursorPage<ConversationListItemDto>>, ApiError> {
    let page = state.core.list_conversations(&caller, q.limit, q.cursor.as_deref()).await?;
    Ok(Json(CursorPage::from_page(page, Into::into)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateConversationRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    avatar: Option<MediaReference>,
    #[serde(default)]
    participant_ids: Vec<String>,
}

pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateConversationRequest>,
) -> Result<(StatusCode, Json<ConversationDto>), ApiError> {
    let input =
        NewConversation { name: body.name, avatar: body.avatar, participant_ids: body.participant_ids };
    let created = state.core.create_conversation(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: String,
    limit: Option<u32>,
}

pub async fn search(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Vec<ConversationListItemDto>>, ApiError> {
    let found = state.core.search_conversations(&caller, &q.q, q.limit).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ConversationDto>, ApiError> {
    Ok(Json(state.core.conversation(&caller, &id).await?.into()))
}

#[derive(Deserialize)]
pub struct UpdateConversationRequest {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    avatar: Option<Option<MediaReference>>,
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateConversationRequest>,
) -> Result<Json<ConversationDto>, ApiError> {
    let patch = ConversationPatch { name: body.name, avatar: body.avatar };
    Ok(Json(state.core.update_conversation(&caller, &id, patch).await?.into()))
}

/// `DELETE /api/conversations/{id}` and `POST /api/conversations/{id}/leave`: the caller leaves.
pub async fn leave(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.leave_conversation(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn participants(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<ConversationParticipantDto>>, ApiError> {
    let members = state.core.conversation_members(&caller, &id).await?;
    Ok(Json(members.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddParticipantRequest {
    participant_id: String,
}

pub async fn add_participant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AddParticipantRequest>,
) -> Result<StatusCode, ApiError> {
    state.core.add_participant(&caller, &id, &body.participant_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_participant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, participant_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.core.remove_participant(&caller, &id, &participant_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pin(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.pin_conversation(&caller, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unpin(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.pin_conversation(&caller, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum MediaKindFilter {
    #[default]
    All,
    Attachment,
    Link,
}

#[derive(Deserialize)]
pub struct MediaQuery {
    #[serde(default)]
    kind: MediaKindFilter,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn media(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<MediaQuery>,
) -> Result<Json<CursorPage<ConversationMediaItemDto>>, ApiError> {
    let kind = match q.kind {
        MediaKindFilter::All => None,
        MediaKindFilter::Attachment => Some(MediaKind::Attachment),
        MediaKindFilter::Link => Some(MediaKind::Link),
    };
    let page = state.core.conversation_media(&caller, &id, kind, q.limit, q.cursor.as_deref()).await?;
    Ok(Json(CursorPage::from_page(page, Into::into)))
}
