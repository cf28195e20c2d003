//! The Chat Gateway REST API (seed 002 sections 4–7, 11; DESIGN 4.1). Handlers are thin: the
//! extractors authenticate and parse, the handler makes one core call, `dto` renders the answer
//! and `ApiError` renders any failure as RFC 7807.

mod accounts;
mod auth;
mod conversations;
pub mod dto;
pub mod extract;
mod files;
mod health;
mod messages;
mod participants;
mod tickets;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::http::problem::ApiError;
use crate::http::trace::with_trace_id;
use crate::state::AppState;

/// The REST API plus `realtime` (routes of the real-time doors), behind the shared layers.
pub fn router(state: AppState, realtime: Router<AppState>) -> Router {
    let api = Router::new()
        .route("/api/auth/dev", post(auth::dev_login))
        .route("/api/auth/{provider}", post(auth::provider_login))
        .route("/api/participants", post(participants::upsert))
        .route("/api/participants/batch", post(participants::batch))
        .route("/api/participants/by-unique-name/{unique_name}", get(participants::get_by_unique_name))
        .route("/api/participants/{id}", get(participants::get))
        .route("/api/conversations", get(conversations::list).post(conversations::create))
        .route("/api/conversations/search", get(conversations::search))
        .route(
            "/api/conversations/{id}",
            get(conversations::get).put(conversations::update).delete(conversations::leave),
        )
        .route("/api/conversations/{id}/leave", post(conversations::leave))
        .route(
            "/api/conversations/{id}/participants",
            get(conversations::participants).post(conversations::add_participant),
        )
        .route(
            "/api/conversations/{id}/participants/{participant_id}",
            axum::routing::delete(conversations::remove_participant),
        )
        .route("/api/conversations/{id}/pin", post(conversations::pin).delete(conversations::unpin))
        .route("/api/conversations/{id}/media", get(conversations::media))
        .route("/api/conversations/{id}/messages", get(messages::history).post(messages::send))
        .route("/api/conversations/{id}/messages/search", get(messages::search))
        .route("/api/messages/{id}", get(messages::get).put(messages::edit).delete(messages::delete))
        .route("/api/messages/{id}/recover", post(messages::recover))
        .route("/api/messages/{id}/reactions", post(messages::add_reaction))
        .route("/api/messages/{id}/reactions/{emoji}", axum::routing::delete(messages::remove_reaction))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .merge(files::routes(state.core.limits().max_file_bytes))
        .merge(accounts::routes())
        .merge(tickets::routes())
        .merge(realtime)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);

    // Signed media URLs are added to answers on their way out (see `files::media_urls`).
    api.layer(middleware::from_fn_with_state(state.clone(), crate::files::media_urls::sign_responses))
        .layer(middleware::from_fn_with_state(state.clone(), limit_per_ip))
        .layer(middleware::from_fn(with_trace_id))
        .with_state(state)
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("No route for {} {}", request.method(), request.uri().path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

async fn limit_per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(ip) = ip
        && let Err(wait) = state.rate_limits.check_ip(ip)
    {
        return ApiError::too_many_requests(wait).into_response();
    }
    next.run(request).await
}
