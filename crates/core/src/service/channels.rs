//! Channel accounts and the connector bridge (DESIGN 4.9): admins connect outside platforms, the
//! connector of each account reports its session and the platform's messages, and agents'
//! replies wait in the account's outbox until the connector delivers them.
//!
//! A platform message becomes an ordinary message of a channel conversation (announced by
//! `MessageCreated`, so REST and the hubs show it), sent by the customer behind the platform id,
//! or — when the business sent it from the platform itself (`fromMe`) — by the account's speaker
//! participant. Dashboards hear of chats through `ChannelChatChanged`, which carries what chat
//! lists show: the last message and the unread count.

use serde_json::Value;

use super::{Core, Page, summary};
use crate::cursor;
use crate::error::{CoreError, CoreResult};
use crate::event::{
    ChannelChatEvent, ChannelCustomerRef, ChannelMessageEvent, ChannelSessionEvent, ConversationEvent,
    EventKind, MessageEvent, OutboxReadyEvent,
};
use crate::ids::new_id;
use crate::model::*;
use crate::policy;
use crate::principal::{Principal, Role};
use crate::store::{Appended, StoreError};
use crate::time::Timestamp;
use crate::validate::Check;

/// A channel account as an admin asks for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewChannelAccount {
    /// `whatsapp`, `facebook`, `telegram`, `line` or `wechat`.
    pub channel_type: String,
    pub name: String,
    pub external_id: Option<String>,
}

/// One event a connector reports.
#[derive(Clone, Debug, PartialEq)]
pub enum ChannelEvent {
    Session(SessionReport),
    Message(InboundMessage),
}

/// `{"kind": "session", "state": …}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionReport {
    /// `qr`, `connected` or `disconnected`.
    pub state: String,
    pub qr_code: Option<String>,
    pub phone_number: Option<String>,
    pub display_name: Option<String>,
    pub reason: Option<String>,
}

/// `{"kind": "message", …}`: a message seen on the platform, in either direction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InboundMessage {
    pub external_chat_id: String,
    pub chat_name: Option<String>,
    pub is_group: bool,
    pub external_message_id: String,
    /// Sent by the business from the platform itself.
    pub from_me: bool,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub text: Option<String>,
    /// `text` when absent.
    pub message_type: Option<String>,
    pub object_id: Option<String>,
    pub parent_id: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub raw: Option<Value>,
}

/// What became of one connector event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ingested {
    Session {
        state: SessionState,
    },
    Message {
        conversation_id: String,
        message_id: String,
        /// The platform message was stored before (a re-sent event): nothing changed.
        duplicate: bool,
        /// Whether dashboards show it (status broadcasts, notifications and empty messages are
        /// stored, not shown).
        shown: bool,
    },
}

/// A reply queued for a connector together with its message.
pub(super) struct Outbound {
    pub chat: ChannelChat,
    pub entry_id: String,
}

/// Characters of a platform id (chat, message, sender, post).
const MAX_PLATFORM_ID_CHARS: usize = 256;
/// Characters of a platform's message type name.
const MAX_MESSAGE_TYPE_CHARS: usize = 64;
/// Accounts one listing returns, at most.
const MAX_ACCOUNTS_LISTED: u32 = 1000;
/// Characters of a chat's last-message text kept for chat lists.
const LAST_TEXT_CHARS: usize = 500;

/// WhatsApp's status updates arrive as messages of this pseudo-chat.
const STATUS_BROADCAST: &str = "status@broadcast";

impl InboundMessage {
    fn message_type(&self) -> &str {
        self.message_type.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("text")
    }

    fn text(&self) -> Option<&str> {
        self.text.as_deref().filter(|t| !t.trim().is_empty())
    }

    fn is_status_broadcast(&self) -> bool {
        self.external_chat_id == STATUS_BROADCAST || self.from.as_deref() == Some(STATUS_BROADCAST)
    }

    /// Chats with many people on the other side have no one customer.
    fn is_group_like(&self) -> bool {
        self.is_group || self.is_status_broadcast()
    }

    /// Whether channel dashboards show the message. Status broadcasts, platform notifications
    /// (`notification`, `e2e_notification`, `notification_template`…) and text messages without
    /// text are kept but not shown, and do not count as unread.
    pub fn shown_to_dashboards(&self) -> bool {
        let kind = self.message_type().to_ascii_lowercase();
        let notification = kind.contains("notification");
        let textual = matches!(kind.as_str(), "text" | "chat" | "comment");
        let empty = textual && self.text().is_none();
        !(self.is_status_broadcast() || notification || empty)
    }
}

impl Core {
    /// Creates a channel account of the admin's tenant. `key_hash` is the hash of the connector
    /// key the door made (and shows once).
    pub async fn create_channel_account(
        &self,
        principal: &Principal,
        input: NewChannelAccount,
        key_hash: &str,
    ) -> CoreResult<ChannelAccount> {
        policy::may_administer_tenant(principal)?;
        let mut check = Check::new();
        let channel_type = ChannelType::parse(input.channel_type.trim());
        if channel_type.is_none() {
            check.fail("type", format!("must be one of {}", ChannelType::names()));
        }
        check.text("name", &input.name, self.limits.max_name_chars, true);
        if let Some(external) = &input.external_id {
            check.id("externalId", external, MAX_PLATFORM_ID_CHARS);
        }
        check.finish()?;
        let channel_type = channel_type.ok_or_else(|| CoreError::invalid("type", "is not a known type"))?;
        let now = self.clock.now();
        let id = new_id();
        let name = input.name.trim().to_owned();
        let speaker = Participant {
            tenant: principal.tenant.clone(),
            id: ChannelAccount::speaker_id_for(&id),
            unique_name: ChannelAccount::speaker_id_for(&id),
            full_name: name.clone(),
            avatar: None,
            gender: None,
            kind: ParticipantKind::Agent,
            created_at: now,
            updated_at: now,
        };
        let account = ChannelAccount {
            id: id.clone(),
            tenant: principal.tenant.clone(),
            channel_type,
            name,
            external_id: input.external_id,
            connector_key_hash: key_hash.to_owned(),
            speaker_id: speaker.id.clone(),
            session: ChannelSession {
                state: SessionState::Pending,
                qr_code: None,
                phone_number: None,
                display_name: None,
                reason: None,
            },
            created_at: now,
            updated_at: now,
        };
        self.store.create_channel_account(&account, &speaker).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::conflict(
                "Channel.ExternalIdTaken",
                format!("Another {} account already has this externalId", channel_type.as_str()),
            ),
            other => other.into(),
        })?;
        Ok(account)
    }

    /// The tenant's channel accounts, for its agents and admins.
    pub async fn channel_accounts(&self, principal: &Principal) -> CoreResult<Vec<ChannelAccount>> {
        policy::may_watch_channels(principal, &principal.tenant)?;
        Ok(self.store.channel_accounts(&principal.tenant, MAX_ACCOUNTS_LISTED).await?)
    }

    /// Replaces an account's connector key; the old one stops working at once.
    pub async fn replace_connector_key(
        &self,
        principal: &Principal,
        account_id: &str,
        key_hash: &str,
    ) -> CoreResult<ChannelAccount> {
        policy::may_administer_tenant(principal)?;
        let account = self.tenant_account(&principal.tenant, account_id).await?;
        self.store.set_connector_key(&account.tenant, &account.id, key_hash, self.clock.now()).await?;
        Ok(ChannelAccount { connector_key_hash: key_hash.to_owned(), ..account })
    }

    /// The account a connector speaks for: `channel_id` must be the account of the key.
    pub async fn connector_account(&self, channel_id: &str, key_hash: &str) -> CoreResult<ChannelAccount> {
        match self.store.channel_account_by_key(key_hash).await? {
            Some(account) if account.id == channel_id => Ok(account),
            _ => Err(CoreError::unauthorized(
                "Connector.KeyRefused",
                format!("This is not the connector key of channel '{channel_id}'"),
            )),
        }
    }

    /// Whether `principal` may watch the channel dashboards of `tenant` (ChatOmni's room, the
    /// WhatsApp company).
    pub fn may_watch_channels(&self, principal: &Principal, tenant: &str) -> CoreResult<()> {
        policy::may_watch_channels(principal, tenant)
    }

    /// Stores what a connector reports, in order, after checking every event: a batch with a
    /// bad event stores nothing. Message events are idempotent by `externalMessageId`.
    /// `batch` says whether the events came as an array (errors then name `[i].field`).
    pub async fn ingest_channel_events(
        &self,
        account: &ChannelAccount,
        events: Vec<ChannelEvent>,
        batch: bool,
    ) -> CoreResult<Vec<Ingested>> {
        let max = self.limits.max_channel_events_per_request;
        if events.is_empty() {
            return Err(CoreError::invalid("body", "must hold at least one event"));
        }
        if events.len() > max {
            return Err(CoreError::invalid(
                "body",
                format!("holds {} events; send at most {max} per request", events.len()),
            ));
        }
        let mut check = Check::new();
        for (i, event) in events.iter().enumerate() {
            let at = |field: &str| if batch { format!("[{i}].{field}") } else { field.to_owned() };
            match event {
                ChannelEvent::Session(s) => self.check_session(&mut check, &at, s),
                ChannelEvent::Message(m) => self.check_message(&mut check, &at, m),
            }
        }
        check.finish()?;
        let mut outcomes = Vec::with_capacity(events.len());
        // Later events of the batch see the session its earlier ones reported.
        let mut account = account.clone();
        for event in events {
            outcomes.push(match event {
                ChannelEvent::Session(report) => {
                    let (updated, outcome) = self.record_session(&account, report).await?;
                    account = updated;
                    outcome
                }
                ChannelEvent::Message(message) => self.ingest_message(&account, message).await?,
            });
        }
        Ok(outcomes)
    }

    fn check_session(&self, check: &mut Check, at: &dyn Fn(&str) -> String, s: &SessionReport) {
        match SessionState::parse(s.state.trim()) {
            Some(SessionState::Qr) => match s.qr_code.as_deref() {
                Some(qr) => check.text(&at("qrCode"), qr, self.limits.max_qr_code_chars, true),
                None => check.fail(at("qrCode"), "is required when state is qr"),
            },
            Some(SessionState::Connected | SessionState::Disconnected) => {
                check.opt_text(&at("qrCode"), s.qr_code.as_deref(), self.limits.max_qr_code_chars)
            }
            Some(SessionState::Pending) | None => {
                check.fail(at("state"), "must be one of qr, connected, disconnected")
            }
        }
        check.opt_text(&at("phoneNumber"), s.phone_number.as_deref(), 64);
        check.opt_text(&at("displayName"), s.display_name.as_deref(), self.limits.max_name_chars);
        check.opt_text(&at("reason"), s.reason.as_deref(), 256);
    }

    fn check_message(&self, check: &mut Check, at: &dyn Fn(&str) -> String, m: &InboundMessage) {
        let l = &self.limits;
        check.id(&at("externalChatId"), &m.external_chat_id, MAX_PLATFORM_ID_CHARS);
        check.id(&at("externalMessageId"), &m.external_message_id, MAX_PLATFORM_ID_CHARS);
        for (field, value) in [("from", &m.from), ("objectId", &m.object_id), ("parentId", &m.parent_id)] {
            if let Some(v) = value {
                check.id(&at(field), v, MAX_PLATFORM_ID_CHARS);
            }
        }
        check.opt_text(&at("chatName"), m.chat_name.as_deref(), l.max_name_chars);
        check.opt_text(&at("fromName"), m.from_name.as_deref(), l.max_name_chars);
        check.opt_text(&at("text"), m.text.as_deref(), l.max_text_chars);
        if let Some(t) = &m.message_type {
            check.text(&at("messageType"), t, MAX_MESSAGE_TYPE_CHARS, false);
        }
        if m.is_group && !m.from_me && m.from.is_none() {
            check.fail(at("from"), "is required for a group message from someone else");
        }
        if let Some(raw) = &m.raw {
            let bytes = serde_json::to_vec(raw).map(|v| v.len()).unwrap_or(usize::MAX);
            if bytes > l.max_channel_raw_bytes {
                check.fail(
                    at("raw"),
                    format!("is {bytes} bytes of JSON; at most {} are kept", l.max_channel_raw_bytes),
                );
            }
        }
    }

    async fn record_session(
        &self,
        account: &ChannelAccount,
        report: SessionReport,
    ) -> CoreResult<(ChannelAccount, Ingested)> {
        let state = SessionState::parse(report.state.trim())
            .ok_or_else(|| CoreError::invalid("state", "must be one of qr, connected, disconnected"))?;
        let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let before = &account.session;
        let session = match state {
            SessionState::Qr => {
                ChannelSession { state, qr_code: clean(report.qr_code), reason: None, ..before.clone() }
            }
            SessionState::Connected => ChannelSession {
                state,
                qr_code: None,
                phone_number: clean(report.phone_number).or_else(|| before.phone_number.clone()),
                display_name: clean(report.display_name).or_else(|| before.display_name.clone()),
                reason: None,
            },
            SessionState::Disconnected | SessionState::Pending => {
                ChannelSession { state, qr_code: None, reason: clean(report.reason), ..before.clone() }
            }
        };
        let now = self.clock.now();
        let updated = self.store.set_channel_session(&account.tenant, &account.id, &session, now).await?;
        self.publish(
            &account.tenant,
            EventKind::ChannelSessionChanged(ChannelSessionEvent {
                account: updated.to_ref(),
                session,
                at: now,
            }),
        )
        .await;
        Ok((updated, Ingested::Session { state }))
    }

    /// The customer known on the account's platform as `platform_id`, created on first sight.
    /// Facebook customers get their public profile picture as avatar (seed 000).
    async fn platform_customer(
        &self,
        account: &ChannelAccount,
        platform_id: &str,
        name: &str,
    ) -> CoreResult<Customer> {
        let channel = account.channel_type.customer_channel();
        let name = if name.trim().is_empty() { platform_id } else { name };
        let (customer, _) =
            self.customer_for_channel(&account.tenant, name, channel.as_str(), platform_id).await?;
        if account.channel_type == ChannelType::Facebook
            && let Some(participant) = self.store.participant(&account.tenant, &customer.id).await?
            && participant.avatar.is_none()
        {
            let avatar = MediaReference {
                storage_key: None,
                url: Some(format!(
                    "https://platform-lookaside.fbsbx.com/platform/profilepic/?psid={}&height=200&width=200",
                    percent_encode_query(platform_id)
                )),
            };
            self.store.upsert_participant(&Participant { avatar: Some(avatar), ..participant }).await?;
        }
        Ok(customer)
    }

    async fn ingest_message(&self, account: &ChannelAccount, m: InboundMessage) -> CoreResult<Ingested> {
        let tenant = account.tenant.as_str();
        let chat_name = m.chat_name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        let from_name = m.from_name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        // One-to-one chats are named by the person on the other side.
        let chat_customer = if m.is_group_like() {
            None
        } else {
            let name = chat_name.clone().or_else(|| (!m.from_me).then(|| from_name.clone()).flatten());
            Some(
                self.platform_customer(account, &m.external_chat_id, name.as_deref().unwrap_or_default())
                    .await?,
            )
        };
        let sender_id = if m.from_me {
            account.speaker_id.clone()
        } else {
            let from = m.from.clone().unwrap_or_else(|| m.external_chat_id.clone());
            match &chat_customer {
                Some(c) if from == m.external_chat_id => c.id.clone(),
                _ => {
                    self.platform_customer(account, &from, from_name.as_deref().unwrap_or_default()).await?.id
                }
            }
        };

        let now = self.clock.now();
        let display_name = chat_name
            .clone()
            .or_else(|| chat_customer.as_ref().map(|c| c.name.clone()))
            .unwrap_or_else(|| m.external_chat_id.clone());
        let conversation = Conversation {
            id: new_id(),
            tenant: tenant.to_owned(),
            name: Some(display_name.clone()),
            avatar: None,
            owner_id: account.speaker_id.clone(),
            created_at: now,
            updated_at: now,
            last_message_at: None,
            last_message_id: None,
            last_seq: 0,
            channel: Some(ChannelFacet {
                channel: account.channel_type.customer_channel().as_str().to_owned(),
                customer_id: chat_customer.as_ref().map(|c| c.id.clone()),
                account_id: Some(account.id.clone()),
                external_chat_id: Some(m.external_chat_id.clone()),
            }),
            ticket: None,
        };
        let members: Vec<Membership> = chat_customer
            .iter()
            .map(|c| Membership {
                conversation_id: conversation.id.clone(),
                participant_id: c.id.clone(),
                joined_at: now,
                left_at: None,
                is_active: true,
                is_pinned: false,
                pinned_at: None,
                joined_seq: 0,
            })
            .collect();
        let new_chat = ChannelChat {
            conversation_id: conversation.id.clone(),
            tenant: tenant.to_owned(),
            account_id: account.id.clone(),
            external_chat_id: m.external_chat_id.clone(),
            name: display_name,
            is_group: m.is_group_like(),
            customer_id: chat_customer.as_ref().map(|c| c.id.clone()),
            unread_count: 0,
            last_message_at: None,
            last_message_text: None,
            created_at: now,
        };
        let (chat, chat_created) = self.store.open_channel_chat(&new_chat, &conversation, &members).await?;
        if chat_created {
            self.publish(
                tenant,
                EventKind::ConversationCreated(ConversationEvent {
                    conversation: summary(&conversation, members.len()),
                    notify: members.iter().map(|m| m.participant_id.clone()).collect(),
                }),
            )
            .await;
        }

        let shown = m.shown_to_dashboards();
        let message_type = m.message_type().to_owned();
        let text = m.text().map(str::to_owned);
        let blocks = match &text {
            Some(t) => vec![Block::plain_text(t.clone())],
            None => vec![Block::Custom(CustomBlock {
                custom_type: format!("channel.{message_type}"),
                data: None,
            })],
        };
        let new = NewMessage {
            id: new_id(),
            conversation_id: chat.conversation_id.clone(),
            sender_id: sender_id.clone(),
            sender_type: SenderType::User,
            blocks,
            plain_text: text.clone(),
            reply_to_message_id: None,
            quick_replies: None,
            mentions: None,
            client_message_id: None,
            system_event: None,
            external: Some(ExternalMessage {
                id: m.external_message_id.clone(),
                message_type: message_type.clone(),
                from_me: m.from_me,
                from: m.from.clone(),
                from_name: from_name.clone(),
                object_id: m.object_id.clone(),
                parent_id: m.parent_id.clone(),
                sent_at: m.sent_at,
                raw: m.raw.clone(),
            }),
            created_at: now,
            media: Vec::new(),
        };
        let change = ChatChange {
            shown,
            unread: shown && !m.from_me,
            read: shown && m.from_me,
            last_message_at: m.sent_at.unwrap_or(now),
            last_message_text: last_text(text.as_deref(), &message_type),
            name: chat_name,
        };

        let _guard = self.lock(&chat.conversation_id).await;
        let (appended, chat_now) = self.store.append_channel_message(&new, &change, None).await?;
        let message = match appended {
            Appended::Duplicate(existing) => {
                return Ok(Ingested::Message {
                    conversation_id: existing.conversation_id,
                    message_id: existing.id,
                    duplicate: true,
                    shown,
                });
            }
            Appended::Created(message) => message,
        };
        if !m.from_me {
            self.store.touch_customer(tenant, &sender_id, now).await?;
        }
        let (conversation, _) = self
            .store
            .conversation_for(&chat.conversation_id, &sender_id)
            .await?
            .ok_or_else(|| policy::conversation_not_found(&chat.conversation_id))?;
        let sender = self.sender_ref(tenant, &sender_id).await?;
        let recipients = self.audience(&chat.conversation_id).await?;
        self.publish(
            tenant,
            EventKind::MessageCreated(MessageEvent {
                conversation: summary(&conversation, recipients.len()),
                message: message.clone(),
                sender: sender.clone(),
                people: Vec::new(),
                recipients,
            }),
        )
        .await;
        if shown && let Some(chat) = chat_now {
            self.publish(
                tenant,
                EventKind::ChannelChatChanged(ChannelChatEvent {
                    account: account.to_ref(),
                    chat,
                    chat_created,
                    customer: chat_customer.as_ref().map(customer_ref),
                    message: Some(ChannelMessageEvent {
                        message: message.clone(),
                        sender,
                        outbound: m.from_me,
                    }),
                }),
            )
            .await;
        }
        Ok(Ingested::Message {
            conversation_id: message.conversation_id,
            message_id: message.id,
            duplicate: false,
            shown,
        })
    }

    async fn sender_ref(&self, tenant: &str, id: &str) -> CoreResult<ParticipantRef> {
        Ok(match self.store.participant(tenant, id).await? {
            Some(p) => ParticipantRef::from(&p),
            None => ParticipantRef { id: id.to_owned(), name: id.to_owned(), avatar: None, is_bot: false },
        })
    }

    async fn tenant_account(&self, tenant: &str, account_id: &str) -> CoreResult<ChannelAccount> {
        self.store.channel_account(tenant, account_id).await?.ok_or_else(|| account_not_found(account_id))
    }

    /// Whether a message the principal sends in the conversation is a reply for an outside
    /// platform: in a conversation with a channel account, everything the business (anyone but
    /// a customer) writes goes out through the account's connector.
    pub(super) fn is_channel_reply(principal: &Principal, conversation: &Conversation) -> bool {
        principal.role != Role::Customer
            && conversation.channel.as_ref().is_some_and(|f| f.account_id.is_some())
    }

    /// Appends a reply for an outside platform (see [`Core::is_channel_reply`]): its outbox entry
    /// is written in the same transaction, and the chat counts as read.
    pub(super) async fn append_channel_reply(
        &self,
        principal: &Principal,
        conversation: &Conversation,
        new: &NewMessage,
    ) -> CoreResult<(Appended, Option<Outbound>)> {
        let facet = conversation.channel.as_ref();
        let Some(account_id) = facet.and_then(|f| f.account_id.as_ref()) else {
            return Ok((self.store.append_message(new).await?, None));
        };
        let reply_to_external_id = match &new.reply_to_message_id {
            Some(id) => self.store.message(id).await?.and_then(|m| m.external).map(|e| e.id),
            None => None,
        };
        let entry = OutboxEntry {
            id: new_id(),
            tenant: conversation.tenant.clone(),
            account_id: account_id.clone(),
            seq: 0,
            conversation_id: conversation.id.clone(),
            message_id: new.id.clone(),
            external_chat_id: facet.and_then(|f| f.external_chat_id.clone()),
            reply_to_external_id,
            sender_id: principal.participant_id.clone(),
            sender_name: self.person(principal).await?.name,
            text: new.plain_text.clone(),
            blocks: new.blocks.clone(),
            created_at: new.created_at,
        };
        let change = ChatChange {
            shown: true,
            unread: false,
            read: true,
            last_message_at: new.created_at,
            last_message_text: last_text(new.plain_text.as_deref(), "text"),
            name: None,
        };
        let (appended, chat) = self.store.append_channel_message(new, &change, Some(&entry)).await?;
        let outbound = match (&appended, chat) {
            (Appended::Created(_), Some(chat)) => Some(Outbound { chat, entry_id: entry.id }),
            _ => None,
        };
        Ok((appended, outbound))
    }

    /// After a reply's `MessageCreated`: tells dashboards of the chat and wakes the connector.
    pub(super) async fn announce_outbound(
        &self,
        principal: &Principal,
        outbound: Outbound,
        message: &Message,
    ) {
        let tenant = principal.tenant.as_str();
        let account = match self.store.channel_account(tenant, &outbound.chat.account_id).await {
            Ok(Some(account)) => account,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "channel account not read; the reply waits in its outbox unannounced");
                return;
            }
        };
        let customer = match &outbound.chat.customer_id {
            Some(id) => self.store.customer(tenant, id).await.ok().flatten().map(|c| customer_ref(&c)),
            None => None,
        };
        let sender = match self.person(principal).await {
            Ok(sender) => sender,
            Err(_) => ParticipantRef {
                id: principal.participant_id.clone(),
                name: principal.participant_id.clone(),
                avatar: None,
                is_bot: false,
            },
        };
        let conversation_id = outbound.chat.conversation_id.clone();
        self.publish(
            tenant,
            EventKind::ChannelChatChanged(ChannelChatEvent {
                account: account.to_ref(),
                chat: outbound.chat,
                chat_created: false,
                customer,
                message: Some(ChannelMessageEvent { message: message.clone(), sender, outbound: true }),
            }),
        )
        .await;
        self.publish(
            tenant,
            EventKind::OutboxReady(OutboxReadyEvent {
                account_id: account.id,
                conversation_id,
                entry_id: outbound.entry_id,
            }),
        )
        .await;
    }

    /// The connector's undelivered replies with a `seq` above `after`, oldest first.
    pub async fn connector_outbox(
        &self,
        account: &ChannelAccount,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> CoreResult<Vec<OutboxEntry>> {
        let limit = self.page_limit(limit, self.limits.max_page_size)?;
        let after = after.unwrap_or(0);
        if after < 0 {
            return Err(CoreError::invalid("after", "must be an outbox `seq` (0 or more)"));
        }
        Ok(self.store.outbox(&account.id, after, limit).await?)
    }

    /// The connector delivered these entries: `(entry id, platform id of the delivered message)`.
    /// Unknown or already acknowledged ids are ignored; returns how many were removed.
    pub async fn ack_connector_outbox(
        &self,
        account: &ChannelAccount,
        acks: Vec<(String, Option<String>)>,
    ) -> CoreResult<u32> {
        let max = self.limits.max_page_size as usize;
        let mut check = Check::new();
        if acks.is_empty() || acks.len() > max {
            check.fail("ids", format!("must hold 1 to {max} entry ids"));
        }
        for (i, (id, external)) in acks.iter().enumerate() {
            check.id(&format!("ids[{i}]"), id, self.limits.max_id_chars);
            if let Some(external) = external {
                check.id(&format!("acks[{i}].externalMessageId"), external, MAX_PLATFORM_ID_CHARS);
            }
        }
        check.finish()?;
        let acks: Vec<OutboxAck> = acks
            .into_iter()
            .map(|(entry_id, external)| OutboxAck {
                entry_id,
                external: external.map(|id| ExternalMessage {
                    id,
                    message_type: "text".to_owned(),
                    from_me: true,
                    from: account.session.phone_number.clone(),
                    from_name: None,
                    object_id: None,
                    parent_id: None,
                    sent_at: None,
                    raw: None,
                }),
            })
            .collect();
        Ok(self.store.ack_outbox(&account.id, &acks).await?)
    }

    /// A page of an account's chats, newest activity first. `channel_type` restricts the
    /// account's type (the WhatsApp API lists WhatsApp sessions only).
    pub async fn channel_chats(
        &self,
        principal: &Principal,
        account_id: &str,
        channel_type: Option<ChannelType>,
        kind: ChatKind,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> CoreResult<Page<ChannelChat>> {
        policy::may_watch_channels(principal, &principal.tenant)?;
        let limit = self.page_limit(limit, self.limits.max_page_size)?;
        let after = cursor.map(cursor::decode_conversation).transpose()?;
        let account = self.tenant_account(&principal.tenant, account_id).await?;
        if channel_type.is_some_and(|t| t != account.channel_type) {
            return Err(account_not_found(account_id));
        }
        let query = ChatQuery { kind, after, limit: limit + 1 };
        let rows = self.store.channel_chats(&account.id, &query).await?;
        Ok(Page::from_overfetch(rows, limit, |c| {
            cursor::encode_conversation(c.activity_at(), &c.conversation_id)
        }))
    }

    /// The business has read the chat: its unread count goes to 0, and dashboards hear of it
    /// if it changed.
    pub async fn read_channel_chat(
        &self,
        principal: &Principal,
        account_id: &str,
        conversation_id: &str,
    ) -> CoreResult<ChannelChat> {
        policy::may_watch_channels(principal, &principal.tenant)?;
        let account = self.tenant_account(&principal.tenant, account_id).await?;
        let _guard = self.lock(conversation_id).await;
        let (conversation, _) = self.seen(principal, conversation_id).await?;
        let not_found = || chat_not_found(conversation_id);
        if conversation.channel.as_ref().and_then(|f| f.account_id.as_deref()) != Some(account.id.as_str()) {
            return Err(not_found());
        }
        let (chat, changed) =
            self.store.mark_channel_chat_read(conversation_id).await?.ok_or_else(not_found)?;
        if changed {
            let customer = match &chat.customer_id {
                Some(id) => self.store.customer(&account.tenant, id).await?.map(|c| customer_ref(&c)),
                None => None,
            };
            self.publish(
                &account.tenant,
                EventKind::ChannelChatChanged(ChannelChatEvent {
                    account: account.to_ref(),
                    chat: chat.clone(),
                    chat_created: false,
                    customer,
                    message: None,
                }),
            )
            .await;
        }
        Ok(chat)
    }
}

fn customer_ref(c: &Customer) -> ChannelCustomerRef {
    ChannelCustomerRef { id: c.id.clone(), name: c.name.clone(), phone: c.phone.clone() }
}

/// What chat lists show of a message: its text, or its kind in brackets.
fn last_text(text: Option<&str>, message_type: &str) -> String {
    let text = match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.split_whitespace().collect::<Vec<_>>().join(" "),
        None => format!("[{message_type}]"),
    };
    if text.chars().count() <= LAST_TEXT_CHARS {
        text
    } else {
        let cut: String = text.chars().take(LAST_TEXT_CHARS - 1).collect();
        format!("{cut}…")
    }
}

/// Platform ids go into a URL's query unchanged when they are plain (digits, letters); anything
/// else is percent-encoded.
fn percent_encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn account_not_found(id: &str) -> CoreError {
    CoreError::not_found("Channel.NotFound", format!("Channel '{id}' was not found"))
        .with_detail("channelId", id)
}

fn chat_not_found(id: &str) -> CoreError {
    CoreError::not_found("Channel.ChatNotFound", format!("Chat '{id}' was not found on this channel"))
        .with_detail("chatId", id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(chat: &str, kind: &str, text: Option<&str>) -> InboundMessage {
        InboundMessage {
            external_chat_id: chat.into(),
            external_message_id: "m".into(),
            message_type: Some(kind.into()),
            text: text.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn dashboards_do_not_see_status_broadcasts_notifications_or_empty_messages() {
        assert!(message("7707@c.us", "chat", Some("hi")).shown_to_dashboards());
        assert!(message("7707@c.us", "image", None).shown_to_dashboards(), "a picture without caption");
        assert!(!message("status@broadcast", "chat", Some("my status")).shown_to_dashboards());
        let mut from_status = message("7707@c.us", "image", None);
        from_status.from = Some(STATUS_BROADCAST.into());
        assert!(!from_status.shown_to_dashboards());
        assert!(!message("7707@c.us", "notification", Some("x joined")).shown_to_dashboards());
        assert!(!message("7707@c.us", "e2e_notification", None).shown_to_dashboards());
        assert!(!message("7707@c.us", "text", Some("   ")).shown_to_dashboards());
        assert!(!message("7707@c.us", "comment", None).shown_to_dashboards());
    }

    #[test]
    fn chat_lists_show_text_or_the_kind_of_message() {
        assert_eq!(last_text(Some("  hello \n there "), "text"), "hello there");
        assert_eq!(last_text(None, "image"), "[image]");
        assert_eq!(last_text(Some(&"x".repeat(600)), "text").chars().count(), LAST_TEXT_CHARS);
    }

    #[test]
    fn facebook_ids_stay_readable_in_the_avatar_url() {
        assert_eq!(percent_encode_query("9484319011642026"), "9484319011642026");
        assert_eq!(percent_encode_query("a&b=c"), "a%26b%3Dc");
    }
}
