//! The store's chat area: participants and logins, conversations, memberships, messages.

use async_trait::async_trait;

use super::*;
use crate::ids::ParticipantId;
use crate::model::*;
use crate::time::Timestamp;

/// Participants, logins, conversations and messages.
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    // Participants and credentials.
    async fn participant(&self, tenant: &str, id: &str) -> StoreResult<Option<Participant>>;
    async fn participant_by_unique_name(
        &self,
        tenant: &str,
        unique_name: &str,
    ) -> StoreResult<Option<Participant>>;
    /// The participants that exist among `ids`, in no particular order.
    async fn participants(&self, tenant: &str, ids: &[ParticipantId]) -> StoreResult<Vec<Participant>>;
    /// Creates or replaces by `(tenant, id)`; `Conflict` if the unique name belongs to another.
    async fn upsert_participant(&self, participant: &Participant) -> StoreResult<Participant>;
    /// Creates the participant unless one with that id exists; returns the stored one.
    async fn insert_participant_if_absent(&self, participant: &Participant) -> StoreResult<Participant>;
    async fn credential(&self, tenant: &str, username: &str) -> StoreResult<Option<Credential>>;
    /// The credentials with this username in any tenant, at most `limit` (password grants
    /// name no tenant).
    async fn credentials_named(&self, username: &str, limit: u32) -> StoreResult<Vec<Credential>>;
    /// Creates the participant and its credential together; `Conflict` if either exists.
    async fn insert_credential(&self, credential: &Credential, participant: &Participant) -> StoreResult<()>;

    // Conversations.
    async fn create_conversation(
        &self,
        conversation: &Conversation,
        members: &[Membership],
    ) -> StoreResult<()>;
    async fn conversation(&self, id: &str) -> StoreResult<Option<ConversationDetails>>;
    /// The conversation and one participant's membership in it (if any): what an access check
    /// needs, without reading every member.
    async fn conversation_for(
        &self,
        id: &str,
        participant_id: &str,
    ) -> StoreResult<Option<(Conversation, Option<Membership>)>>;
    /// The ids of the conversation's active participants.
    async fn active_member_ids(&self, conversation_id: &str) -> StoreResult<Vec<ParticipantId>>;
    async fn membership(
        &self,
        conversation_id: &str,
        participant_id: &str,
    ) -> StoreResult<Option<Membership>>;
    /// Applies the change and appends the system messages that record it, in one transaction.
    async fn update_conversation(
        &self,
        update: &ConversationUpdate,
        system_messages: &[NewMessage],
    ) -> StoreResult<Vec<Message>>;
    /// (Re)activates the membership, seeing from the current end of the log, and appends the
    /// system message that records it.
    async fn join_conversation(
        &self,
        conversation_id: &str,
        participant_id: &str,
        at: Timestamp,
        system_message: &NewMessage,
    ) -> StoreResult<Message>;
    /// Deactivates the membership and appends the system message that records it.
    async fn leave_conversation(
        &self,
        conversation_id: &str,
        participant_id: &str,
        at: Timestamp,
        system_message: &NewMessage,
    ) -> StoreResult<Message>;
    async fn set_pinned(
        &self,
        conversation_id: &str,
        participant_id: &str,
        pinned_at: Option<Timestamp>,
    ) -> StoreResult<()>;
    /// The participant's active conversations: pinned first, then by latest activity, after
    /// `after`.
    async fn list_conversations(
        &self,
        tenant: &str,
        participant_id: &str,
        after: Option<&ListPosition>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationListEntry>>;
    /// The participant's active conversations whose name, or a participant's name, contains
    /// `query` (case-insensitively).
    async fn search_conversations(
        &self,
        tenant: &str,
        participant_id: &str,
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<ConversationListEntry>>;

    // Messages.
    /// Appends with the next `seq`, unless the idempotency key exists.
    async fn append_message(&self, message: &NewMessage) -> StoreResult<Appended> {
        self.submit_message(message).await?.await
    }
    /// Hands an append to the store and returns once it is queued, with its commit to await.
    /// Appends are committed in the order they were handed over, so a caller that hands them
    /// over in order (under a conversation's lock) need not wait for one before the next.
    async fn submit_message(&self, message: &NewMessage) -> StoreResult<Submitted<Appended>>;
    async fn message(&self, id: &str) -> StoreResult<Option<Message>>;
    async fn messages(&self, conversation_id: &str, range: &MessageRange) -> StoreResult<Vec<Message>>;
    /// Full-text search over visible, undeleted messages, newest first.
    async fn search_messages(
        &self,
        conversation_id: &str,
        floor_seq: i64,
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    async fn edit_message(&self, edit: &MessageEdit) -> StoreResult<Message>;
    /// Marks the message deleted (`Some((at, by))`) or recovered (`None`).
    async fn set_message_deleted(
        &self,
        message_id: &str,
        deletion: Option<(Timestamp, ParticipantId)>,
        at: Timestamp,
    ) -> StoreResult<Message>;
    /// `false` if that participant already reacted with that emoji.
    async fn add_reaction(
        &self,
        message_id: &str,
        participant_id: &str,
        emoji: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// `false` if there was no such reaction.
    async fn remove_reaction(&self, message_id: &str, participant_id: &str, emoji: &str)
    -> StoreResult<bool>;
    async fn media(&self, conversation_id: &str, query: &MediaQuery) -> StoreResult<Vec<MediaEntry>>;
}
