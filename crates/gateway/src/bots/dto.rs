//! The Bot API's payload shapes (seed 002 sections 9 and 16), and chatgate's bot-side answers.

use chatgate_core::Timestamp;
use chatgate_core::model::Bot;
use chatgate_core::service::BotListing;
use serde::Serialize;
use serde_json::{Map, Value};

/// Seed 002 `BotDto`: no names (they are the participant's), and nothing about how the bot is
/// reached, since the listing is public.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BotDto {
    pub id: String,
    pub participant_id: String,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub kafka_topic: String,
    pub is_active: bool,
    pub listen_all_group_messages: bool,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&Bot> for BotDto {
    fn from(b: &Bot) -> Self {
        BotDto {
            id: b.id.clone(),
            participant_id: b.participant_id.clone(),
            description: b.description.clone(),
            metadata: b.metadata.clone(),
            kafka_topic: b.topic.clone(),
            is_active: b.is_active,
            listen_all_group_messages: b.listen_all_group_messages,
            created_by: b.created_by.clone(),
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

/// What developers get back from create and update: the `BotDto` and the webhook address; on
/// create only, the webhook secret (it is never shown again).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedBotDto {
    #[serde(flatten)]
    pub bot: BotDto,
    pub webhook_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl ManagedBotDto {
    pub fn new(bot: &Bot, with_secret: bool) -> Self {
        ManagedBotDto {
            bot: BotDto::from(bot),
            webhook_url: bot.webhook_url.clone(),
            webhook_secret: with_secret.then(|| bot.webhook_secret.clone()),
        }
    }
}

/// Seed 002 `PagedResult<T>`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PagedResult<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub page_size: u32,
    pub total_count: u64,
}

impl From<BotListing> for PagedResult<BotDto> {
    fn from(l: BotListing) -> Self {
        PagedResult {
            items: l.items.iter().map(BotDto::from).collect(),
            page: l.page,
            page_size: l.page_size,
            total_count: l.total_count,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BotTokenDto {
    pub token: String,
    pub expires_at: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartedStreamDto {
    pub stream_id: String,
    pub message_id: String,
}
