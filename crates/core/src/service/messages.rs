use futures_util::future::join;

use super::channels::Outbound;
use super::tickets::TicketReplied;
use super::{Core, Page, summary};
use crate::cursor;
use crate::error::{CoreError, CoreResult};
use crate::event::{EventKind, MessageDeletedEvent, MessageEvent, ReactionEvent, TypingEvent};
use crate::ids::ParticipantId;
use crate::ids::new_id;
use crate::model::*;
use crate::policy::{self, Access};
use crate::principal::{Principal, Role};
use crate::store::{Appended, Direction, MessageEdit, MessageRange};
use crate::validate::{Check, media_of, plain_text_of};

/// A message as a participant sends it (REST `SendMessageRequest`, hub `SendMessage`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SendMessage {
    pub blocks: Vec<Block>,
    pub reply_to_message_id: Option<String>,
    pub quick_replies: Option<Vec<QuickReply>>,
    pub mentions: Option<Vec<Mention>>,
    pub client_message_id: Option<String>,
}

/// The stored message, and whether this call created it (`false`: an earlier call with the same
/// `clientMessageId` did).
#[derive(Clone, Debug, PartialEq)]
pub struct Sent {
    pub message: Message,
    pub created: bool,
}

/// An edit: `None` keeps mentions / the reply reference, `Some(None)` clears the reference.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EditMessage {
    pub blocks: Vec<Block>,
    pub mentions: Option<Vec<Mention>>,
    pub reply_to_message_id: Option<Option<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub direction: Direction,
}

impl Core {
    pub async fn send_message(
        &self,
        principal: &Principal,
        conversation_id: &str,
        input: SendMessage,
    ) -> CoreResult<Sent> {
        self.send_message_from(principal, conversation_id, input, None).await
    }

    /// `send_message`, with the sender as shown beside the message when the caller has just
    /// read it (else it is read here).
    pub(super) async fn send_message_from(
        &self,
        principal: &Principal,
        conversation_id: &str,
        input: SendMessage,
        sender: Option<ParticipantRef>,
    ) -> CoreResult<Sent> {
        let l = &self.limits;
        let mut check = Check::new();
        check.blocks("blocks", &input.blocks, l);
        if let Some(m) = &input.mentions {
            check.mentions("mentions", m, l);
        }
        if let Some(q) = &input.quick_replies {
            check.quick_replies("quickReplies", q, l);
        }
        if let Some(id) = &input.client_message_id {
            check.id("clientMessageId", id, l.max_client_message_id_chars);
        }
        check.finish()?;

        let mut stripe = self.stripe(conversation_id).await;
        let (mut conversation, access) = self.seen(principal, conversation_id).await?;
        if let Some(reply) = &input.reply_to_message_id {
            self.check_reply_target(conversation_id, &access, reply).await?;
        }
        let new = NewMessage {
            id: new_id(),
            conversation_id: conversation_id.to_owned(),
            sender_id: principal.participant_id.clone(),
            sender_type: if principal.role == Role::Bot { SenderType::Bot } else { SenderType::User },
            plain_text: plain_text_of(&input.blocks),
            media: media_of(&input.blocks),
            blocks: input.blocks,
            reply_to_message_id: input.reply_to_message_id,
            quick_replies: input.quick_replies,
            mentions: input.mentions,
            client_message_id: input.client_message_id,
            system_event: None,
            external: None,
            created_at: self.clock.now(),
        };
        if Self::is_channel_reply(principal, &conversation) {
            // A reply in a channel conversation is queued for the account's connector in the
            // same commit (see `channels`): one at a time, under the lock, after the lane.
            stripe.settle(conversation_id).await;
            let (appended, outbound) = self.append_channel_reply(principal, &conversation, &new).await?;
            let recipients = self.audience(conversation_id).await;
            return self
                .announce_sent(principal, &conversation, appended, recipients, sender, None, outbound)
                .await;
        }
        // Handed to the store in the lane's order under the lock, committed after it (with the
        // conversation's next messages, if they come meanwhile), published in the same order.
        // A ticket's reply also moves its status (see `tickets`).
        let turn = stripe.enter(conversation_id);
        let committing = self.submit_to_conversation(principal, &mut conversation, &new).await?;
        drop(stripe);
        // Who hears of it is read while it commits: members change only under the lock, after
        // the lane has emptied.
        let (committed, recipients) = join(committing, self.audience(conversation_id)).await;
        let (appended, ticket_reply) = committed?;
        turn.wait().await;
        let sent = self
            .announce_sent(principal, &conversation, appended, recipients, sender, ticket_reply, None)
            .await;
        turn.published();
        sent
    }

    /// Answers a send and, for a new message, announces it: `MessageCreated`, then what the
    /// reply changed on a ticket and, for a channel reply, the outbox entry.
    #[allow(clippy::too_many_arguments)]
    async fn announce_sent(
        &self,
        principal: &Principal,
        conversation: &Conversation,
        appended: Appended,
        recipients: CoreResult<Vec<ParticipantId>>,
        sender: Option<ParticipantRef>,
        ticket_reply: Option<TicketReplied>,
        outbound: Option<Outbound>,
    ) -> CoreResult<Sent> {
        let message = match appended {
            Appended::Duplicate(message) => return Ok(Sent { message: redacted(message), created: false }),
            Appended::Created(message) => message,
        };
        if principal.role == Role::Customer {
            self.store
                .touch_customer(&principal.tenant, &principal.participant_id, message.created_at)
                .await?;
        }
        let sender = match sender {
            Some(sender) => sender,
            None => self.person(principal).await?,
        };
        let recipients = recipients?;
        self.publish(
            &principal.tenant,
            EventKind::MessageCreated(MessageEvent {
                conversation: summary(conversation, recipients.len()),
                message: message.clone(),
                sender,
                people: Vec::new(),
                recipients,
            }),
        )
        .await;
        self.announce_ticket_reply(principal, conversation, ticket_reply).await;
        if let Some(outbound) = outbound {
            self.announce_outbound(principal, outbound, &message).await;
        }
        Ok(Sent { message, created: true })
    }

    /// A page of the conversation's log as the principal sees it.
    pub async fn history(
        &self,
        principal: &Principal,
        conversation_id: &str,
        query: HistoryQuery,
    ) -> CoreResult<Page<Message>> {
        let limit = self.page_limit(query.limit, 50)?;
        if let Some(c) = &query.cursor {
            cursor::check_message_cursor(c)?;
        }
        let (_, access) = self.seen(principal, conversation_id).await?;
        let from_seq = match &query.cursor {
            None => None,
            Some(c) => match self.store.message(c).await? {
                Some(m) if m.conversation_id == conversation_id => Some(m.seq),
                _ => {
                    return Err(CoreError::invalid("cursor", "does not name a message of this conversation"));
                }
            },
        };
        let range = MessageRange {
            floor_seq: access.floor_seq,
            from_seq,
            direction: query.direction,
            limit: limit + 1,
        };
        let rows = self.store.messages(conversation_id, &range).await?;
        let mut page = Page::from_overfetch(rows, limit, |m| m.id.clone());
        page.items = page.items.into_iter().map(redacted).collect();
        Ok(page)
    }

    pub async fn search_messages(
        &self,
        principal: &Principal,
        conversation_id: &str,
        query: &str,
        limit: Option<u32>,
    ) -> CoreResult<Vec<Message>> {
        let limit = self.page_limit(limit, 20)?;
        let mut check = Check::new();
        check.text("q", query, self.limits.max_search_chars, true);
        check.finish()?;
        let (_, access) = self.seen(principal, conversation_id).await?;
        Ok(self.store.search_messages(conversation_id, access.floor_seq, query.trim(), limit).await?)
    }

    pub async fn message(&self, principal: &Principal, message_id: &str) -> CoreResult<Message> {
        let (message, _, _) = self.visible_message(principal, message_id).await?;
        Ok(redacted(message))
    }

    pub async fn edit_message(
        &self,
        principal: &Principal,
        message_id: &str,
        edit: EditMessage,
    ) -> CoreResult<Message> {
        let l = &self.limits;
        let mut check = Check::new();
        check.blocks("blocks", &edit.blocks, l);
        if let Some(m) = &edit.mentions {
            check.mentions("mentions", m, l);
        }
        check.finish()?;

        let conversation_id = self.conversation_of(message_id).await?;
        let _guard = self.lock(&conversation_id).await;
        let (message, conversation, access) = self.visible_message(principal, message_id).await?;
        policy::may_edit(principal, &message)?;
        let reply_to = match edit.reply_to_message_id {
            None => message.reply_to_message_id.clone(),
            Some(None) => None,
            Some(Some(reply)) => {
                self.check_reply_target(&conversation_id, &access, &reply).await?;
                Some(reply)
            }
        };
        let update = MessageEdit {
            message_id: message_id.to_owned(),
            plain_text: plain_text_of(&edit.blocks),
            media: media_of(&edit.blocks),
            blocks: edit.blocks,
            mentions: edit.mentions.or(message.mentions),
            reply_to_message_id: reply_to,
            edited_at: self.clock.now(),
        };
        let edited = self.store.edit_message(&update).await?;
        self.publish_message_event(principal, &conversation, edited.clone(), EventKind::MessageUpdated)
            .await?;
        Ok(edited)
    }

    /// Soft delete; deleting a deleted message answers the first deletion again.
    pub async fn delete_message(&self, principal: &Principal, message_id: &str) -> CoreResult<Message> {
        let conversation_id = self.conversation_of(message_id).await?;
        let _guard = self.lock(&conversation_id).await;
        let (message, _, _) = self.visible_message(principal, message_id).await?;
        policy::may_delete(principal, &message)?;
        if message.is_deleted() {
            return Ok(redacted(message));
        }
        let now = self.clock.now();
        let deleted = self
            .store
            .set_message_deleted(message_id, Some((now, principal.participant_id.clone())), now)
            .await?;
        let recipients = self.audience(&conversation_id).await?;
        self.publish(
            &principal.tenant,
            EventKind::MessageDeleted(MessageDeletedEvent {
                conversation_id,
                message_id: message_id.to_owned(),
                deleted_by: principal.participant_id.clone(),
                deleted_at: now,
                recipients,
            }),
        )
        .await;
        Ok(redacted(deleted))
    }

    /// Undoes a delete, within the recover window.
    pub async fn recover_message(&self, principal: &Principal, message_id: &str) -> CoreResult<Message> {
        let conversation_id = self.conversation_of(message_id).await?;
        let _guard = self.lock(&conversation_id).await;
        let (message, conversation, _) = self.visible_message(principal, message_id).await?;
        policy::may_delete(principal, &message)?;
        let Some(deleted_at) = message.deleted_at else {
            return Err(CoreError::conflict("Message.NotDeleted", "The message is not deleted"));
        };
        let now = self.clock.now();
        let window = self.limits.recover_window_ms;
        if now.ms_since(deleted_at) > window {
            return Err(CoreError::conflict(
                "Message.RecoverWindowExpired",
                format!(
                    "A message can be recovered within {} of its deletion; this one was deleted at {}",
                    crate::time::describe_ms(window),
                    deleted_at
                ),
            ));
        }
        let recovered = self.store.set_message_deleted(message_id, None, now).await?;
        self.publish_message_event(principal, &conversation, recovered.clone(), EventKind::MessageRecovered)
            .await?;
        Ok(recovered)
    }

    pub async fn add_reaction(&self, principal: &Principal, message_id: &str, emoji: &str) -> CoreResult<()> {
        self.react(principal, message_id, emoji, true).await
    }

    pub async fn remove_reaction(
        &self,
        principal: &Principal,
        message_id: &str,
        emoji: &str,
    ) -> CoreResult<()> {
        self.react(principal, message_id, emoji, false).await
    }

    async fn react(&self, principal: &Principal, message_id: &str, emoji: &str, add: bool) -> CoreResult<()> {
        let mut check = Check::new();
        check.emoji("emoji", emoji, &self.limits);
        check.finish()?;
        let conversation_id = self.conversation_of(message_id).await?;
        let _guard = self.lock(&conversation_id).await;
        let (message, _, _) = self.visible_message(principal, message_id).await?;
        if message.is_deleted() {
            return Err(CoreError::conflict("Message.Deleted", "The message is deleted"));
        }
        let now = self.clock.now();
        if add {
            let is_new_emoji = !message.reactions.iter().any(|g| g.emoji == emoji);
            if is_new_emoji && message.reactions.len() >= self.limits.max_distinct_reactions {
                return Err(CoreError::invalid(
                    "emoji",
                    format!(
                        "a message carries at most {} different emoji",
                        self.limits.max_distinct_reactions
                    ),
                ));
            }
            if !self.store.add_reaction(message_id, &principal.participant_id, emoji, now).await? {
                return Err(CoreError::conflict(
                    "Reaction.AlreadyExists",
                    format!("You already reacted with {emoji}"),
                ));
            }
        } else if !self.store.remove_reaction(message_id, &principal.participant_id, emoji).await? {
            return Err(CoreError::not_found(
                "Reaction.NotFound",
                format!("You have not reacted with {emoji}"),
            ));
        }
        let event = ReactionEvent {
            conversation_id,
            message_id: message_id.to_owned(),
            participant: self.person(principal).await?,
            emoji: emoji.to_owned(),
            at: now,
        };
        let kind = if add { EventKind::ReactionAdded(event) } else { EventKind::ReactionRemoved(event) };
        self.publish(&principal.tenant, kind).await;
        Ok(())
    }

    /// Tells the conversation that the principal started or stopped typing. Nothing is stored.
    pub async fn typing(
        &self,
        principal: &Principal,
        conversation_id: &str,
        started: bool,
    ) -> CoreResult<()> {
        let (conversation, _) = self.seen(principal, conversation_id).await?;
        let event = TypingEvent {
            conversation_id: conversation_id.to_owned(),
            participant: self.person(principal).await?,
            ticket: conversation.ticket,
        };
        let kind = if started { EventKind::TypingStarted(event) } else { EventKind::TypingStopped(event) };
        self.publish(&principal.tenant, kind).await;
        Ok(())
    }

    async fn conversation_of(&self, message_id: &str) -> CoreResult<String> {
        Ok(self
            .store
            .message(message_id)
            .await?
            .ok_or_else(|| policy::message_not_found(message_id))?
            .conversation_id)
    }

    /// The message, its conversation and the principal's access, if the principal may see it.
    async fn visible_message(
        &self,
        principal: &Principal,
        message_id: &str,
    ) -> CoreResult<(Message, Conversation, Access)> {
        let message =
            self.store.message(message_id).await?.ok_or_else(|| policy::message_not_found(message_id))?;
        let (conversation, membership) = self
            .store
            .conversation_for(&message.conversation_id, &principal.participant_id)
            .await?
            .ok_or_else(|| policy::message_not_found(message_id))?;
        policy::same_tenant(principal, &conversation).map_err(|_| policy::message_not_found(message_id))?;
        let access = policy::access(principal, &conversation, membership.as_ref())?;
        if message.seq <= access.floor_seq {
            return Err(policy::message_not_found(message_id));
        }
        Ok((message, conversation, access))
    }

    async fn check_reply_target(
        &self,
        conversation_id: &str,
        access: &Access,
        reply: &str,
    ) -> CoreResult<()> {
        match self.store.message(reply).await? {
            Some(m) if m.conversation_id == conversation_id && m.seq > access.floor_seq => Ok(()),
            _ => Err(CoreError::invalid(
                "replyToMessageId",
                format!("'{reply}' is not a message of this conversation"),
            )),
        }
    }

    async fn publish_message_event(
        &self,
        principal: &Principal,
        conversation: &Conversation,
        message: Message,
        kind: fn(MessageEvent) -> EventKind,
    ) -> CoreResult<()> {
        let sender = match self.store.participant(&principal.tenant, &message.sender_id).await? {
            Some(p) => ParticipantRef::from(&p),
            None => ParticipantRef {
                id: message.sender_id.clone(),
                name: message.sender_id.clone(),
                avatar: None,
                is_bot: message.sender_type == SenderType::Bot,
            },
        };
        let recipients = self.audience(&conversation.id).await?;
        let event = MessageEvent {
            conversation: summary(conversation, recipients.len()),
            message,
            sender,
            people: Vec::new(),
            recipients,
        };
        self.publish(&principal.tenant, kind(event)).await;
        Ok(())
    }
}

/// A deleted message keeps its place in the log but shows none of its content.
pub(super) fn redacted(mut message: Message) -> Message {
    if message.is_deleted() {
        message.blocks.clear();
        message.plain_text = None;
        message.mentions = None;
        message.quick_replies = None;
    }
    message
}
