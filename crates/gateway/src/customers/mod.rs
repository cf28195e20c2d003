//! The customer gateway (seed 003): customer tokens, the `/ws/chat` WebSocket and the agents'
//! customer API, answering in the `{success, data}` envelope.

pub mod chat;
pub mod envelope;
pub mod rest;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// What the customer door's handlers reach: the app, and the sockets open on this node.
#[derive(Clone)]
pub struct CustomerDoor {
    pub app: AppState,
    pub sockets: Arc<chat::CustomerSockets>,
}

impl CustomerDoor {
    /// Starts rendering core events for customer sockets.
    pub fn start(app: AppState) -> CustomerDoor {
        let sockets = Arc::new(chat::CustomerSockets::default());
        tokio::spawn(chat::render(app.core.subscribe(), sockets.clone()));
        CustomerDoor { app, sockets }
    }

    pub fn routes(&self) -> Router<AppState> {
        let api = Router::new()
            .route("/api/v1/public/customer-token", post(rest::public_token))
            .route("/api/v1/customers", get(rest::list).post(rest::create))
            .route("/api/v1/customers/{id}", get(rest::get).put(rest::update))
            .route("/api/v1/customers/{id}/token", post(rest::token))
            .route("/api/v1/customers/{id}/conversations", get(rest::conversations))
            .with_state(self.app.clone());
        let ws = Router::new().route("/ws/chat", get(chat::connect)).with_state(self.clone());
        api.merge(ws)
    }
}
