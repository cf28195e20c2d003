//! Channel accounts (DESIGN 4.9): the tenant's connections to outside platforms — a WhatsApp
//! session, a Facebook page, a Telegram bot — the chats that arrive through them, and the outbox
//! of agent replies their connector delivers.

use serde::{Deserialize, Serialize};

use super::block::Block;
use super::customer::CustomerChannel;
use crate::TenantId;
use crate::ids::{ConversationId, MessageId, ParticipantId};
use crate::time::Timestamp;

/// The platform a channel account connects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelType {
    Whatsapp,
    Facebook,
    Telegram,
    Line,
    Wechat,
}

impl ChannelType {
    pub const ALL: [ChannelType; 5] = [
        ChannelType::Whatsapp,
        ChannelType::Facebook,
        ChannelType::Telegram,
        ChannelType::Line,
        ChannelType::Wechat,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelType::Whatsapp => "whatsapp",
            ChannelType::Facebook => "facebook",
            ChannelType::Telegram => "telegram",
            ChannelType::Line => "line",
            ChannelType::Wechat => "wechat",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ChannelType::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    pub fn names() -> String {
        ChannelType::ALL.map(ChannelType::as_str).join(", ")
    }

    /// The customer channel of the people who write through an account of this type: one
    /// platform id is one customer, whichever account of the tenant they write to.
    pub const fn customer_channel(self) -> CustomerChannel {
        match self {
            ChannelType::Whatsapp => CustomerChannel::Whatsapp,
            ChannelType::Facebook => CustomerChannel::Facebook,
            ChannelType::Telegram => CustomerChannel::Telegram,
            ChannelType::Line => CustomerChannel::Line,
            ChannelType::Wechat => CustomerChannel::Wechat,
        }
    }
}

/// Where the platform session of an account stands, as its connector last reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// Created; the connector has not reported yet.
    Pending,
    /// Waiting for the QR code to be scanned.
    Qr,
    Connected,
    Disconnected,
}

impl SessionState {
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionState::Pending => "pending",
            SessionState::Qr => "qr",
            SessionState::Connected => "connected",
            SessionState::Disconnected => "disconnected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [SessionState::Pending, SessionState::Qr, SessionState::Connected, SessionState::Disconnected]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// A session report from a connector. Each state keeps the fields it names; the others keep
/// what was last reported (a reconnect keeps the phone number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSession {
    pub state: SessionState,
    /// The QR code to scan (a `data:` URL), while `state` is `Qr`.
    pub qr_code: Option<String>,
    pub phone_number: Option<String>,
    pub display_name: Option<String>,
    /// Why the session ended, when `state` is `Disconnected`.
    pub reason: Option<String>,
}

/// A tenant's connection to an outside platform. Only the SHA-256 hash of its connector key is
/// kept; the key itself is shown once, when it is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAccount {
    pub id: String,
    pub tenant: TenantId,
    pub channel_type: ChannelType,
    pub name: String,
    /// The account's own id on the platform (a page id, a phone number): unique per type.
    pub external_id: Option<String>,
    pub connector_key_hash: String,
    /// The participant that speaks for the account: messages the business sent from the
    /// platform itself (`fromMe`) are its.
    pub speaker_id: ParticipantId,
    pub session: ChannelSession,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ChannelAccount {
    /// The speaker participant's id for an account id.
    pub fn speaker_id_for(account_id: &str) -> ParticipantId {
        format!("channel-{account_id}")
    }

    /// What events carry of the account.
    pub fn to_ref(&self) -> ChannelAccountRef {
        ChannelAccountRef {
            id: self.id.clone(),
            channel_type: self.channel_type,
            name: self.name.clone(),
            external_id: self.external_id.clone(),
            phone_number: self.session.phone_number.clone(),
            display_name: self.session.display_name.clone(),
        }
    }
}

/// An account as events name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAccountRef {
    pub id: String,
    pub channel_type: ChannelType,
    pub name: String,
    pub external_id: Option<String>,
    pub phone_number: Option<String>,
    pub display_name: Option<String>,
}

/// A chat on a channel account: the channel conversation of one outside chat (a WhatsApp chat,
/// a Messenger thread, a person's comments on a page), with what chat lists show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelChat {
    /// The conversation's id: chatgate's id of the chat.
    pub conversation_id: ConversationId,
    pub tenant: TenantId,
    pub account_id: String,
    /// The platform's id of the chat (`77079856339@c.us`, a PSID).
    pub external_chat_id: String,
    pub name: String,
    pub is_group: bool,
    /// The person on the other side of a one-to-one chat.
    pub customer_id: Option<ParticipantId>,
    /// Messages from the other side that dashboards show, since the business last read or
    /// answered the chat.
    pub unread_count: u32,
    /// The newest message dashboards show: when the platform says it was sent, and its text.
    pub last_message_at: Option<Timestamp>,
    pub last_message_text: Option<String>,
    pub created_at: Timestamp,
}

impl ChannelChat {
    /// The instant chat lists sort by.
    pub fn activity_at(&self) -> Timestamp {
        self.last_message_at.unwrap_or(self.created_at)
    }

    pub const fn chat_type(&self) -> &'static str {
        if self.is_group { "group" } else { "individual" }
    }
}

/// Which chats a listing wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatKind {
    All,
    Group,
    Individual,
}

/// A page of an account's chats, newest activity first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatQuery {
    pub kind: ChatKind,
    /// Continue after this chat: its activity (last message, else creation) and id.
    pub after: Option<(Timestamp, ConversationId)>,
    pub limit: u32,
}

/// How appending one message changes its chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatChange {
    /// Dashboards show the message: it becomes the chat's last message.
    pub shown: bool,
    /// From the other side and shown: one more unread message.
    pub unread: bool,
    /// From the business (an agent's reply, or sent from the platform itself): the chat is read.
    pub read: bool,
    pub last_message_at: Timestamp,
    pub last_message_text: String,
    /// The platform's current name for the chat, when it sent one.
    pub name: Option<String>,
}

/// An agent's reply waiting for the connector to deliver it, written in the same transaction as
/// the message itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: String,
    pub tenant: TenantId,
    pub account_id: String,
    /// The entry's place in the account's outbox (1, 2, 3…, never reused), given by the store.
    pub seq: i64,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub external_chat_id: Option<String>,
    /// The platform id of the message the reply answers (a comment to reply under).
    pub reply_to_external_id: Option<String>,
    pub sender_id: ParticipantId,
    pub sender_name: String,
    pub text: Option<String>,
    pub blocks: Vec<Block>,
    pub created_at: Timestamp,
}

/// The connector has delivered an outbox entry; `external_id` is the platform's id of the
/// delivered message, so that its echo from the platform is recognised as the same message.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxAck {
    pub entry_id: String,
    pub external: Option<super::message::ExternalMessage>,
}
