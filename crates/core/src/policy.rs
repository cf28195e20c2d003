//! Authorization: who may do what. Every door reaches these rules through the service, and no
//! door decides them on its own.

use crate::error::{CoreError, CoreResult};
use crate::model::{Conversation, Membership, Message, Participant, SenderType};
use crate::principal::Principal;

/// What the principal may see of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// Messages with a `seq` above this are visible.
    pub floor_seq: i64,
    /// The principal's active membership.
    pub membership: Membership,
}

/// Another tenant's conversation does not exist for the principal.
pub fn same_tenant(principal: &Principal, conversation: &Conversation) -> CoreResult<()> {
    if conversation.tenant == principal.tenant {
        Ok(())
    } else {
        Err(conversation_not_found(&conversation.id))
    }
}

/// Reading and writing a conversation needs an active membership; participants see what was
/// written after they joined. `membership` is the principal's, if they have one.
pub fn access(
    principal: &Principal,
    conversation: &Conversation,
    membership: Option<&Membership>,
) -> CoreResult<Access> {
    same_tenant(principal, conversation)?;
    match membership {
        Some(m) if m.is_active && m.participant_id == principal.participant_id => {
            Ok(Access { floor_seq: m.joined_seq, membership: m.clone() })
        }
        _ => Err(not_a_participant(&conversation.id)),
    }
}

pub fn not_a_participant(conversation_id: &str) -> CoreError {
    CoreError::forbidden("Conversation.Forbidden", "You are not a participant of this conversation")
        .with_detail("conversationId", conversation_id)
}

pub fn conversation_not_found(conversation_id: &str) -> CoreError {
    CoreError::not_found("Conversation.NotFound", format!("Conversation '{conversation_id}' was not found"))
        .with_detail("conversationId", conversation_id)
}

pub fn message_not_found(message_id: &str) -> CoreError {
    CoreError::not_found("Message.NotFound", format!("Message '{message_id}' was not found"))
        .with_detail("messageId", message_id)
}

/// Only the sender edits a message, and not once it is deleted.
pub fn may_edit(principal: &Principal, message: &Message) -> CoreResult<()> {
    if message.sender_type == SenderType::System || message.sender_id != principal.participant_id {
        return Err(CoreError::forbidden("Message.NotSender", "Only the sender of a message can edit it"));
    }
    if message.is_deleted() {
        return Err(CoreError::conflict(
            "Message.Deleted",
            "The message is deleted; recover it before editing",
        ));
    }
    Ok(())
}

/// The sender deletes and recovers a message; so do the tenant's admins.
pub fn may_delete(principal: &Principal, message: &Message) -> CoreResult<()> {
    let own = message.sender_type != SenderType::System && message.sender_id == principal.participant_id;
    if own || principal.role.is_staff() {
        Ok(())
    } else {
        Err(CoreError::forbidden(
            "Message.NotSender",
            "Only the sender of a message (or an admin) can delete or recover it",
        ))
    }
}

/// The conversation's owner removes others; admins too. Anyone may leave.
pub fn may_remove_member(principal: &Principal, conversation: &Conversation) -> CoreResult<()> {
    if conversation.owner_id == principal.participant_id || principal.role.is_staff() {
        Ok(())
    } else {
        Err(CoreError::forbidden(
            "Conversation.NotOwner",
            "Only the owner of a conversation can remove other participants",
        ))
    }
}

/// Anyone may create a participant that does not exist yet; an existing one is changed by itself
/// or by the tenant's staff. Customers do not manage participants.
pub fn may_write_participant(
    principal: &Principal,
    id: &str,
    existing: Option<&Participant>,
) -> CoreResult<()> {
    use crate::principal::Role;
    let allowed = match (principal.role, existing) {
        (Role::Customer, _) => false,
        (_, None) => true,
        (role, Some(p)) => role.is_staff() || (p.id == principal.participant_id && !p.is_bot()),
    };
    if allowed {
        Ok(())
    } else {
        Err(CoreError::forbidden("Participant.Forbidden", format!("You may not change participant '{id}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::principal::Role;
    use crate::time::Timestamp;

    fn details(owner: &str, members: &[(&str, bool, i64)]) -> ConversationDetails {
        ConversationDetails {
            conversation: Conversation {
                id: "C".into(),
                tenant: "t1".into(),
                name: None,
                avatar: None,
                owner_id: owner.into(),
                created_at: Timestamp::from_unix_ms(0),
                updated_at: Timestamp::from_unix_ms(0),
                last_message_at: None,
                last_message_id: None,
                last_seq: 10,
            },
            members: members
                .iter()
                .map(|(id, active, seq)| Membership {
                    conversation_id: "C".into(),
                    participant_id: (*id).into(),
                    joined_at: Timestamp::from_unix_ms(0),
                    left_at: None,
                    is_active: *active,
                    is_pinned: false,
                    pinned_at: None,
                    joined_seq: *seq,
                })
                .collect(),
        }
    }

    #[test]
    fn members_see_from_their_join_and_others_are_refused() {
        let d = details("a", &[("a", true, 0), ("b", true, 7), ("gone", false, 0)]);
        let check =
            |who: &str, role| access(&Principal::new("t1", who, role), &d.conversation, d.membership(who));
        assert_eq!(check("b", Role::User).unwrap().floor_seq, 7);
        let gone = check("gone", Role::User).unwrap_err();
        assert_eq!(gone.kind, crate::ErrorKind::Forbidden);
        assert_eq!(gone.details["conversationId"], "C");
        let stranger = check("z", Role::Admin).unwrap_err();
        assert_eq!(stranger.kind, crate::ErrorKind::Forbidden);
    }

    #[test]
    fn other_tenants_do_not_see_the_conversation_at_all() {
        let d = details("a", &[("a", true, 0)]);
        let err =
            access(&Principal::new("t2", "a", Role::User), &d.conversation, d.membership("a")).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::NotFound);
    }

    #[test]
    fn only_owner_or_staff_remove_members() {
        let d = details("a", &[("a", true, 0), ("b", true, 0)]);
        let c = &d.conversation;
        assert!(may_remove_member(&Principal::new("t1", "a", Role::User), c).is_ok());
        assert!(may_remove_member(&Principal::new("t1", "b", Role::User), c).is_err());
        assert!(may_remove_member(&Principal::new("t1", "x", Role::Admin), c).is_ok());
    }

    #[test]
    fn participants_are_changed_by_themselves_or_staff() {
        let p = Participant {
            tenant: "t1".into(),
            id: "alice".into(),
            unique_name: "alice".into(),
            full_name: "Alice".into(),
            avatar: None,
            gender: None,
            kind: ParticipantKind::User,
            created_at: Timestamp::from_unix_ms(0),
            updated_at: Timestamp::from_unix_ms(0),
        };
        let user = |id: &str| Principal::new("t1", id, Role::User);
        assert!(may_write_participant(&user("alice"), "alice", Some(&p)).is_ok());
        assert!(may_write_participant(&user("bob"), "alice", Some(&p)).is_err());
        assert!(may_write_participant(&user("bob"), "carol", None).is_ok());
        assert!(may_write_participant(&Principal::new("t1", "d", Role::Dev), "alice", Some(&p)).is_ok());
        assert!(may_write_participant(&Principal::new("t1", "c", Role::Customer), "n", None).is_err());
    }
}
