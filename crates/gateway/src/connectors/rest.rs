//! `/api/channels` (admins) and the connectors' HTTP API. Errors are RFC 7807, as everywhere in
//! the REST API.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chatgate_core::model::ChannelAccount;
use chatgate_core::service::NewChannelAccount;
use serde::Deserialize;

use super::ConnectorDoor;
use super::dto::*;
use crate::auth::connector_keys;
use crate::http::problem::ApiError;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller, parse_json, read_body};
use crate::state::AppState;

/// The longest a long poll waits, in seconds.
pub const MAX_WAIT_SECS: u64 = 60;

/// A connector: the channel id of the path and the key of `Authorization: Bearer ck_…`, which
/// the core checks belong together.
pub struct Connector(pub ChannelAccount);

impl FromRequestParts<ConnectorDoor> for Connector {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, door: &ConnectorDoor) -> Result<Self, ApiError> {
        let ApiPath(channel_id) = ApiPath::<String>::from_request_parts(parts, door).await?;
        let key = bearer(parts).ok_or_else(|| {
            ApiError::unauthorized("Send the channel's connector key: `Authorization: Bearer ck_…`")
        })?;
        let account = door.app.core.connector_account(&channel_id, &connector_keys::hash(key)).await?;
        Ok(Connector(account))
    }
}

pub(super) fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

pub async fn create_channel(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<CreateChannelRequest>,
) -> Result<(StatusCode, Json<ChannelDto>), ApiError> {
    let key = connector_keys::new_key();
    let input =
        NewChannelAccount { channel_type: body.channel_type, name: body.name, external_id: body.external_id };
    let account = state.core.create_channel_account(&principal, input, &connector_keys::hash(&key)).await?;
    Ok((StatusCode::CREATED, Json(ChannelDto::new(account, Some(key)))))
}

pub async fn list_channels(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<ChannelListDto>, ApiError> {
    let accounts = state.core.channel_accounts(&principal).await?;
    Ok(Json(ChannelListDto { items: accounts.into_iter().map(|a| ChannelDto::new(a, None)).collect() }))
}

/// A new connector key for the channel; the old one stops working at once.
pub async fn replace_connector_key(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ChannelDto>, ApiError> {
    let key = connector_keys::new_key();
    let account = state.core.replace_connector_key(&principal, &id, &connector_keys::hash(&key)).await?;
    Ok(Json(ChannelDto::new(account, Some(key))))
}

/// One event or an array of them; answered after everything is stored.
pub async fn post_events(
    State(door): State<ConnectorDoor>,
    Connector(account): Connector,
    body: Body,
) -> Result<Json<IngestedListDto>, ApiError> {
    let bytes = read_body(body, door.app.config.max_body_bytes).await?;
    let (events, batch) = decode_events(&bytes)?;
    let done = door.app.core.ingest_channel_events(&account, events, batch).await?;
    Ok(Json(IngestedListDto { results: done.into_iter().map(IngestedDto::from).collect() }))
}

#[derive(Deserialize)]
pub struct OutboxQuery {
    /// Seconds to wait for a reply when there is none (0 to `MAX_WAIT_SECS`).
    #[serde(default)]
    wait: Option<u64>,
    /// Only entries with a larger `seq`.
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// The replies waiting for delivery, oldest first; with `wait`, an empty outbox is watched until
/// a reply arrives or the time is up (then the answer is empty).
pub async fn outbox(
    State(door): State<ConnectorDoor>,
    Connector(account): Connector,
    ApiQuery(query): ApiQuery<OutboxQuery>,
) -> Result<Json<OutboxPageDto>, ApiError> {
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::validation("wait", format!("must be from 0 to {MAX_WAIT_SECS} seconds")));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let mut queued = door.signals.subscribe(&account.id);
    let mut closing = door.signals.closing();
    loop {
        let items = door.app.core.connector_outbox(&account, query.after, query.limit).await?;
        if !items.is_empty() || tokio::time::Instant::now() >= deadline || *closing.borrow() {
            return Ok(Json(OutboxPageDto { items: items.into_iter().map(OutboxEntryDto::from).collect() }));
        }
        tokio::select! {
            changed = queued.changed() => if changed.is_err() {
                // Not expected while this receiver lives; poll again rather than spin.
                tokio::time::sleep_until(deadline).await;
            },
            _ = closing.changed() => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// `{ids: [...]}` or `{acks: [{id, externalMessageId?}]}`: delivered entries leave the outbox.
pub async fn ack(
    State(door): State<ConnectorDoor>,
    Connector(account): Connector,
    body: Body,
) -> Result<Json<AckedDto>, ApiError> {
    let bytes = read_body(body, door.app.config.max_body_bytes).await?;
    let request: AckRequest = parse_json(&bytes)?;
    let acknowledged = door.app.core.ack_connector_outbox(&account, request.into_pairs()).await?;
    Ok(Json(AckedDto { acknowledged }))
}
