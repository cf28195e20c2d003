//! chatgate-bus: how events travel from the core to every door.
//!
//! [`InProcessBus`] serves a single node. Distributed buses (Redis, NATS) implement the same
//! [`Bus`] trait and carry the same events serialized, so no door knows which one runs.

use std::sync::Arc;

use async_trait::async_trait;
use chatgate_core::bus::{Bus, BusError, EventStream};
use chatgate_core::event::Event;
use tokio::sync::broadcast;

/// Fan-out inside one process. Subscribers that fall more than `capacity` events behind skip the
/// oldest ones (and log it): real-time delivery is best-effort, history is the record.
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl InProcessBus {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(16));
        InProcessBus { sender }
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        InProcessBus::new(16_384)
    }
}

#[async_trait]
impl Bus for InProcessBus {
    fn describe(&self) -> String {
        "in-process".to_owned()
    }

    async fn publish(&self, event: Event) -> Result<(), BusError> {
        // No subscriber is not an error: nobody is listening yet.
        let _ = self.sender.send(Arc::new(event));
        Ok(())
    }

    fn subscribe(&self) -> EventStream {
        let receiver = self.sender.subscribe();
        Box::pin(futures_util::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, receiver)),
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "a bus subscriber fell behind and skipped events");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }))
    }

    async fn check(&self) -> Result<(), BusError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatgate_core::event::{EventKind, PinEvent};
    use futures_util::StreamExt;

    fn pin(n: usize) -> Event {
        Event {
            tenant: "t".into(),
            kind: EventKind::ConversationPinned(PinEvent {
                conversation_id: format!("c{n}"),
                participant_id: "p".into(),
                pinned_at: None,
            }),
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_later_event_in_order() {
        let bus = InProcessBus::new(64);
        bus.publish(pin(0)).await.unwrap(); // before anyone listens: nobody gets it
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        for n in 1..=3 {
            bus.publish(pin(n)).await.unwrap();
        }
        for stream in [&mut a, &mut b] {
            for n in 1..=3 {
                assert_eq!(stream.next().await.unwrap().kind.conversation_id(), format!("c{n}"));
            }
        }
    }

    #[tokio::test]
    async fn a_slow_subscriber_skips_ahead_instead_of_blocking() {
        let bus = InProcessBus::new(16);
        let mut slow = bus.subscribe();
        for n in 0..40 {
            bus.publish(pin(n)).await.unwrap();
        }
        // The oldest events were dropped for this subscriber; it resumes with the newest ones.
        assert_eq!(slow.next().await.unwrap().kind.conversation_id(), "c24");
    }
}
