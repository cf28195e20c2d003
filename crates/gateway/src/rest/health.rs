//! `/health/live` and `/health/ready`: plain text `Healthy` / `Degraded` / `Unhealthy`, 503 only
//! when unhealthy (the ASP.NET Core health-check writer the seed's SDK expects).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chatgate_core::Health;

use crate::state::AppState;

pub async fn live() -> impl IntoResponse {
    text(Health::Healthy)
}

/// Ready when the store answers and the bus carries events.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    text(state.core.health().await)
}

fn text(health: Health) -> impl IntoResponse {
    let status = if health == Health::Unhealthy { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], health.as_str())
}
