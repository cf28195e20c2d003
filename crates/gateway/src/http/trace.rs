//! Request ids. Every request runs inside a span carrying a fresh W3C-style trace id; error
//! answers repeat it as `traceId`, so a user's report leads straight to the log lines.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

tokio::task_local! {
    static TRACE_ID: String;
}

/// The trace id of the request being handled (a fresh one outside any request).
pub fn current_trace_id() -> String {
    TRACE_ID.try_with(Clone::clone).unwrap_or_else(|_| new_trace_id())
}

pub fn new_trace_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub async fn with_trace_id(request: Request, next: Next) -> Response {
    let trace_id = new_trace_id();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        trace_id = %trace_id,
    );
    TRACE_ID
        .scope(trace_id, async move {
            let response = next.run(request).await;
            let status = response.status();
            if status.is_server_error() {
                tracing::error!(status = status.as_u16(), "request failed");
            } else {
                tracing::debug!(status = status.as_u16(), "request done");
            }
            response
        })
        .instrument(span)
        .await
}
