//! Authorization: who may do what. Every door reaches these rules through the service, and no
//! door decides them on its own.

use crate::error::{CoreError, CoreResult};
use crate::model::{Conversation, Membership, Message, Participant, SenderType};
use crate::model::{Ticket, TicketCaller, TicketSide};
use crate::principal::{Principal, Role};

/// What the principal may see of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// Messages with a `seq` above this are visible.
    pub floor_seq: i64,
    /// The principal's active membership; `None` for staff handling a channel conversation
    /// they are not part of.
    pub membership: Option<Membership>,
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
/// written after they joined. The tenant's agents and admins also handle every channel
/// conversation (customer chats, social inboxes) without being in it, and see all of it; the
/// tenant's admins likewise handle every support ticket.
/// `membership` is the principal's, if they have one.
pub fn access(
    principal: &Principal,
    conversation: &Conversation,
    membership: Option<&Membership>,
) -> CoreResult<Access> {
    same_tenant(principal, conversation)?;
    // A ticket is between its requester and the tenant's admins, whoever else was added to it.
    if let Some(ticket) = &conversation.ticket
        && ticket.requester_id != principal.participant_id
        && principal.role != Role::Admin
    {
        return Err(not_a_participant(&conversation.id));
    }
    match membership {
        Some(m) if m.is_active && m.participant_id == principal.participant_id => {
            Ok(Access { floor_seq: m.joined_seq, membership: Some(m.clone()) })
        }
        _ if handles_channels(principal) && conversation.channel.is_some() => {
            Ok(Access { floor_seq: 0, membership: None })
        }
        _ if principal.role == Role::Admin && conversation.ticket.is_some() => {
            Ok(Access { floor_seq: 0, membership: None })
        }
        _ => Err(not_a_participant(&conversation.id)),
    }
}

/// Agents and admins answer the tenant's channel conversations.
pub fn handles_channels(principal: &Principal) -> bool {
    matches!(principal.role, Role::Agent | Role::Admin)
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

pub fn file_not_found(storage_key: &str) -> CoreError {
    CoreError::not_found("File.NotFound", format!("File '{storage_key}' was not found"))
        .with_detail("storageKey", storage_key)
}

/// Only the participant who uploaded a file deletes it. Another tenant's file does not exist
/// for the principal.
pub fn may_delete_file(principal: &Principal, file: &crate::model::StoredFile) -> CoreResult<()> {
    if file.tenant != principal.tenant {
        return Err(file_not_found(&file.storage_key));
    }
    if file.uploader_id != principal.participant_id {
        return Err(CoreError::forbidden(
            "File.NotUploader",
            "Only the participant who uploaded a file can delete it",
        )
        .with_detail("storageKey", &file.storage_key));
    }
    Ok(())
}

/// An upload URL is used by the participant it was granted to; to anyone else, including
/// another tenant, it does not exist.
pub fn may_use_upload_grant(principal: &Principal, grant: &crate::model::UploadGrant) -> CoreResult<()> {
    if grant.tenant == principal.tenant && grant.uploader_id == principal.participant_id {
        Ok(())
    } else {
        Err(upload_not_found(&grant.id))
    }
}

pub fn upload_not_found(upload_id: &str) -> CoreError {
    CoreError::not_found(
        "Upload.NotFound",
        format!("Upload '{upload_id}' was not found; ask for a new upload URL"),
    )
    .with_detail("uploadId", upload_id)
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

/// Bots are managed by developers (`role=dev`) of the tenant. To anyone else the management API
/// does not exist: NotFound, not Forbidden, so it does not even confirm a bot's id.
pub fn may_manage_bots(principal: &Principal) -> CoreResult<()> {
    if principal.role == crate::principal::Role::Dev {
        Ok(())
    } else {
        Err(CoreError::not_found("Bot.NotFound", "Not found"))
    }
}

/// Only a bot's own credential acts as the bot (event stream, streamed replies).
pub fn must_be_bot(principal: &Principal) -> CoreResult<()> {
    if principal.role == crate::principal::Role::Bot {
        Ok(())
    } else {
        Err(CoreError::forbidden("Bot.TokenRequired", "This needs a bot token (POST /api/bots/{id}/token)"))
    }
}

/// The tenant's admins connect channel accounts and make logins for their agents.
pub fn may_administer_tenant(principal: &Principal) -> CoreResult<()> {
    if principal.role == Role::Admin {
        Ok(())
    } else {
        Err(CoreError::forbidden("Tenant.AdminOnly", "This needs an admin token of the tenant"))
    }
}

/// Channel dashboards (ChatOmni, WhatsApp) show the tenant's channel conversations: to the
/// agents and admins who handle them, of that tenant only.
pub fn may_watch_channels(principal: &Principal, tenant: &str) -> CoreResult<()> {
    if principal.tenant != tenant {
        return Err(CoreError::forbidden(
            "Channel.OtherTenant",
            format!("The token is for tenant '{}', not '{tenant}'", principal.tenant),
        ));
    }
    if !handles_channels(principal) {
        return Err(CoreError::forbidden(
            "Channel.StaffOnly",
            "Channel dashboards are for agents and admins; use an agent or admin token",
        ));
    }
    Ok(())
}

/// Who follows a support ticket: its requester (a guest only from the connection that opened it)
/// and the tenant's admins, on the sides they write on. To another tenant the ticket does not
/// exist.
pub fn ticket_side(caller: &TicketCaller, ticket: &Ticket) -> CoreResult<TicketSide> {
    if ticket.tenant != caller.tenant() {
        return Err(ticket_not_found(&ticket.id));
    }
    if ticket.facet.requester_id == caller.participant_id() {
        Ok(TicketSide::User)
    } else if caller.is_admin() {
        Ok(TicketSide::Admin)
    } else {
        Err(CoreError::forbidden(
            "Ticket.Forbidden",
            "Only the ticket's requester and the tenant's admins follow it",
        )
        .with_detail("ticketId", &ticket.id))
    }
}

/// Guests open a ticket and follow it; writing, marking read and paging history need an account.
pub fn must_sign_in<'a>(caller: &'a TicketCaller, action: &str) -> CoreResult<&'a Principal> {
    match caller {
        TicketCaller::Signed(principal) => Ok(principal),
        TicketCaller::Guest(_) => Err(CoreError::unauthorized(
            "Ticket.SignInRequired",
            format!("Guests cannot {action}; connect with a token (auth.token) to do it"),
        )),
    }
}

/// Anyone with a token opens tickets, except bots (customers hold no JWTs).
pub fn may_open_ticket(principal: &Principal) -> CoreResult<()> {
    if principal.role == Role::Bot {
        Err(CoreError::forbidden("Ticket.BotsCannotOpen", "Bots do not open support tickets"))
    } else {
        Ok(())
    }
}

/// Listing every ticket, assigning and changing status is for the tenant's admins.
pub fn may_manage_tickets(principal: &Principal) -> CoreResult<()> {
    if principal.role == Role::Admin {
        Ok(())
    } else {
        Err(CoreError::forbidden(
            "Ticket.AdminOnly",
            "Managing support tickets needs an admin token of the tenant",
        ))
    }
}

pub fn ticket_not_found(ticket_id: &str) -> CoreError {
    CoreError::not_found("Ticket.NotFound", format!("Ticket '{ticket_id}' was not found"))
        .with_detail("ticketId", ticket_id)
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
                channel: None,
                ticket: None,
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
    fn agents_and_admins_handle_channel_conversations_of_their_tenant_only() {
        let mut d = details("a", &[("a", true, 5)]);
        let agent = Principal::new("t1", "agent", Role::Agent);
        assert!(access(&agent, &d.conversation, None).is_err(), "not a channel conversation");
        d.conversation.channel = Some(ChannelFacet { channel: "WEB".into(), ..Default::default() });
        let seen = access(&agent, &d.conversation, None).unwrap();
        assert_eq!((seen.floor_seq, seen.membership), (0, None));
        assert!(access(&Principal::new("t1", "admin", Role::Admin), &d.conversation, None).is_ok());
        assert!(access(&Principal::new("t1", "u", Role::User), &d.conversation, None).is_err());
        assert!(access(&Principal::new("t1", "d", Role::Dev), &d.conversation, None).is_err());
        let other_tenant = access(&Principal::new("t2", "agent", Role::Agent), &d.conversation, None);
        assert_eq!(other_tenant.unwrap_err().kind, crate::ErrorKind::NotFound);
    }

    #[test]
    fn only_the_uploader_deletes_a_file_and_other_tenants_do_not_see_it() {
        let file = StoredFile {
            storage_key: "K/a.png".into(),
            tenant: "t1".into(),
            uploader_id: "ana".into(),
            file_name: "a.png".into(),
            content_type: "image/png".into(),
            size: 1,
            created_at: Timestamp::from_unix_ms(0),
            thumbnail_key: None,
            thumbnail_of: None,
        };
        assert!(may_delete_file(&Principal::new("t1", "ana", Role::User), &file).is_ok());
        let other = may_delete_file(&Principal::new("t1", "ben", Role::Admin), &file).unwrap_err();
        assert_eq!(other.kind, crate::ErrorKind::Forbidden);
        let foreign = may_delete_file(&Principal::new("t2", "ana", Role::User), &file).unwrap_err();
        assert_eq!(foreign.kind, crate::ErrorKind::NotFound);
    }

    fn ticket(requester: &str, guest_name: Option<&str>) -> Ticket {
        Ticket {
            id: "T".into(),
            tenant: "t1".into(),
            facet: TicketFacet {
                title: "Help".into(),
                category: TicketCategory::General,
                priority: TicketPriority::High,
                status: TicketStatus::Open,
                requester_id: requester.into(),
                assigned_admin_id: None,
                guest_name: guest_name.map(Into::into),
                guest_email: None,
            },
            created_at: Timestamp::from_unix_ms(0),
            updated_at: Timestamp::from_unix_ms(0),
            user_name: None,
            admin_name: None,
            unread_count: None,
        }
    }

    #[test]
    fn a_ticket_is_followed_by_its_requester_and_the_tenants_admins_only() {
        let t = ticket("ana", None);
        let signed = |tenant: &str, id: &str, role| TicketCaller::Signed(Principal::new(tenant, id, role));
        assert_eq!(ticket_side(&signed("t1", "ana", Role::User), &t).unwrap(), TicketSide::User);
        assert_eq!(ticket_side(&signed("t1", "boss", Role::Admin), &t).unwrap(), TicketSide::Admin);
        let other_user = ticket_side(&signed("t1", "ben", Role::User), &t).unwrap_err();
        assert_eq!(other_user.kind, crate::ErrorKind::Forbidden);
        let agent = ticket_side(&signed("t1", "al", Role::Agent), &t).unwrap_err();
        assert_eq!(agent.kind, crate::ErrorKind::Forbidden);
        let foreign_admin = ticket_side(&signed("t2", "boss", Role::Admin), &t).unwrap_err();
        assert_eq!(foreign_admin.kind, crate::ErrorKind::NotFound);
    }

    #[test]
    fn guests_follow_only_their_own_ticket_and_must_sign_in_to_write() {
        let mine = Guest { tenant: "t1".into(), connection_id: "s1".into() };
        let other = Guest { tenant: "t1".into(), connection_id: "s2".into() };
        let t = ticket(&mine.participant_id(), Some("Jo"));
        assert_eq!(ticket_side(&TicketCaller::Guest(mine.clone()), &t).unwrap(), TicketSide::User);
        let stranger = ticket_side(&TicketCaller::Guest(other), &t).unwrap_err();
        assert_eq!(stranger.kind, crate::ErrorKind::Forbidden);
        let write = must_sign_in(&TicketCaller::Guest(mine), "write").unwrap_err();
        assert_eq!(write.kind, crate::ErrorKind::Unauthorized);
    }

    #[test]
    fn only_the_requester_and_admins_reach_a_ticket_conversation_whoever_is_a_member() {
        let mut d = details("ana", &[("ana", true, 0), ("added", true, 0)]);
        d.conversation.ticket = Some(ticket("ana", None).facet);
        let check =
            |who: &str, role| access(&Principal::new("t1", who, role), &d.conversation, d.membership(who));
        assert!(check("ana", Role::User).is_ok());
        assert!(check("boss", Role::Admin).is_ok());
        assert_eq!(check("added", Role::User).unwrap_err().kind, crate::ErrorKind::Forbidden);
        assert_eq!(check("agent", Role::Agent).unwrap_err().kind, crate::ErrorKind::Forbidden);
    }

    #[test]
    fn only_admins_manage_tickets_and_bots_do_not_open_them() {
        assert!(may_manage_tickets(&Principal::new("t1", "a", Role::Admin)).is_ok());
        assert!(may_manage_tickets(&Principal::new("t1", "a", Role::Agent)).is_err());
        assert!(may_open_ticket(&Principal::new("t1", "u", Role::User)).is_ok());
        assert!(may_open_ticket(&Principal::new("t1", "b", Role::Bot)).is_err());
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
