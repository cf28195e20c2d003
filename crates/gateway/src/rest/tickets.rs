//! `/api/admin/tickets`: the support desk's admin API. Admins of the tenant list tickets with
//! filters, assign them and change their status; the support desk hears of every change
//! (STATUS_CHANGED, TICKET_UPDATED). Anyone else is answered 403. A ticket's messages are its
//! conversation's: `/api/conversations/{id}/messages`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use chatgate_core::Timestamp;
use chatgate_core::model::Ticket;
use chatgate_core::service::TicketFilter;
use serde::{Deserialize, Serialize};

use super::dto::CursorPage;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, present};
use crate::http::problem::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/tickets", get(list))
        .route("/api/admin/tickets/{id}", get(get_one))
        .route("/api/admin/tickets/{id}/assign", post(assign))
        .route("/api/admin/tickets/{id}/status", post(set_status))
}

/// A ticket over REST (camelCase like the rest of `/api`; every field always present).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketDto {
    pub id: String,
    pub title: String,
    pub category: &'static str,
    pub priority: &'static str,
    pub status: &'static str,
    pub user_id: String,
    pub user_name: Option<String>,
    pub guest_name: Option<String>,
    pub guest_email: Option<String>,
    pub assignee_id: Option<String>,
    pub admin_name: Option<String>,
    /// Messages of the requester the tenant's admins have not read (in listings).
    pub unread_count: Option<u64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Ticket> for TicketDto {
    fn from(t: Ticket) -> Self {
        TicketDto {
            id: t.id,
            title: t.facet.title,
            category: t.facet.category.as_str(),
            priority: t.facet.priority.as_str(),
            status: t.facet.status.as_str(),
            user_id: t.facet.requester_id,
            user_name: t.user_name,
            guest_name: t.facet.guest_name,
            guest_email: t.facet.guest_email,
            assignee_id: t.facet.assigned_admin_id,
            admin_name: t.admin_name,
            unread_count: t.unread_count,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    status: Option<String>,
    category: Option<String>,
    priority: Option<String>,
    assignee_id: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<CursorPage<TicketDto>>, ApiError> {
    let filter = TicketFilter {
        status: q.status,
        category: q.category,
        priority: q.priority,
        assignee_id: q.assignee_id,
        limit: q.limit,
        cursor: q.cursor,
    };
    let page = state.core.admin_tickets(&caller, filter).await?;
    Ok(Json(CursorPage::from_page(page, TicketDto::from)))
}

pub async fn get_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TicketDto>, ApiError> {
    Ok(Json(state.core.admin_ticket(&caller, &id).await?.into()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignRequest {
    /// Required; `null` unassigns.
    #[serde(default, deserialize_with = "present")]
    admin_id: Option<Option<String>>,
}

pub async fn assign(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AssignRequest>,
) -> Result<Json<TicketDto>, ApiError> {
    let admin_id =
        body.admin_id.ok_or_else(|| ApiError::validation("adminId", "is required (null unassigns)"))?;
    Ok(Json(state.core.assign_ticket(&caller, &id, admin_id.as_deref()).await?.into()))
}

#[derive(Deserialize)]
pub struct StatusRequest {
    status: String,
}

pub async fn set_status(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<StatusRequest>,
) -> Result<Json<TicketDto>, ApiError> {
    Ok(Json(state.core.set_ticket_status(&caller, &id, &body.status).await?.into()))
}
