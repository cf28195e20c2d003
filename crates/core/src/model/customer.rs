use serde::{Deserialize, Serialize};

use crate::TenantId;
use crate::ids::ParticipantId;
use crate::time::Timestamp;

/// Where a customer reaches the business from (seed 003's channel list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CustomerChannel {
    Web,
    Wechat,
    Whatsapp,
    Line,
    Telegram,
    Facebook,
    Email,
    Sms,
    Phone,
    App,
}

impl CustomerChannel {
    pub const ALL: [CustomerChannel; 10] = [
        CustomerChannel::Web,
        CustomerChannel::Wechat,
        CustomerChannel::Whatsapp,
        CustomerChannel::Line,
        CustomerChannel::Telegram,
        CustomerChannel::Facebook,
        CustomerChannel::Email,
        CustomerChannel::Sms,
        CustomerChannel::Phone,
        CustomerChannel::App,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CustomerChannel::Web => "WEB",
            CustomerChannel::Wechat => "WECHAT",
            CustomerChannel::Whatsapp => "WHATSAPP",
            CustomerChannel::Line => "LINE",
            CustomerChannel::Telegram => "TELEGRAM",
            CustomerChannel::Facebook => "FACEBOOK",
            CustomerChannel::Email => "EMAIL",
            CustomerChannel::Sms => "SMS",
            CustomerChannel::Phone => "PHONE",
            CustomerChannel::App => "APP",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        CustomerChannel::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(s))
    }

    pub fn names() -> String {
        CustomerChannel::ALL.map(CustomerChannel::as_str).join(", ")
    }
}

/// One way to reach a customer: a channel and the customer's id on it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerIdentity {
    pub channel: CustomerChannel,
    pub channel_id: String,
}

/// An outside person known by channel identities. A customer is also a participant (kind
/// `customer`, the same id), which is how it speaks in conversations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub tenant: TenantId,
    pub id: ParticipantId,
    pub name: String,
    pub primary_channel: CustomerChannel,
    pub identities: Vec<CustomerIdentity>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub active: bool,
    pub last_interaction_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A filter and page of the customer list (page numbers start at 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerQuery {
    /// Part of the name, matched like conversation search (case and accents ignored).
    pub name: Option<String>,
    /// Customers with an identity on this channel.
    pub channel: Option<CustomerChannel>,
    pub active: Option<bool>,
    pub page: u32,
    pub size: u32,
}
