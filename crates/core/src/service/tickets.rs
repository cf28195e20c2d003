//! Support tickets (seed 001). A ticket is a conversation with a ticket facet whose requester
//! (a user, or a guest participant made for the guest's connection) is its member and which the
//! tenant's admins handle without being members. Its messages are ordinary messages, so every
//! door shows them; what is particular to tickets is here: opening one, listings, history page by
//! page, the status a reply leads to, per-side read marks and unread counts, and the admins'
//! assignment and status changes.

use futures_util::future::join;

use super::messages::redacted;
use super::{Core, Page, SendMessage, Sent, summary};
use crate::cursor;
use crate::error::{CoreError, CoreResult};
use crate::event::{
    ConversationEvent, EventKind, MessageEvent, TicketChangedEvent, TicketEvent, TicketReadEvent,
    TicketUnreadEvent,
};
use crate::ids::new_id;
use crate::model::*;
use crate::policy;
use crate::principal::Principal;
use crate::store::{Appended, TicketAppend, TicketQuery};
use crate::validate::{Check, media_of, plain_text_of};

/// The code of validation errors about size (a title, message or attachment list too large),
/// which the support desk answers with 413 rather than 400.
pub const TICKET_TOO_LARGE: &str = "Validation.TooLarge";

/// Characters in a guest's e-mail address.
const MAX_EMAIL_CHARS: usize = 320;
/// Pages of a ticket's history a client may ask for (`page` × `limit` bounds the offset).
const MAX_HISTORY_PAGE: u32 = 100_000;

/// A ticket as its requester opens it (`CREATE_TICKET`, `CREATE_GUEST_TICKET`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewTicket {
    pub title: String,
    /// The description: the ticket's first message.
    pub message: String,
    /// One of the seed's categories; `GENERAL` when absent.
    pub category: Option<String>,
    /// One of the seed's priorities; `MEDIUM` when absent.
    pub priority: Option<String>,
    /// Outside URLs (`https://…`) or paths on this server (`/api/files/…`).
    pub attachments: Vec<String>,
}

/// How a guest introduces themselves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuestDetails {
    pub name: String,
    pub email: Option<String>,
}

/// A message on a ticket (`SEND_MESSAGE`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketReply {
    pub message: String,
    pub attachments: Vec<String>,
}

/// The admins' ticket listing: filters by name as the seed writes them, and the page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketFilter {
    pub status: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub assignee_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One page of a ticket's history (`LOAD_MORE_MESSAGES`): page 1 holds the newest messages;
/// within a page, messages are oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketMessages {
    pub ticket: Ticket,
    pub messages: Vec<Message>,
    /// Who wrote them, for their names.
    pub people: Vec<ParticipantRef>,
    pub page: u32,
    pub limit: u32,
    pub has_more: bool,
}

/// A message being committed: what it became, and on a ticket what the reply changed.
pub(super) type Committing = std::pin::Pin<
    Box<dyn std::future::Future<Output = CoreResult<(Appended, Option<TicketReplied>)>> + Send>,
>;

/// What a reply on a ticket changed, announced after the reply's `MessageCreated`.
pub(super) struct TicketReplied {
    side: TicketSide,
    old_status: TicketStatus,
    /// The writer's side's unread count before it wrote (writing reads everything before).
    writer_unread: u64,
    /// The other side's unread count with the reply.
    reader_unread: u64,
}

/// Ticket input checks, keeping size failures (413 on the support desk) apart from the others.
#[derive(Default)]
struct TicketCheck {
    shape: Check,
    size: Check,
}

impl TicketCheck {
    fn text(&mut self, field: &str, value: &str, max: usize, required: bool) {
        if required && value.trim().is_empty() {
            self.shape.fail(field, "must not be empty");
        } else if value.chars().count() > max {
            self.size.fail(field, format!("must be at most {max} characters"));
        }
    }

    fn attachments(&mut self, attachments: &[String], limits: &crate::Limits) {
        if attachments.len() > limits.max_ticket_attachments {
            self.size
                .fail("attachments", format!("must have at most {} entries", limits.max_ticket_attachments));
        }
        for (i, url) in attachments.iter().enumerate() {
            let field = format!("attachments[{i}]");
            self.text(&field, url, limits.max_url_chars, true);
            let lower = url.trim().to_ascii_lowercase();
            let allowed =
                lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with('/');
            if !url.trim().is_empty() && !allowed {
                self.shape.fail(field, "must be an http(s) URL or a path on this server (/api/files/…)");
            }
        }
    }

    /// Shape failures answer as a plain validation error (listing size failures too); size
    /// failures alone carry [`TICKET_TOO_LARGE`].
    fn finish(self) -> CoreResult<()> {
        match (self.shape.finish().err(), self.size.finish().err()) {
            (None, None) => Ok(()),
            (Some(mut shape), size) => {
                shape.errors.extend(size.into_iter().flat_map(|e| e.errors));
                Err(shape)
            }
            (None, Some(size)) => Err(CoreError { code: TICKET_TOO_LARGE.to_owned(), ..size }),
        }
    }
}

fn parse_named<T>(
    check: &mut TicketCheck,
    field: &str,
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
    names: String,
) -> Option<T> {
    let value = value?;
    let parsed = parse(value.trim());
    if parsed.is_none() {
        check.shape.fail(field, format!("must be one of {names}"));
    }
    parsed
}

/// The blocks of a ticket message: its text, then one file block per attachment URL.
fn ticket_blocks(message: &str, attachments: &[String]) -> Vec<Block> {
    let mut blocks = vec![Block::plain_text(message.trim())];
    blocks.extend(attachments.iter().map(|url| attachment_block(url.trim())));
    blocks
}

fn attachment_block(url: &str) -> Block {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("attachment");
    Block::File(FileBlock {
        source: MediaReference { storage_key: None, url: Some(url.to_owned()) },
        file_name: name.chars().take(255).collect(),
        mime_type: None,
        file_size_bytes: None,
    })
}

impl Core {
    /// Opens a ticket for a signed-in caller (`CREATE_TICKET`); guests have their own
    /// ([`Core::create_guest_ticket`]).
    pub async fn create_ticket(&self, caller: &TicketCaller, input: NewTicket) -> CoreResult<Ticket> {
        let principal =
            policy::must_sign_in(caller, "open a ticket with CREATE_TICKET (use CREATE_GUEST_TICKET)")?;
        policy::may_open_ticket(principal)?;
        let mut check = TicketCheck::default();
        let (category, priority) = self.check_new_ticket(&mut check, &input);
        check.finish()?;
        let facet = TicketFacet {
            title: input.title.trim().to_owned(),
            category,
            priority,
            status: TicketStatus::Open,
            requester_id: principal.participant_id.clone(),
            assigned_admin_id: None,
            guest_name: None,
            guest_email: None,
        };
        let blocks = ticket_blocks(&input.message, &input.attachments);
        // Listings and messages show the requester's name from here on.
        self.ensure_participant(principal).await?;
        self.open_ticket(&TicketCaller::Signed(principal.clone()), facet, blocks, None).await
    }

    /// Opens a ticket for a guest (`CREATE_GUEST_TICKET`); the guest's participant is made for
    /// its connection on its first ticket.
    pub async fn create_guest_ticket(
        &self,
        guest: &Guest,
        input: NewTicket,
        details: GuestDetails,
    ) -> CoreResult<Ticket> {
        let l = &self.limits;
        let mut check = TicketCheck::default();
        let (category, priority) = self.check_new_ticket(&mut check, &input);
        check.text("guestName", &details.name, l.max_name_chars, true);
        if let Some(email) = &details.email {
            check.text("guestEmail", email, MAX_EMAIL_CHARS, false);
            if !email.trim().is_empty() && !email.contains('@') {
                check.shape.fail("guestEmail", "must be an e-mail address");
            }
        }
        check.finish()?;
        let email = details.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
        let now = self.clock.now();
        let participant = Participant {
            tenant: guest.tenant.clone(),
            id: guest.participant_id(),
            unique_name: guest.participant_id(),
            full_name: details.name.trim().to_owned(),
            avatar: None,
            gender: None,
            kind: ParticipantKind::Guest,
            created_at: now,
            updated_at: now,
        };
        let facet = TicketFacet {
            title: input.title.trim().to_owned(),
            category,
            priority,
            status: TicketStatus::Open,
            requester_id: guest.participant_id(),
            assigned_admin_id: None,
            guest_name: Some(participant.full_name.clone()),
            guest_email: email,
        };
        let blocks = ticket_blocks(&input.message, &input.attachments);
        self.open_ticket(&TicketCaller::Guest(guest.clone()), facet, blocks, Some(participant)).await
    }

    fn check_new_ticket(
        &self,
        check: &mut TicketCheck,
        input: &NewTicket,
    ) -> (TicketCategory, TicketPriority) {
        let l = &self.limits;
        check.text("title", &input.title, l.max_ticket_title_chars, true);
        check.text("message", &input.message, l.max_text_chars, true);
        check.attachments(&input.attachments, l);
        let category = parse_named(
            check,
            "category",
            input.category.as_deref(),
            TicketCategory::parse,
            TicketCategory::names(),
        );
        let priority = parse_named(
            check,
            "priority",
            input.priority.as_deref(),
            TicketPriority::parse,
            TicketPriority::names(),
        );
        (category.unwrap_or(TicketCategory::General), priority.unwrap_or(TicketPriority::Medium))
    }

    async fn open_ticket(
        &self,
        requester: &TicketCaller,
        facet: TicketFacet,
        blocks: Vec<Block>,
        guest: Option<Participant>,
    ) -> CoreResult<Ticket> {
        let now = self.clock.now();
        let tenant = requester.tenant().to_owned();
        let requester_id = requester.participant_id();
        let conversation = Conversation {
            id: new_id(),
            tenant: tenant.clone(),
            name: Some(facet.title.clone()),
            avatar: None,
            owner_id: requester_id.clone(),
            created_at: now,
            updated_at: now,
            last_message_at: None,
            last_message_id: None,
            last_seq: 0,
            channel: None,
            ticket: Some(facet),
        };
        let member = Membership {
            conversation_id: conversation.id.clone(),
            participant_id: requester_id.clone(),
            joined_at: now,
            left_at: None,
            is_active: true,
            is_pinned: false,
            pinned_at: None,
            joined_seq: 0,
        };
        let first = NewMessage {
            id: new_id(),
            conversation_id: conversation.id.clone(),
            sender_id: requester_id.clone(),
            sender_type: SenderType::User,
            plain_text: plain_text_of(&blocks),
            media: media_of(&blocks),
            blocks,
            reply_to_message_id: None,
            quick_replies: None,
            mentions: None,
            client_message_id: None,
            system_event: None,
            external: None,
            created_at: now,
        };
        let _guard = self.lock(&conversation.id).await;
        let message = self.store.create_ticket(&conversation, &member, guest.as_ref(), &first).await?;
        let ticket = self.load_ticket(&conversation.id).await?;
        let sender = self.person(&requester.acting_principal()).await?;
        let summary = summary(&conversation, 1);
        self.publish(&tenant, EventKind::TicketCreated(TicketEvent { ticket: ticket.clone() })).await;
        self.publish(
            &tenant,
            EventKind::ConversationCreated(ConversationEvent {
                conversation: summary.clone(),
                notify: vec![requester_id.clone()],
            }),
        )
        .await;
        self.publish(
            &tenant,
            EventKind::MessageCreated(MessageEvent {
                conversation: summary,
                message,
                sender,
                people: Vec::new(),
                recipients: vec![requester_id],
            }),
        )
        .await;
        // The description is the admins' first unread message.
        self.publish(
            &tenant,
            EventKind::TicketUnread(TicketUnreadEvent {
                ticket_id: ticket.id.clone(),
                ticket: ticket.facet.clone(),
                side: TicketSide::Admin,
                unread_count: 1,
                is_new: true,
            }),
        )
        .await;
        Ok(ticket)
    }

    async fn load_ticket(&self, id: &str) -> CoreResult<Ticket> {
        self.store.ticket(id).await?.ok_or_else(|| policy::ticket_not_found(id))
    }

    /// The ticket and the side the caller follows it on.
    async fn followed_ticket(&self, caller: &TicketCaller, id: &str) -> CoreResult<(Ticket, TicketSide)> {
        let mut check = Check::new();
        check.id("ticketId", id, self.limits.max_id_chars);
        check.finish()?;
        let ticket = self.load_ticket(id).await?;
        let side = policy::ticket_side(caller, &ticket)?;
        Ok((ticket, side))
    }

    /// The caller's tickets, most recently changed first (`TICKET_LIST`): the ones they opened,
    /// or, for admins, every ticket of the tenant.
    pub async fn ticket_list(&self, caller: &TicketCaller) -> CoreResult<Vec<Ticket>> {
        let admin = caller.is_admin();
        let query = TicketQuery {
            tenant: caller.tenant().to_owned(),
            requester_id: (!admin).then(|| caller.participant_id()),
            status: None,
            category: None,
            priority: None,
            assignee_id: None,
            after: None,
            limit: self.limits.max_ticket_list,
            unread_for: if admin { TicketSide::Admin } else { TicketSide::User },
        };
        Ok(self.store.tickets(&query).await?)
    }

    /// One ticket, if the caller follows it (`JOIN_ROOM` with a `ticketId`).
    pub async fn ticket(&self, caller: &TicketCaller, id: &str) -> CoreResult<Ticket> {
        Ok(self.followed_ticket(caller, id).await?.0)
    }

    /// A page of the ticket's history (`LOAD_MORE_MESSAGES`); system messages are left out.
    pub async fn ticket_messages(
        &self,
        caller: &TicketCaller,
        id: &str,
        page: Option<u32>,
        limit: Option<u32>,
    ) -> CoreResult<TicketMessages> {
        policy::must_sign_in(caller, "load a ticket's messages")?;
        let limit = self.page_limit(limit, 20)?;
        let page = page.unwrap_or(1);
        if !(1..=MAX_HISTORY_PAGE).contains(&page) {
            return Err(CoreError::invalid("page", format!("must be from 1 to {MAX_HISTORY_PAGE}")));
        }
        let (ticket, _) = self.followed_ticket(caller, id).await?;
        let offset = u64::from(page - 1) * u64::from(limit);
        let mut rows = self.store.ticket_messages(id, offset, limit + 1).await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        rows.reverse();
        let mut writers: Vec<String> = rows.iter().map(|m| m.sender_id.clone()).collect();
        writers.sort_unstable();
        writers.dedup();
        let people = self
            .store
            .participants(&ticket.tenant, &writers)
            .await?
            .iter()
            .map(ParticipantRef::from)
            .collect();
        let messages = rows.into_iter().map(redacted).collect();
        Ok(TicketMessages { ticket, messages, people, page, limit, has_more })
    }

    /// A message on a ticket (`SEND_MESSAGE`): an ordinary message of the ticket's conversation,
    /// which moves the ticket to the other side (see [`TicketSide::status_after_reply`]).
    pub async fn reply_to_ticket(
        &self,
        caller: &TicketCaller,
        id: &str,
        reply: TicketReply,
    ) -> CoreResult<Sent> {
        let principal = policy::must_sign_in(caller, "write on a ticket")?;
        let mut check = TicketCheck::default();
        check.text("message", &reply.message, self.limits.max_text_chars, true);
        check.attachments(&reply.attachments, &self.limits);
        check.finish()?;
        // The ticket's history shows the writer's name, admins' included: read beside the
        // ticket, and made only once the writer may write here.
        let known = self.store.participant(&principal.tenant, &principal.participant_id);
        let (followed, known) = join(self.followed_ticket(caller, id), known).await;
        followed?;
        let writer = match known? {
            Some(writer) => writer,
            None => self.ensure_participant(principal).await?,
        };
        let blocks = ticket_blocks(&reply.message, &reply.attachments);
        let input = SendMessage { blocks, ..Default::default() };
        self.send_message_from(principal, id, input, Some(ParticipantRef::from(&writer))).await
    }

    /// The caller's side has read the ticket up to `message_id` (the newest message when
    /// absent). Announces the read and the side's new unread count; returns that count.
    pub async fn mark_ticket_read(
        &self,
        caller: &TicketCaller,
        id: &str,
        message_id: Option<&str>,
    ) -> CoreResult<u64> {
        let principal = policy::must_sign_in(caller, "mark a ticket read")?;
        if let Some(m) = message_id {
            let mut check = Check::new();
            check.id("messageId", m, self.limits.max_id_chars);
            check.finish()?;
        }
        let _guard = self.lock(id).await;
        let (ticket, side) = self.followed_ticket(caller, id).await?;
        let message = match message_id {
            Some(m) => match self.store.message(m).await? {
                Some(found) if found.conversation_id == id => Some(found),
                _ => return Err(policy::message_not_found(m)),
            },
            None => self.store.ticket_messages(id, 0, 1).await?.pop(),
        };
        let now = self.clock.now();
        if let Some(message) = &message {
            self.store.mark_ticket_read(id, side, message.seq, now).await?;
        }
        let unread = self.store.ticket_unread(id, side).await?;
        if let Some(message) = message {
            self.publish(
                &ticket.tenant,
                EventKind::TicketRead(TicketReadEvent {
                    ticket_id: ticket.id.clone(),
                    ticket: ticket.facet.clone(),
                    side,
                    reader_id: principal.participant_id.clone(),
                    message_id: message.id,
                    at: now,
                }),
            )
            .await;
        }
        self.publish(
            &ticket.tenant,
            EventKind::TicketUnread(TicketUnreadEvent {
                ticket_id: ticket.id,
                ticket: ticket.facet,
                side,
                unread_count: unread,
                is_new: false,
            }),
        )
        .await;
        Ok(unread)
    }

    /// The caller started or stopped typing on a ticket (guests too, on their own ticket).
    pub async fn ticket_typing(&self, caller: &TicketCaller, id: &str, started: bool) -> CoreResult<()> {
        self.followed_ticket(caller, id).await?;
        self.typing(&caller.acting_principal(), id, started).await
    }

    /// The tenant's tickets for its admins, filtered, most recently changed first.
    pub async fn admin_tickets(
        &self,
        principal: &Principal,
        filter: TicketFilter,
    ) -> CoreResult<Page<Ticket>> {
        policy::may_manage_tickets(principal)?;
        let limit = self.page_limit(filter.limit, 50)?;
        let mut check = TicketCheck::default();
        let status = parse_named(
            &mut check,
            "status",
            filter.status.as_deref(),
            TicketStatus::parse,
            TicketStatus::names(),
        );
        let category = parse_named(
            &mut check,
            "category",
            filter.category.as_deref(),
            TicketCategory::parse,
            TicketCategory::names(),
        );
        let priority = parse_named(
            &mut check,
            "priority",
            filter.priority.as_deref(),
            TicketPriority::parse,
            TicketPriority::names(),
        );
        if let Some(a) = &filter.assignee_id {
            check.shape.id("assigneeId", a, self.limits.max_id_chars);
        }
        check.finish()?;
        let after = filter.cursor.as_deref().map(cursor::decode_conversation).transpose()?;
        let query = TicketQuery {
            tenant: principal.tenant.clone(),
            requester_id: None,
            status,
            category,
            priority,
            assignee_id: filter.assignee_id,
            after,
            limit: limit + 1,
            unread_for: TicketSide::Admin,
        };
        let rows = self.store.tickets(&query).await?;
        Ok(Page::from_overfetch(rows, limit, |t| cursor::encode_conversation(t.updated_at, &t.id)))
    }

    /// One ticket of the tenant, for its admins.
    pub async fn admin_ticket(&self, principal: &Principal, id: &str) -> CoreResult<Ticket> {
        policy::may_manage_tickets(principal)?;
        self.ticket(&TicketCaller::Signed(principal.clone()), id).await
    }

    /// Assigns the ticket to an admin (`None`: to nobody).
    pub async fn assign_ticket(
        &self,
        principal: &Principal,
        id: &str,
        admin_id: Option<&str>,
    ) -> CoreResult<Ticket> {
        policy::may_manage_tickets(principal)?;
        if let Some(a) = admin_id {
            let mut check = Check::new();
            check.id("adminId", a, self.limits.max_id_chars);
            check.finish()?;
        }
        let admin_id = admin_id.map(str::to_owned);
        self.change_ticket(principal, id, move |facet| facet.assigned_admin_id = admin_id).await
    }

    /// Sets the ticket's status (any status to any other).
    pub async fn set_ticket_status(
        &self,
        principal: &Principal,
        id: &str,
        status: &str,
    ) -> CoreResult<Ticket> {
        policy::may_manage_tickets(principal)?;
        let status = TicketStatus::parse(status.trim()).ok_or_else(|| {
            CoreError::invalid("status", format!("must be one of {}", TicketStatus::names()))
        })?;
        self.change_ticket(principal, id, move |facet| facet.status = status).await
    }

    /// Applies an admin's change; announces it when something changed.
    async fn change_ticket(
        &self,
        principal: &Principal,
        id: &str,
        change: impl FnOnce(&mut TicketFacet),
    ) -> CoreResult<Ticket> {
        let caller = TicketCaller::Signed(principal.clone());
        let _guard = self.lock(id).await;
        let (ticket, _) = self.followed_ticket(&caller, id).await?;
        let mut facet = ticket.facet.clone();
        change(&mut facet);
        if facet == ticket.facet {
            return Ok(ticket);
        }
        self.store.update_ticket(id, &facet, self.clock.now()).await?;
        let changed = self.load_ticket(id).await?;
        self.publish(
            &changed.tenant,
            EventKind::TicketChanged(TicketChangedEvent {
                ticket: changed.clone(),
                old_status: ticket.facet.status,
                old_assignee_id: ticket.facet.assigned_admin_id,
                changed_by: principal.participant_id.clone(),
            }),
        )
        .await;
        Ok(changed)
    }

    /// Hands a message to the store for its conversation; the returned future waits for the
    /// commit. On a ticket, the reply's status transition and the writer's read mark are stored
    /// in the same transaction, and `conversation` is updated to match; what changed is returned
    /// for [`Core::announce_ticket_reply`].
    pub(super) async fn submit_to_conversation(
        &self,
        principal: &Principal,
        conversation: &mut Conversation,
        new: &NewMessage,
    ) -> CoreResult<Committing> {
        let Some(facet) = conversation.ticket.as_mut() else {
            let committing = self.store.submit_message(new).await?;
            return Ok(Box::pin(async move { Ok((committing.await?, None)) }));
        };
        let side = facet.side_of(&principal.participant_id);
        let status = side.status_after_reply();
        let committing = self.store.submit_ticket_message(new, side, status).await?;
        facet.status = status;
        conversation.updated_at = new.created_at;
        Ok(Box::pin(async move {
            let TicketAppend { appended, old_status, writer_unread, reader_unread } = committing.await?;
            let replied = matches!(appended, Appended::Created(_)).then_some(TicketReplied {
                side,
                old_status,
                writer_unread,
                reader_unread,
            });
            Ok((appended, replied))
        }))
    }

    /// Announces what a ticket reply changed, after its `MessageCreated`: the new status, the
    /// other side's unread count, and the writer's side's count when writing cleared it. The
    /// reply is already stored, so failures here are logged, not returned.
    pub(super) async fn announce_ticket_reply(
        &self,
        principal: &Principal,
        conversation: &Conversation,
        replied: Option<TicketReplied>,
    ) {
        let (Some(replied), Some(facet)) = (replied, &conversation.ticket) else { return };
        let tenant = &conversation.tenant;
        if replied.old_status != facet.status {
            // Read again rather than patched: the reply may have made the writer's participant,
            // which names the ticket's requester or assignee. The status and time are this
            // reply's: a later reply, committed with it, may already have moved them on.
            match self.load_ticket(&conversation.id).await {
                Ok(mut ticket) => {
                    ticket.facet.status = facet.status;
                    ticket.updated_at = conversation.updated_at;
                    let event = TicketChangedEvent {
                        old_assignee_id: ticket.facet.assigned_admin_id.clone(),
                        ticket,
                        old_status: replied.old_status,
                        changed_by: principal.participant_id.clone(),
                    };
                    self.publish(tenant, EventKind::TicketChanged(event)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, ticket = %conversation.id, "ticket change not announced")
                }
            }
        }
        let reader = replied.side.other();
        let event = TicketUnreadEvent {
            ticket_id: conversation.id.clone(),
            ticket: facet.clone(),
            side: reader,
            unread_count: replied.reader_unread,
            is_new: true,
        };
        self.publish(tenant, EventKind::TicketUnread(event)).await;
        if replied.writer_unread > 0 {
            let event = TicketUnreadEvent {
                ticket_id: conversation.id.clone(),
                ticket: facet.clone(),
                side: replied.side,
                unread_count: 0,
                is_new: false,
            };
            self.publish(tenant, EventKind::TicketUnread(event)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_become_file_blocks_named_after_their_last_segment() {
        let blocks =
            ticket_blocks(" hi ", &["https://x.test/a/report.pdf?sig=1".into(), "https://x.test/".into()]);
        assert_eq!(blocks[0], Block::plain_text("hi"));
        let Block::File(first) = &blocks[1] else { panic!("{blocks:?}") };
        assert_eq!(first.file_name, "report.pdf");
        assert_eq!(first.source.url.as_deref(), Some("https://x.test/a/report.pdf?sig=1"));
        let Block::File(second) = &blocks[2] else { panic!("{blocks:?}") };
        assert_eq!(second.file_name, "x.test");
    }

    #[test]
    fn size_failures_alone_are_too_large_and_shape_failures_win() {
        let limits = crate::Limits { max_text_chars: 5, ..crate::Limits::default() };
        let mut only_size = TicketCheck::default();
        only_size.text("message", "123456", limits.max_text_chars, true);
        assert_eq!(only_size.finish().unwrap_err().code, TICKET_TOO_LARGE);
        let mut both = TicketCheck::default();
        both.text("message", "123456", limits.max_text_chars, true);
        both.text("title", " ", 10, true);
        both.attachments(&["javascript:alert(1)".into()], &limits);
        let e = both.finish().unwrap_err();
        assert_eq!(e.code, "Validation");
        let fields: Vec<&str> = e.errors.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(fields, ["title", "attachments[0]", "message"]);
    }
}
