//! Bots: automated participants. A bot is a participant of kind `Bot` (its name and avatar live
//! there) plus this row: how it is reached, whether it listens, who registered it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::TenantId;
use crate::ids::ParticipantId;
use crate::time::Timestamp;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bot {
    pub tenant: TenantId,
    /// The bot's own id (a ULID); `participant_id` names it in conversations.
    pub id: String,
    pub participant_id: ParticipantId,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    /// Where deliveries go on a distributed bus (`kafkaTopic` in the API). Fixed at creation.
    pub topic: String,
    pub is_active: bool,
    /// Receives every message of its tenant's conversations, not only those it takes part in.
    pub listen_all_group_messages: bool,
    pub created_by: ParticipantId,
    /// Deliveries are POSTed here, signed with `webhook_secret`, when set.
    pub webhook_url: Option<String>,
    /// Keys the HMAC of webhook bodies. Shown once, when the bot is created.
    pub webhook_secret: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Soft delete: a deleted bot is neither listed nor delivered to, and its tokens stop working
    /// for the bot API.
    pub deleted_at: Option<Timestamp>,
}

impl Bot {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// Whether deliveries reach it now: inactive bots' deliveries are dropped, not queued.
    pub fn receives(&self) -> bool {
        self.is_active && !self.is_deleted()
    }
}

/// Where one delivery to one bot goes: everything an outlet needs, without another lookup.
#[derive(Clone, Debug, PartialEq)]
pub struct BotAddress {
    pub bot_id: String,
    pub participant_id: ParticipantId,
    pub topic: String,
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
}

impl From<&Bot> for BotAddress {
    fn from(b: &Bot) -> Self {
        BotAddress {
            bot_id: b.id.clone(),
            participant_id: b.participant_id.clone(),
            topic: b.topic.clone(),
            webhook_url: b.webhook_url.clone(),
            webhook_secret: b.webhook_secret.clone(),
        }
    }
}
