//! Support tickets (seed 001) as the support desk sees them. A ticket is a conversation with a
//! [`TicketFacet`]; this module adds who is on which side of it, the guests who open tickets
//! without an account, and the ticket as listings and events show it.

use serde::{Deserialize, Serialize};

use super::conversation::{TicketFacet, TicketStatus};
use crate::TenantId;
use crate::ids::{ConversationId, ParticipantId};
use crate::principal::{Principal, Role};
use crate::time::Timestamp;

/// Guest participants are named after the connection that created them.
pub const GUEST_ID_PREFIX: &str = "guest-";

/// The two sides of a ticket. Unread counts and status transitions are per side: the user who
/// opened the ticket on one, the tenant's admins (together) on the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketSide {
    User,
    Admin,
}

impl TicketSide {
    pub const fn as_str(self) -> &'static str {
        match self {
            TicketSide::User => "user",
            TicketSide::Admin => "admin",
        }
    }

    pub const fn other(self) -> TicketSide {
        match self {
            TicketSide::User => TicketSide::Admin,
            TicketSide::Admin => TicketSide::User,
        }
    }

    /// A reply hands the ticket to the other side: a user's reply waits for an admin, an admin's
    /// for the user. This holds whatever the status was, so a reply reopens a closed ticket.
    pub const fn status_after_reply(self) -> TicketStatus {
        match self {
            TicketSide::User => TicketStatus::WaitingForAdmin,
            TicketSide::Admin => TicketStatus::WaitingForUser,
        }
    }
}

impl TicketFacet {
    /// The side a participant writes on: the requester is the user side, anyone else who may
    /// write (the tenant's admins) the admin side.
    pub fn side_of(&self, participant_id: &str) -> TicketSide {
        if self.requester_id == participant_id { TicketSide::User } else { TicketSide::Admin }
    }

    /// For a ticket opened by a guest: the id of the connection the guest opened it from.
    pub fn guest_connection(&self) -> Option<&str> {
        self.guest_name.as_ref()?;
        self.requester_id.strip_prefix(GUEST_ID_PREFIX)
    }
}

/// Someone on the support desk without an account, known only by their connection. A guest
/// participant (kind `guest`) is created for the connection when it opens a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guest {
    pub tenant: TenantId,
    pub connection_id: String,
}

impl Guest {
    pub fn participant_id(&self) -> ParticipantId {
        format!("{GUEST_ID_PREFIX}{}", self.connection_id)
    }
}

/// Who acts on the support desk: someone with a token, or a guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketCaller {
    Signed(Principal),
    Guest(Guest),
}

impl TicketCaller {
    pub fn tenant(&self) -> &str {
        match self {
            TicketCaller::Signed(p) => &p.tenant,
            TicketCaller::Guest(g) => &g.tenant,
        }
    }

    pub fn participant_id(&self) -> ParticipantId {
        match self {
            TicketCaller::Signed(p) => p.participant_id.clone(),
            TicketCaller::Guest(g) => g.participant_id(),
        }
    }

    /// An admin of the caller's tenant (guests never are).
    pub fn is_admin(&self) -> bool {
        matches!(self, TicketCaller::Signed(p) if p.role == Role::Admin)
    }

    /// The principal the caller acts as in the conversation machinery: a guest acts as its
    /// guest participant, which is a member of the tickets it opened and of nothing else.
    pub(crate) fn acting_principal(&self) -> Principal {
        match self {
            TicketCaller::Signed(p) => p.clone(),
            TicketCaller::Guest(g) => Principal::new(&g.tenant, g.participant_id(), Role::User),
        }
    }
}

/// A ticket as listings and events show it: its conversation's id and times, the facet, and
/// the names that go with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The conversation's id.
    pub id: ConversationId,
    pub tenant: TenantId,
    pub facet: TicketFacet,
    pub created_at: Timestamp,
    /// The last change: a message, a new status or assignee.
    pub updated_at: Timestamp,
    /// The requester's display name (the guest name for guests), when known.
    pub user_name: Option<String>,
    /// The assigned admin's display name (their id when they have no participant record).
    pub admin_name: Option<String>,
    /// Set in listings: messages by the other side that the listing side has not read.
    pub unread_count: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TicketCategory, TicketPriority};

    fn facet(requester: &str, guest: Option<&str>) -> TicketFacet {
        TicketFacet {
            title: "t".into(),
            category: TicketCategory::General,
            priority: TicketPriority::Low,
            status: TicketStatus::Open,
            requester_id: requester.into(),
            assigned_admin_id: None,
            guest_name: guest.map(Into::into),
            guest_email: None,
        }
    }

    #[test]
    fn the_requester_is_the_user_side_and_replies_hand_the_ticket_over() {
        let f = facet("ana", None);
        assert_eq!(f.side_of("ana"), TicketSide::User);
        assert_eq!(f.side_of("boss"), TicketSide::Admin);
        assert_eq!(TicketSide::User.status_after_reply(), TicketStatus::WaitingForAdmin);
        assert_eq!(TicketSide::Admin.status_after_reply(), TicketStatus::WaitingForUser);
        assert_eq!(TicketSide::User.other(), TicketSide::Admin);
    }

    #[test]
    fn only_guest_tickets_name_a_connection() {
        let guest = Guest { tenant: "t".into(), connection_id: "abc".into() };
        assert_eq!(facet(&guest.participant_id(), Some("Jo")).guest_connection(), Some("abc"));
        assert_eq!(facet("guest-abc", None).guest_connection(), None, "a user whose id looks like a guest's");
        assert!(!TicketCaller::Guest(guest).is_admin());
        assert!(TicketCaller::Signed(Principal::new("t", "a", Role::Admin)).is_admin());
    }
}
