//! Renders core events for hub connections: conversation events to the chat hub's conversation
//! groups, personal notifications to the participants an event names. One task, in bus order.

use chatgate_core::event::{Event, EventKind};
use chatgate_core::model::{MentionType, SenderType};

use super::dto::*;
use super::{Hubs, conversation_group, user_key};

/// Renders every event; media references get signed URLs first when downloads need them.
pub async fn run(events: chatgate_core::EventStream, hubs: Hubs, media_urls: crate::files::MediaUrls) {
    crate::pacing::render_batches(events, |event| {
        match media_urls.fill_event(event, chatgate_core::Timestamp::now()) {
            Some(signed) => render(&hubs, &signed),
            None => render(&hubs, event),
        }
    })
    .await
}

pub fn render(hubs: &Hubs, event: &Event) {
    let tenant = event.tenant.as_str();
    let users = |ids: &[String]| ids.iter().map(|id| user_key(tenant, id)).collect::<Vec<_>>();
    let (chat, notes) = (&hubs.chat, &hubs.notifications);
    match &event.kind {
        EventKind::MessageCreated(e) => {
            let group = conversation_group(&e.message.conversation_id);
            chat.send_to_group(&group, "MessageReceived", &(ChatMessageDto::from(e),));
            if e.message.sender_type == SenderType::System {
                return;
            }
            let others: Vec<String> =
                e.recipients.iter().filter(|r| **r != e.message.sender_id).cloned().collect();
            let keys = users(&others);
            notes.send_to_users(
                keys.iter().map(String::as_str),
                "NewMessageNotification",
                &(NewMessageNotificationDto::from(e),),
            );
            let mentioned: Vec<String> = e
                .message
                .mentions
                .iter()
                .flatten()
                .filter(|m| m.mention_type == MentionType::User)
                .filter_map(|m| m.target_id.clone())
                .filter(|t| others.contains(t))
                .collect();
            if !mentioned.is_empty() {
                let keys = users(&mentioned);
                notes.send_to_users(
                    keys.iter().map(String::as_str),
                    "MentionedNotification",
                    &(MentionedNotificationDto::from(e),),
                );
            }
        }
        EventKind::MessageUpdated(e) => {
            chat.send_to_group(
                &conversation_group(&e.message.conversation_id),
                "MessageUpdated",
                &(MessageUpdatedDto::from(e),),
            );
        }
        EventKind::MessageRecovered(e) => {
            chat.send_to_group(
                &conversation_group(&e.message.conversation_id),
                "MessageRecovered",
                &(ChatMessageDto::from(e),),
            );
        }
        EventKind::MessageDeleted(e) => {
            let dto = MessageDeletedDto {
                message_id: e.message_id.clone(),
                conversation_id: e.conversation_id.clone(),
                deleted_by: e.deleted_by.clone(),
                deleted_at: e.deleted_at,
            };
            chat.send_to_group(&conversation_group(&e.conversation_id), "MessageDeleted", &(dto,));
        }
        EventKind::ReactionAdded(e) => {
            chat.send_to_group(
                &conversation_group(&e.conversation_id),
                "ReactionAdded",
                &(ReactionAddedDto::from_event(e),),
            );
        }
        EventKind::ReactionRemoved(e) => {
            chat.send_to_group(
                &conversation_group(&e.conversation_id),
                "ReactionRemoved",
                &(ReactionRemovedDto::from_event(e),),
            );
        }
        EventKind::TypingStarted(e) | EventKind::TypingStopped(e) => {
            let target = if matches!(event.kind, EventKind::TypingStarted(_)) {
                "TypingStarted"
            } else {
                "TypingStopped"
            };
            // Not echoed to the typist, on any of their connections.
            let typist = user_key(tenant, &e.participant.id);
            chat.send_to_group_except_user(
                &conversation_group(&e.conversation_id),
                Some(&typist),
                target,
                &(TypingDto::from(e),),
            );
        }
        EventKind::ConversationCreated(e) | EventKind::ConversationUpdated(e) => {
            let target = if matches!(event.kind, EventKind::ConversationCreated(_)) {
                "ConversationCreated"
            } else {
                "ConversationUpdated"
            };
            let dto = ConversationChangedDto {
                conversation_id: e.conversation.id.clone(),
                name: e.conversation.name.clone(),
                avatar: e.conversation.avatar.clone(),
                participant_count: e.conversation.participant_count,
            };
            let keys = users(&e.notify);
            notes.send_to_users(keys.iter().map(String::as_str), target, &(dto,));
        }
        EventKind::ParticipantJoined(e) => {
            let keys = users(&e.notify);
            notes.send_to_users(
                keys.iter().map(String::as_str),
                "ParticipantJoined",
                &(ParticipantChangedDto::from(e),),
            );
        }
        EventKind::ParticipantLeft(e) => {
            let keys = users(&e.notify);
            notes.send_to_users(
                keys.iter().map(String::as_str),
                "ParticipantLeft",
                &(ParticipantChangedDto::from(e),),
            );
            // Who left hears nothing more of the conversation.
            chat.remove_user_from_group(
                &user_key(tenant, &e.participant.id),
                &conversation_group(&e.conversation_id),
            );
        }
        EventKind::ConversationPinned(e) => {
            let dto =
                ConversationPinnedDto { conversation_id: e.conversation_id.clone(), pinned_at: e.pinned_at };
            notes.send_to_user(&user_key(tenant, &e.participant_id), "ConversationPinned", &(dto,));
        }
        EventKind::ConversationUnpinned(e) => {
            let dto = ConversationUnpinnedDto { conversation_id: e.conversation_id.clone() };
            notes.send_to_user(&user_key(tenant, &e.participant_id), "ConversationUnpinned", &(dto,));
        }
        EventKind::MessageThumbnailsReady(e) => {
            chat.send_to_group(
                &conversation_group(&e.conversation_id),
                "MessageThumbnailsReady",
                &(MessageThumbnailsReadyDto::from(e),),
            );
        }
        EventKind::StreamStarted(e) => {
            chat.send_to_group(
                &conversation_group(&e.conversation_id),
                "StreamStarted",
                &(StreamStartedDto::from(e),),
            );
        }
        EventKind::StreamStatusUpdated(e) => {
            let group = conversation_group(&e.conversation_id);
            chat.send_to_group(&group, "StreamStatusUpdated", &(StreamStatusUpdatedDto::from(e),));
        }
        EventKind::StreamChunks(e) => {
            // One chunk goes out as itself; chunks coalesced in one window go out as a batch.
            let group = conversation_group(&e.conversation_id);
            match e.parts.as_slice() {
                [part] => chat.send_to_group(
                    &group,
                    "StreamChunkReceived",
                    &(StreamChunkReceivedDto::new(e, part),),
                ),
                _ => chat.send_to_group(
                    &group,
                    "StreamChunkBatchReceived",
                    &(StreamChunkBatchReceivedDto::from(e),),
                ),
            }
        }
        EventKind::StreamCompleted(e) => {
            // The completed reply replaces MessageReceived, and notifies like any new message.
            let m = &e.message;
            let group = conversation_group(&m.message.conversation_id);
            chat.send_to_group(&group, "StreamCompleted", &(StreamCompletedDto::from(e),));
            let others: Vec<String> =
                m.recipients.iter().filter(|r| **r != m.message.sender_id).cloned().collect();
            let keys = users(&others);
            notes.send_to_users(
                keys.iter().map(String::as_str),
                "NewMessageNotification",
                &(NewMessageNotificationDto::from(m),),
            );
        }
        EventKind::StreamAborted(e) => {
            chat.send_to_group(
                &conversation_group(&e.conversation_id),
                "StreamAborted",
                &(StreamAbortedDto::from(e),),
            );
        }
        // Channel dashboards and connectors have doors of their own; the hubs show channel
        // messages through their `MessageCreated`.
        EventKind::ChannelSessionChanged(_)
        | EventKind::ChannelChatChanged(_)
        | EventKind::OutboxReady(_) => {}
        // Ticket bookkeeping is the support desk's (`socketio::support`); the hubs show ticket
        // messages through their `MessageCreated`.
        EventKind::TicketCreated(_)
        | EventKind::TicketChanged(_)
        | EventKind::TicketRead(_)
        | EventKind::TicketUnread(_) => {}
    }
}
