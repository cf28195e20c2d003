//! `/api/participants`: create or update, get by id or unique name, get a batch.

use axum::Json;
use axum::extract::State;
use chatgate_core::model::MediaReference;
use chatgate_core::service::ParticipantInput;
use serde::Deserialize;

use super::dto::ParticipantDto;
use super::extract::{ApiJson, ApiPath, Caller};
use crate::http::problem::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertParticipantRequest {
    id: String,
    unique_name: String,
    full_name: String,
    #[serde(default)]
    avatar: Option<MediaReference>,
    #[serde(default)]
    gender: Option<String>,
}

pub async fn upsert(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<UpsertParticipantRequest>,
) -> Result<Json<ParticipantDto>, ApiError> {
    let input = ParticipantInput {
        id: body.id,
        unique_name: body.unique_name,
        full_name: body.full_name,
        avatar: body.avatar,
        gender: body.gender,
    };
    Ok(Json(state.core.upsert_participant(&caller, input).await?.into()))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ParticipantDto>, ApiError> {
    Ok(Json(state.core.participant(&caller, &id).await?.into()))
}

pub async fn get_by_unique_name(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(unique_name): ApiPath<String>,
) -> Result<Json<ParticipantDto>, ApiError> {
    Ok(Json(state.core.participant_by_unique_name(&caller, &unique_name).await?.into()))
}

#[derive(Deserialize)]
pub struct BatchRequest {
    ids: Vec<String>,
}

pub async fn batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<BatchRequest>,
) -> Result<Json<Vec<ParticipantDto>>, ApiError> {
    let found = state.core.participants(&caller, &body.ids).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}
