use serde::{Deserialize, Serialize};

use super::media::MediaReference;
use crate::TenantId;
use crate::ids::ParticipantId;
use crate::principal::Role;
use crate::time::Timestamp;

/// What kind of party a participant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantKind {
    User,
    Agent,
    Bot,
    Customer,
    Guest,
    System,
}

impl ParticipantKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ParticipantKind::User => "user",
            ParticipantKind::Agent => "agent",
            ParticipantKind::Bot => "bot",
            ParticipantKind::Customer => "customer",
            ParticipantKind::Guest => "guest",
            ParticipantKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ParticipantKind::User,
            ParticipantKind::Agent,
            ParticipantKind::Bot,
            ParticipantKind::Customer,
            ParticipantKind::Guest,
            ParticipantKind::System,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// The kind of participant a credential with this role speaks as.
    pub const fn for_role(role: Role) -> Self {
        match role {
            Role::User | Role::Dev => ParticipantKind::User,
            Role::Agent | Role::Admin => ParticipantKind::Agent,
            Role::Bot => ParticipantKind::Bot,
            Role::Customer => ParticipantKind::Customer,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub tenant: TenantId,
    pub id: ParticipantId,
    pub unique_name: String,
    pub full_name: String,
    pub avatar: Option<MediaReference>,
    pub gender: Option<String>,
    pub kind: ParticipantKind,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Participant {
    pub fn is_bot(&self) -> bool {
        self.kind == ParticipantKind::Bot
    }
}

/// A name and picture to show beside something a participant did; carried in events so that no
/// door has to look the participant up again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParticipantRef {
    pub id: ParticipantId,
    pub name: String,
    pub avatar: Option<MediaReference>,
    pub is_bot: bool,
}

impl From<&Participant> for ParticipantRef {
    fn from(p: &Participant) -> Self {
        ParticipantRef {
            id: p.id.clone(),
            name: p.full_name.clone(),
            avatar: p.avatar.clone(),
            is_bot: p.is_bot(),
        }
    }
}

/// A username and password hash that logs in as a participant (dev login, agents, admins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub tenant: TenantId,
    pub username: String,
    pub password_hash: String,
    pub participant_id: ParticipantId,
    pub role: Role,
    pub created_at: Timestamp,
}
