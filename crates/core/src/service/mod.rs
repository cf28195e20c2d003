//! The use cases: one method per thing a participant can do, each deciding authorization,
//! validating input, committing through the store and then publishing the resulting events.
//!
//! Ordering: everything that changes a conversation runs under that conversation's lock, from
//! the store commit through the publish, so on any one node the events of a conversation leave in
//! the order their changes were committed.

mod accounts;
mod bots;
mod channels;
mod conversations;
mod customers;
mod files;
mod lanes;
mod logins;
mod messages;
mod participants;
mod streams;
mod tickets;

use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard};

use lanes::Lanes;

pub use accounts::NewLogin;
pub use bots::{BotListing, BotPatch, NewBot};
pub use channels::{ChannelEvent, InboundMessage, Ingested, NewChannelAccount, SessionReport};
pub use conversations::{ConversationPatch, NewConversation};
pub use customers::{CustomerInput, CustomerPatch};
pub use files::{MadeThumbnail, UploadRequest};
pub use logins::ExternalIdentity;
pub use messages::{EditMessage, HistoryQuery, SendMessage, Sent};
pub use participants::ParticipantInput;
pub use streams::{CompleteStream, IDLE_ABORT_REASON, StartStream, StartedStream, StreamSettings, Streams};
pub use tickets::{GuestDetails, NewTicket, TICKET_TOO_LARGE, TicketFilter, TicketMessages, TicketReply};

use crate::bus::Bus;
use crate::clock::Clock;
use crate::error::{CoreError, CoreResult};
use crate::event::{ConversationSummary, Event, EventKind};
use crate::ids::ParticipantId;
use crate::limits::Limits;
use crate::model::{Conversation, ConversationDetails, ParticipantRef};
use crate::policy;
use crate::policy::Access;
use crate::principal::Principal;
use crate::store::Store;

/// A page of a listing: `next_cursor` is set exactly when `has_more` is.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
    fn from_overfetch(mut rows: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if has_more { rows.last().map(cursor_of) } else { None };
        Page { items: rows, next_cursor, has_more }
    }
}

/// How ready the core's dependencies are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Health {
    pub const fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Degraded => "Degraded",
            Health::Unhealthy => "Unhealthy",
        }
    }
}

const LOCK_STRIPES: usize = 256;

pub struct Core {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    /// Striped per-conversation locks: bounded memory, rare false sharing. Each holds the lanes
    /// of its conversations' messages on their way to being published (see `lanes`).
    locks: Box<[Mutex<Lanes>]>,
}

impl Core {
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        let locks = (0..LOCK_STRIPES).map(|_| Mutex::new(Lanes::default())).collect();
        Core { store, bus, clock, limits, locks }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn now(&self) -> crate::time::Timestamp {
        self.clock.now()
    }

    pub fn describe_store(&self) -> String {
        self.store.describe()
    }

    pub fn describe_bus(&self) -> String {
        self.bus.describe()
    }

    /// New subscription to every event of every tenant; doors filter what they deliver.
    pub fn subscribe(&self) -> crate::bus::EventStream {
        self.bus.subscribe()
    }

    /// Readiness: the store answers and the bus carries events.
    pub async fn health(&self) -> Health {
        let store = self.store.ping().await;
        let bus = self.bus.check().await;
        if let Err(e) = &store {
            tracing::warn!(error = %e, "health: store is not answering");
        }
        if let Err(e) = &bus {
            tracing::warn!(error = %e, "health: bus is not answering");
        }
        match (store.is_ok(), bus.is_ok()) {
            (true, true) => Health::Healthy,
            (true, false) => Health::Degraded,
            (false, _) => Health::Unhealthy,
        }
    }

    /// The conversation's lock, once the messages handed over before have been published:
    /// what runs under it sees them all, and what it publishes comes after theirs.
    async fn lock(&self, conversation_id: &str) -> MutexGuard<'_, Lanes> {
        let mut stripe = self.stripe(conversation_id).await;
        stripe.settle(conversation_id).await;
        stripe
    }

    /// The conversation's lock as a new message takes it: messages handed over before may
    /// still be on their way (see `lanes`).
    async fn stripe(&self, conversation_id: &str) -> MutexGuard<'_, Lanes> {
        // FNV-1a: stable and cheap; only spreads ids over the stripes.
        let hash = conversation_id
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        self.locks[(hash % LOCK_STRIPES as u64) as usize].lock().await
    }

    /// The conversation with its members, as long as it exists in the principal's tenant.
    async fn details(&self, principal: &Principal, id: &str) -> CoreResult<ConversationDetails> {
        let details = self.store.conversation(id).await?.ok_or_else(|| policy::conversation_not_found(id))?;
        policy::same_tenant(principal, &details.conversation)?;
        Ok(details)
    }

    /// The conversation and what the principal may see of it. Reads only the principal's
    /// membership, whatever the size of the conversation.
    async fn seen(&self, principal: &Principal, id: &str) -> CoreResult<(Conversation, Access)> {
        let (conversation, membership) = self
            .store
            .conversation_for(id, &principal.participant_id)
            .await?
            .ok_or_else(|| policy::conversation_not_found(id))?;
        let access = policy::access(principal, &conversation, membership.as_ref())?;
        Ok((conversation, access))
    }

    /// Who hears of a change to the conversation: its active participants.
    async fn audience(&self, conversation_id: &str) -> CoreResult<Vec<ParticipantId>> {
        Ok(self.store.active_member_ids(conversation_id).await?)
    }

    /// How to show `principal` beside what they did.
    async fn person(&self, principal: &Principal) -> CoreResult<ParticipantRef> {
        Ok(match self.store.participant(&principal.tenant, &principal.participant_id).await? {
            Some(p) => ParticipantRef::from(&p),
            None => ParticipantRef {
                id: principal.participant_id.clone(),
                name: principal.name.clone().unwrap_or_else(|| principal.participant_id.clone()),
                avatar: None,
                is_bot: principal.role == crate::principal::Role::Bot,
            },
        })
    }

    /// Publishes after a commit. The change is already durable, so a bus failure is logged and
    /// not reported to the caller: clients recover what they missed from history.
    async fn publish(&self, tenant: &str, kind: EventKind) {
        let name = kind.name();
        let event = Event { tenant: tenant.to_owned(), kind };
        if let Err(e) = self.bus.publish(event).await {
            tracing::warn!(error = %e, event = name, "event not published");
        }
    }

    fn page_limit(&self, requested: Option<u32>, default: u32) -> CoreResult<u32> {
        let max = self.limits.max_page_size;
        match requested {
            None => Ok(default.min(max)),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(_) => Err(CoreError::invalid("limit", format!("must be from 1 to {max}"))),
        }
    }
}

fn summary(conversation: &Conversation, active_participants: usize) -> ConversationSummary {
    ConversationSummary {
        id: conversation.id.clone(),
        name: conversation.name.clone(),
        avatar: conversation.avatar.clone(),
        participant_count: active_participants as u32,
        channel: conversation.channel.as_ref().map(|f| f.channel.clone()),
        ticket: conversation.ticket.clone(),
    }
}
