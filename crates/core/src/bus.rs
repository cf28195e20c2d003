//! The event bus: how events reach every door on every node. The core publishes after the store
//! commit; each node subscribes and renders events for its own connections.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures_core::Stream;

use crate::event::Event;

/// Every event published after the subscription began, in publish order (per publisher).
pub type EventStream = Pin<Box<dyn Stream<Item = Arc<Event>> + Send>>;

#[derive(Debug, thiserror::Error)]
#[error("event bus: {0}")]
pub struct BusError(pub String);

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// What the bus is, for logs: `in-process`, `redis://host:6379`…
    fn describe(&self) -> String;

    async fn publish(&self, event: Event) -> Result<(), BusError>;

    fn subscribe(&self) -> EventStream;

    /// Whether the bus can carry events right now (readiness).
    async fn check(&self) -> Result<(), BusError>;
}
