//! Delivering messages to bots. One task follows the core's events; for every new message (a
//! `MessageCreated`, or a bot stream's `StreamCompleted`) it asks the core which bots hear of it,
//! renders the delivery once and gives it to every outlet.
//!
//! Outlets are where a bot can be reached: the webhook (an HMAC-signed POST, retried with
//! backoff), the bot's open event streams (SSE) and, when configured, the Redis stream of the
//! bot's `kafkaTopic` (`topics.rs`).
//!
//! Deliveries are best-effort and at-least-once for webhooks (a retry after a lost answer sends
//! the same `X-Chatgate-Delivery` id again); a bot that was down catches up from history.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chatgate_core::model::{BotAddress, Message};
use chatgate_core::{Core, EventStream};
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::Semaphore;

use super::BotSettings;
use crate::rest::dto::MessageDto;

/// One message for the bots that hear of it, rendered once.
pub struct Delivery {
    /// A fresh id per delivery (not per try): lets a webhook drop a retried duplicate.
    pub id: String,
    pub tenant: String,
    pub conversation_id: String,
    /// `{type: "message", conversationId, message: MessageDto}` as JSON.
    pub body: Bytes,
}

/// Somewhere a delivery can go. `deliver` must not block: slow work is spawned.
pub trait Outlet: Send + Sync + 'static {
    fn deliver(&self, bot: &BotAddress, delivery: &Arc<Delivery>);
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    conversation_id: &'a str,
    message: MessageDto,
}

/// Follows the events until the bus closes.
pub async fn run(mut events: EventStream, core: Arc<Core>, outlets: Vec<Arc<dyn Outlet>>) {
    while let Some(event) = events.next().await {
        let Some(created) = event.kind.new_message() else { continue };
        let message: &Message = &created.message;
        let bots = match core.bots_hearing(&event.tenant, message).await {
            Ok(bots) if bots.is_empty() => continue,
            Ok(bots) => bots,
            Err(e) => {
                tracing::warn!(error = %e, message = %message.id, "could not find the bots to deliver to");
                continue;
            }
        };
        let body = DeliveryBody {
            kind: "message",
            conversation_id: &message.conversation_id,
            message: MessageDto::from(message.clone()),
        };
        let body = match serde_json::to_vec(&body) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                tracing::error!(error = %e, "could not render a bot delivery");
                continue;
            }
        };
        let delivery = Arc::new(Delivery {
            id: chatgate_core::ids::new_id(),
            tenant: event.tenant.clone(),
            conversation_id: message.conversation_id.clone(),
            body,
        });
        for bot in &bots {
            for outlet in &outlets {
                outlet.deliver(bot, &delivery);
            }
        }
    }
}

/// `X-Chatgate-Signature`: `sha256=` and the lowercase hex HMAC-SHA256 of the raw body, keyed
/// with the UTF-8 bytes of the webhook secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; the error branch cannot happen.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs deliveries to bots' webhook URLs, retrying failures with exponential backoff.
pub struct WebhookOutlet {
    client: reqwest::Client,
    settings: BotSettings,
    in_flight: Arc<Semaphore>,
}

impl WebhookOutlet {
    pub fn new(settings: &BotSettings) -> WebhookOutlet {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.webhook_timeout_ms.max(100)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("chatgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "webhook client: falling back to the default HTTP client");
                reqwest::Client::new()
            });
        WebhookOutlet {
            client,
            settings: settings.clone(),
            in_flight: Arc::new(Semaphore::new(settings.max_webhooks_in_flight.max(1))),
        }
    }
}

impl Outlet for WebhookOutlet {
    fn deliver(&self, bot: &BotAddress, delivery: &Arc<Delivery>) {
        let Some(url) = bot.webhook_url.clone() else { return };
        if delivery.body.len() > self.settings.max_webhook_body_bytes {
            tracing::warn!(
                bot = %bot.bot_id,
                bytes = delivery.body.len(),
                "delivery larger than max_webhook_body_bytes; not sent to the webhook"
            );
            return;
        }
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            tracing::warn!(bot = %bot.bot_id, "too many webhook deliveries under way; this one is dropped");
            return;
        };
        let client = self.client.clone();
        let settings = self.settings.clone();
        let signature = signature(&bot.webhook_secret, &delivery.body);
        let bot_id = bot.bot_id.clone();
        let delivery = delivery.clone();
        tokio::spawn(async move {
            let _permit = permit;
            post_with_retries(&client, &settings, &url, &bot_id, &signature, &delivery).await;
        });
    }
}

async fn post_with_retries(
    client: &reqwest::Client,
    settings: &BotSettings,
    url: &str,
    bot_id: &str,
    signature: &str,
    delivery: &Delivery,
) {
    let attempts = settings.webhook_max_attempts.max(1);
    let mut backoff = Duration::from_millis(settings.webhook_initial_backoff_ms);
    let max_backoff =
        Duration::from_millis(settings.webhook_max_backoff_ms.max(settings.webhook_initial_backoff_ms));
    for attempt in 1..=attempts {
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Chatgate-Signature", signature)
            .header("X-Chatgate-Delivery", &delivery.id)
            .header("X-Chatgate-Bot", bot_id)
            .header("X-Chatgate-Attempt", attempt.to_string())
            .body(delivery.body.clone())
            .send()
            .await;
        let retry = match &sent {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(bot = bot_id, delivery = %delivery.id, attempt, "webhook delivered");
                return;
            }
            // The bot said no: trying again would say no again.
            Ok(r) if r.status().is_client_error() && !matches!(r.status().as_u16(), 408 | 429) => false,
            Ok(_) | Err(_) => true,
        };
        let outcome = match &sent {
            Ok(r) => format!("answered {}", r.status()),
            Err(e) if e.is_timeout() => "timed out".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
        if !retry || attempt == attempts {
            tracing::warn!(bot = bot_id, delivery = %delivery.id, attempt, "webhook {outcome}; giving up");
            return;
        }
        tracing::info!(bot = bot_id, delivery = %delivery.id, attempt, "webhook {outcome}; retrying in {backoff:?}");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(max_backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
