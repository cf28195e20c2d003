//! The store's bot area: bot rows beside their participants.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{Bot, Participant};

/// One page of the bot listing and how many bots there are in all.
#[derive(Clone, Debug, PartialEq)]
pub struct BotPage {
    pub items: Vec<Bot>,
    pub total: u64,
}

#[async_trait]
pub trait BotStore: Send + Sync + 'static {
    /// Creates the bot and its participant together; `Conflict` if the participant's unique name
    /// or the bot's topic is taken.
    async fn create_bot(&self, bot: &Bot, participant: &Participant) -> StoreResult<()>;
    /// The bot by id, deleted or not.
    async fn bot(&self, tenant: &str, id: &str) -> StoreResult<Option<Bot>>;
    /// The bot that speaks as this participant, deleted or not.
    async fn bot_by_participant(&self, tenant: &str, participant_id: &str) -> StoreResult<Option<Bot>>;
    /// Bots that are not deleted, oldest first, skipping `offset`.
    async fn list_bots(&self, tenant: &str, offset: u64, limit: u32) -> StoreResult<BotPage>;
    /// Writes the bot row (everything but its id, tenant, participant, topic and creation) and,
    /// when given, its participant, in one transaction; `Conflict` if the unique name is taken.
    async fn update_bot(&self, bot: &Bot, participant: Option<&Participant>) -> StoreResult<()>;
    /// Active, undeleted bots of the tenant that are active participants of the conversation or
    /// listen to every conversation.
    async fn bots_hearing(&self, tenant: &str, conversation_id: &str) -> StoreResult<Vec<Bot>>;
}
