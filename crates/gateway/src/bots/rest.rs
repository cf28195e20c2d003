//! `/api/bots…`: listing and reading are public; everything else is for developers, and the core
//! answers anyone else NotFound. The role is checked before the body is read, so a stranger
//! learns nothing from validation errors either.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chatgate_core::model::MediaReference;
use chatgate_core::service::{BotPatch, NewBot};
use chatgate_core::{DEFAULT_TENANT, Principal};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::dto::{BotDto, BotTokenDto, ManagedBotDto, PagedResult};
use crate::http::problem::ApiError;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller, present};
use crate::state::AppState;

/// The tenant whose bots a public request sees: the caller's if it sent a token, else the
/// default tenant. A token that is sent must be valid.
fn tenant_of(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(DEFAULT_TENANT.to_owned());
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("The Authorization header must be `Bearer <jwt>`"))?;
    let principal = state.tokens.verify(token).map_err(|e| ApiError::unauthorized(e.0))?;
    Ok(principal.tenant)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    page: Option<u32>,
    page_size: Option<u32>,
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<PagedResult<BotDto>>, ApiError> {
    let tenant = tenant_of(&state, &headers)?;
    Ok(Json(state.core.list_bots(&tenant, q.page, q.page_size).await?.into()))
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BotDto>, ApiError> {
    let tenant = tenant_of(&state, &headers)?;
    Ok(Json(BotDto::from(&state.core.bot(&tenant, &id).await?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBotRequest {
    unique_name: String,
    full_name: String,
    #[serde(default)]
    avatar: Option<MediaReference>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    kafka_topic: String,
    #[serde(default)]
    listen_all_group_messages: Option<bool>,
    #[serde(default)]
    webhook_url: Option<String>,
}

/// 201 with the bot, its webhook URL and — this once — its webhook secret.
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    request: Request,
) -> Result<Response, ApiError> {
    let body: CreateBotRequest = manager_body(&state, &caller, request).await?;
    let input = NewBot {
        unique_name: body.unique_name,
        full_name: body.full_name,
        avatar: body.avatar,
        description: body.description,
        metadata: body.metadata,
        topic: body.kafka_topic,
        listen_all_group_messages: body.listen_all_group_messages.unwrap_or(false),
        webhook_url: body.webhook_url.filter(|u| !u.is_empty()),
        webhook_secret: hex::encode(rand::random::<[u8; 32]>()),
    };
    let bot = state.core.create_bot(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(ManagedBotDto::new(&bot, true))).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBotRequest {
    #[serde(default)]
    unique_name: Option<String>,
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    avatar: Option<Option<MediaReference>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    metadata: Option<Option<Map<String, Value>>>,
    #[serde(default)]
    listen_all_group_messages: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    webhook_url: Option<Option<String>>,
    #[serde(default)]
    kafka_topic: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    request: Request,
) -> Result<Json<ManagedBotDto>, ApiError> {
    let body: UpdateBotRequest = manager_body(&state, &caller, request).await?;
    let patch = BotPatch {
        unique_name: body.unique_name,
        full_name: body.full_name,
        avatar: body.avatar,
        description: body.description,
        metadata: body.metadata,
        listen_all_group_messages: body.listen_all_group_messages,
        webhook_url: body.webhook_url.map(|u| u.filter(|u| !u.is_empty())),
        topic: body.kafka_topic,
    };
    let bot = state.core.update_bot(&caller, &id, patch).await?;
    Ok(Json(ManagedBotDto::new(&bot, false)))
}

pub async fn activate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.set_bot_active(&caller, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deactivate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.set_bot_active(&caller, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_bot(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A token that acts as the bot (`role=bot`, `sub` = its participant id), valid as long as
/// tokens issued at login.
pub async fn token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BotTokenDto>, ApiError> {
    let bot = state.core.bot_principal(&caller, &id).await?;
    let (token, expires_at) = state
        .tokens
        .issue(&bot, state.config.login_token_ttl, state.core.now())
        .map_err(|e| chatgate_core::CoreError::unexpected(e.0))?;
    Ok(Json(BotTokenDto { token, expires_at }))
}

/// The body of a management request, read only once the caller may manage bots.
async fn manager_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    caller: &Principal,
    request: Request,
) -> Result<T, ApiError> {
    state.core.check_bot_manager(caller)?;
    let ApiJson(body) = ApiJson::<T>::from_request(request, state).await?;
    Ok(body)
}
