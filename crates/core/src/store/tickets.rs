//! The store's support area: tickets (conversations with a ticket facet) as listings show them,
//! their replies with the status they lead to, and how far each side of a ticket has read.

use async_trait::async_trait;

use super::{Appended, StoreResult, Submitted};
use crate::model::{
    Conversation, Membership, Message, NewMessage, Participant, Ticket, TicketCategory, TicketFacet,
    TicketPriority, TicketSide, TicketStatus,
};
use crate::time::Timestamp;

/// Which tickets a listing shows: of one tenant, most recently changed first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketQuery {
    pub tenant: String,
    /// Only the tickets this participant opened.
    pub requester_id: Option<String>,
    pub status: Option<TicketStatus>,
    pub category: Option<TicketCategory>,
    pub priority: Option<TicketPriority>,
    pub assignee_id: Option<String>,
    /// Continue after this `(updated_at, id)`.
    pub after: Option<(Timestamp, String)>,
    pub limit: u32,
    /// Whose unread messages each listed ticket counts.
    pub unread_for: TicketSide,
}

#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Opens a ticket in one transaction: the guest participant (kept as it is if it exists),
    /// the conversation with its requester as a member, the first message, and the requester's
    /// side marked read up to it. Returns the stored first message.
    async fn create_ticket(
        &self,
        conversation: &Conversation,
        requester: &Membership,
        guest: Option<&Participant>,
        first: &NewMessage,
    ) -> StoreResult<Message>;
    /// The ticket with its names; `None` if the conversation does not exist or is no ticket.
    async fn ticket(&self, id: &str) -> StoreResult<Option<Ticket>>;
    /// A page of tickets matching `query`, each with its unread count.
    async fn tickets(&self, query: &TicketQuery) -> StoreResult<Vec<Ticket>>;
    /// Replaces the ticket's facet and marks the ticket changed at `at`.
    async fn update_ticket(&self, id: &str, facet: &TicketFacet, at: Timestamp) -> StoreResult<()>;
    /// Appends a reply (idempotent by `clientMessageId`, like `append_message`), sets the status it
    /// leads to, and marks the writer's side read up to it, in one transaction; with the two
    /// sides' unread counts that transaction saw.
    async fn append_ticket_message(
        &self,
        message: &NewMessage,
        side: TicketSide,
        status: TicketStatus,
    ) -> StoreResult<TicketAppend> {
        self.submit_ticket_message(message, side, status).await?.await
    }
    /// `append_ticket_message`, handed over in order as `submit_message` is.
    async fn submit_ticket_message(
        &self,
        message: &NewMessage,
        side: TicketSide,
        status: TicketStatus,
    ) -> StoreResult<Submitted<TicketAppend>>;
    /// The ticket's messages without system messages, newest first, skipping `offset`.
    async fn ticket_messages(&self, id: &str, offset: u64, limit: u32) -> StoreResult<Vec<Message>>;
    /// Moves `side`'s read mark up to `seq`; it never moves back.
    async fn mark_ticket_read(&self, id: &str, side: TicketSide, seq: i64, at: Timestamp) -> StoreResult<()>;
    /// Messages written by the other side after `side`'s read mark (system messages aside).
    async fn ticket_unread(&self, id: &str, side: TicketSide) -> StoreResult<u64>;
}

/// A ticket reply's append, what the ticket's status was before it, and the unread counts it
/// changed (both 0 for a duplicate).
#[derive(Clone, Debug, PartialEq)]
pub struct TicketAppend {
    pub appended: Appended,
    /// The status the reply's transaction found (replies handed over together may each move it).
    pub old_status: TicketStatus,
    /// The writer's side's count before the reply (writing reads everything before it).
    pub writer_unread: u64,
    /// The other side's count with the reply.
    pub reader_unread: u64,
}
