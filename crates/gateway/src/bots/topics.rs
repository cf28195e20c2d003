//! The topic outlet: every delivery also becomes an entry of a Redis stream named after the
//! bot's topic (the API's `kafkaTopic`), so a bot, or a group of its consumers, can read with
//! `XREAD`/`XREADGROUP` what arrived while it was away. Each entry has the fields `id` (the
//! delivery id), `tenant`, `conversationId`, `botId` and `body` (the webhook's JSON).
//!
//! One task writes the entries in delivery order over one multiplexed connection, which it
//! opens again after a failure. Streams are capped (`MAXLEN ~`); a delivery that finds the
//! queue full, or Redis unreachable, is logged and dropped: bots catch up from history.

use std::sync::Arc;
use std::time::Duration;

use chatgate_core::model::BotAddress;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;

use super::delivery::{Delivery, Outlet};

/// Deliveries waiting for Redis; more are dropped.
const QUEUE: usize = 4096;

struct Entry {
    topic: String,
    bot_id: String,
    delivery: Arc<Delivery>,
}

pub struct RedisTopicOutlet {
    queue: mpsc::Sender<Entry>,
}

/// Whether `url` is a Redis URL the outlet can use; the error says how to write one.
pub fn check_topic_url(url: &str) -> Result<(), String> {
    client(url).map(|_| ())
}

fn client(url: &str) -> Result<redis::Client, String> {
    redis::Client::open(url).map_err(|e| {
        format!(
            "bots.topic_redis_url `{}` is not a Redis URL ({e}); write redis://host:port/db",
            redacted(url)
        )
    })
}

/// The URL without its password, for logs.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

impl RedisTopicOutlet {
    /// Connects on the first delivery, and again after a failure.
    pub fn start(url: &str, max_len: usize) -> Result<RedisTopicOutlet, String> {
        let client = client(url)?;
        let (queue, entries) = mpsc::channel(QUEUE);
        tokio::spawn(write_entries(client, entries, max_len.max(1)));
        Ok(RedisTopicOutlet { queue })
    }
}

impl Outlet for RedisTopicOutlet {
    fn deliver(&self, bot: &BotAddress, delivery: &Arc<Delivery>) {
        let entry =
            Entry { topic: bot.topic.clone(), bot_id: bot.bot_id.clone(), delivery: delivery.clone() };
        if self.queue.try_send(entry).is_err() {
            tracing::warn!(bot = %bot.bot_id, topic = %bot.topic, "topic outlet queue full; delivery dropped");
        }
    }
}

async fn write_entries(client: redis::Client, mut entries: mpsc::Receiver<Entry>, max_len: usize) {
    let mut connection: Option<MultiplexedConnection> = None;
    while let Some(entry) = entries.recv().await {
        if connection.is_none() {
            match client.get_multiplexed_async_connection().await {
                Ok(c) => connection = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, topic = %entry.topic, "cannot reach Redis for bot topics; delivery dropped");
                    // Not once per queued delivery while Redis is down.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let Some(c) = connection.as_mut() else { continue };
        let d = &entry.delivery;
        let added: redis::RedisResult<String> = redis::cmd("XADD")
            .arg(&entry.topic)
            .arg("MAXLEN")
            .arg("~")
            .arg(max_len)
            .arg("*")
            .arg("id")
            .arg(&d.id)
            .arg("tenant")
            .arg(&d.tenant)
            .arg("conversationId")
            .arg(&d.conversation_id)
            .arg("botId")
            .arg(&entry.bot_id)
            .arg("body")
            .arg(d.body.as_ref())
            .query_async(c)
            .await;
        if let Err(e) = added {
            tracing::warn!(error = %e, topic = %entry.topic, "bot topic entry not written; delivery dropped");
            connection = None;
        }
    }
}
