//! `GET /api/bots/me/events`: a bot's deliveries as Server-Sent Events, for bots that cannot
//! take webhooks. Each delivery is one `message` event whose data is the webhook's body. A stream
//! receives every delivery made after its response headers were sent: it is registered before
//! the handler returns.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chatgate_core::CoreError;
use chatgate_core::model::BotAddress;
use futures_util::Stream;
use tokio::sync::broadcast;

use super::delivery::{Delivery, Outlet};
use crate::http::problem::ApiError;
use crate::rest::extract::Caller;
use crate::state::AppState;

/// Deliveries a slow event stream may fall behind by before it skips the oldest.
const STREAM_BACKLOG: usize = 256;

/// The open event streams of this node, by bot.
pub struct EventStreams {
    max_per_bot: usize,
    by_bot: Mutex<HashMap<String, broadcast::Sender<Arc<Delivery>>>>,
}

impl EventStreams {
    pub fn new(max_per_bot: usize) -> EventStreams {
        EventStreams { max_per_bot: max_per_bot.max(1), by_bot: Mutex::new(HashMap::new()) }
    }

    fn key(tenant: &str, participant_id: &str) -> String {
        format!("{tenant}\n{participant_id}")
    }

    fn subscribe(
        &self,
        tenant: &str,
        participant_id: &str,
    ) -> Result<broadcast::Receiver<Arc<Delivery>>, CoreError> {
        let mut by_bot = self.by_bot.lock().unwrap_or_else(|p| p.into_inner());
        let sender = by_bot
            .entry(Self::key(tenant, participant_id))
            .or_insert_with(|| broadcast::channel(STREAM_BACKLOG).0);
        if sender.receiver_count() >= self.max_per_bot {
            return Err(CoreError::conflict(
                "Bot.TooManyEventStreams",
                format!("A bot may hold at most {} event streams open", self.max_per_bot),
            ));
        }
        Ok(sender.subscribe())
    }
}

impl Outlet for EventStreams {
    fn deliver(&self, bot: &BotAddress, delivery: &Arc<Delivery>) {
        let mut by_bot = self.by_bot.lock().unwrap_or_else(|p| p.into_inner());
        let key = Self::key(&delivery.tenant, &bot.participant_id);
        if let Some(sender) = by_bot.get(&key) {
            if sender.receiver_count() == 0 {
                by_bot.remove(&key);
            } else {
                let _ = sender.send(delivery.clone());
            }
        }
    }
}

pub async fn connect(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let bot = state.core.acting_bot(&caller).await?;
    let receiver = state.bots.event_streams.subscribe(&bot.tenant, &bot.participant_id)?;
    tracing::debug!(bot = %bot.id, "bot event stream opened");
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(delivery) => {
                    let data = String::from_utf8_lossy(&delivery.body).into_owned();
                    let event = Event::default().event("message").id(delivery.id.clone()).data(data);
                    return Some((Ok(event), receiver));
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(skipped, "a bot's event stream fell behind and skipped deliveries");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
