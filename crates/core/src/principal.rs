//! Who is acting. Doors authenticate (JWT, customer token, connector key) and hand the core a
//! `Principal`; the core decides what that principal may do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::TenantId;
use crate::ids::ParticipantId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Agent,
    Admin,
    Dev,
    Bot,
    Customer,
}

impl Role {
    pub const ALL: [Role; 6] = [Role::User, Role::Agent, Role::Admin, Role::Dev, Role::Bot, Role::Customer];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Agent => "agent",
            Role::Admin => "admin",
            Role::Dev => "dev",
            Role::Bot => "bot",
            Role::Customer => "customer",
        }
    }

    /// Tenant staff: may act on other people's records of their tenant.
    pub const fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Dev)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            format!("unknown role `{s}` (expected one of user, agent, admin, dev, bot, customer)")
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub tenant: TenantId,
    pub participant_id: ParticipantId,
    pub role: Role,
    /// Display name from the credential, used when the participant row does not exist yet.
    pub name: Option<String>,
}

impl Principal {
    pub fn new(tenant: impl Into<String>, participant_id: impl Into<String>, role: Role) -> Self {
        Principal { tenant: tenant.into(), participant_id: participant_id.into(), role, name: None }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}
