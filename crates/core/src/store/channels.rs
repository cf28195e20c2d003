//! The store's channel area: channel accounts, their chats and the outbox of replies.

use async_trait::async_trait;

use super::{Appended, StoreResult};
use crate::model::*;
use crate::time::Timestamp;

#[async_trait]
pub trait ChannelStore: Send + Sync + 'static {
    /// Creates the account with the participant that speaks for it; `Conflict` if another
    /// account of the type has the same `external_id`.
    async fn create_channel_account(
        &self,
        account: &ChannelAccount,
        speaker: &Participant,
    ) -> StoreResult<()>;
    async fn channel_account(&self, tenant: &str, id: &str) -> StoreResult<Option<ChannelAccount>>;
    /// The account whose connector key has this hash.
    async fn channel_account_by_key(&self, key_hash: &str) -> StoreResult<Option<ChannelAccount>>;
    /// The tenant's accounts, oldest first, at most `limit`.
    async fn channel_accounts(&self, tenant: &str, limit: u32) -> StoreResult<Vec<ChannelAccount>>;
    async fn set_connector_key(
        &self,
        tenant: &str,
        id: &str,
        key_hash: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Records a session report and returns the account as it now is.
    async fn set_channel_session(
        &self,
        tenant: &str,
        id: &str,
        session: &ChannelSession,
        at: Timestamp,
    ) -> StoreResult<ChannelAccount>;

    /// The chat of `(chat.account_id, chat.external_chat_id)`; if there is none, `conversation`
    /// is created with `members` and `chat` (then `true`). Atomic: one outside chat is one
    /// conversation.
    async fn open_channel_chat(
        &self,
        chat: &ChannelChat,
        conversation: &Conversation,
        members: &[Membership],
    ) -> StoreResult<(ChannelChat, bool)>;
    async fn channel_chat(&self, conversation_id: &str) -> StoreResult<Option<ChannelChat>>;
    /// The account's chats that have a last message, by activity (newest first), then id.
    async fn channel_chats(&self, account_id: &str, query: &ChatQuery) -> StoreResult<Vec<ChannelChat>>;
    /// Appends a message of a channel conversation and applies `change` to its chat, in one
    /// transaction; with `outbox`, the reply's outbox entry is written in it too (numbered next
    /// in the account's outbox). A message whose
    /// external id (or client message id) the conversation already has is not appended again
    /// and changes nothing. Returns the chat as it now is (`None` if the conversation has none).
    async fn append_channel_message(
        &self,
        message: &NewMessage,
        change: &ChatChange,
        outbox: Option<&OutboxEntry>,
    ) -> StoreResult<(Appended, Option<ChannelChat>)>;
    /// Sets the chat's unread count to 0; returns the chat and whether it changed.
    async fn mark_channel_chat_read(&self, conversation_id: &str)
    -> StoreResult<Option<(ChannelChat, bool)>>;

    /// The account's unacknowledged outbox entries with a `seq` above `after`, in order.
    async fn outbox(&self, account_id: &str, after: i64, limit: u32) -> StoreResult<Vec<OutboxEntry>>;
    /// Removes the acknowledged entries of the account (unknown ids are ignored) and gives each
    /// delivered message its platform id, unless the conversation already has a message with
    /// that id. Returns how many entries were removed.
    async fn ack_outbox(&self, account_id: &str, acks: &[OutboxAck]) -> StoreResult<u32>;
}
