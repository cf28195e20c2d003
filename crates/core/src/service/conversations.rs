use std::collections::BTreeMap;

use super::messages::redacted;
use super::participants::participant_not_found;
use super::{Core, Page, summary};
use crate::cursor;
use crate::error::{CoreError, CoreResult};
use crate::event::{
    ConversationEvent, ConversationSummary, EventKind, MembershipEvent, MessageEvent, PinEvent,
};
use crate::ids::new_id;
use crate::model::*;
use crate::policy;
use crate::principal::Principal;
use crate::store::{ConversationUpdate, ListPosition, MediaEntry, MediaQuery};
use crate::validate::Check;

/// `POST /api/conversations`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewConversation {
    pub name: Option<String>,
    pub avatar: Option<MediaReference>,
    pub participant_ids: Vec<String>,
}

/// `PUT /api/conversations/{id}`: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConversationPatch {
    pub name: Option<Option<String>>,
    pub avatar: Option<Option<MediaReference>>,
}

impl Core {
    pub async fn create_conversation(
        &self,
        principal: &Principal,
        input: NewConversation,
    ) -> CoreResult<ConversationDetails> {
        let l = &self.limits;
        let mut check = Check::new();
        check.opt_text("name", input.name.as_deref(), l.max_name_chars);
        if let Some(a) = &input.avatar {
            check.media("avatar", a, l);
        }
        for (i, id) in input.participant_ids.iter().enumerate() {
            check.id(&format!("participantIds[{i}]"), id, l.max_id_chars);
        }
        check.finish()?;

        let mut ids = vec![principal.participant_id.clone()];
        for id in input.participant_ids {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.len() > l.max_participants_per_conversation {
            return Err(CoreError::invalid(
                "participantIds",
                format!("a conversation has at most {} participants", l.max_participants_per_conversation),
            ));
        }
        self.ensure_participant(principal).await?;
        let found = self.store.participants(&principal.tenant, &ids).await?;
        if let Some(missing) = ids.iter().find(|id| !found.iter().any(|p| &p.id == *id)) {
            return Err(participant_not_found(missing));
        }

        let now = self.clock.now();
        let conversation = Conversation {
            id: new_id(),
            tenant: principal.tenant.clone(),
            name: input.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            avatar: input.avatar,
            owner_id: principal.participant_id.clone(),
            created_at: now,
            updated_at: now,
            last_message_at: None,
            last_message_id: None,
            last_seq: 0,
            channel: None,
            ticket: None,
        };
        let members: Vec<Membership> = ids
            .iter()
            .map(|id| Membership {
                conversation_id: conversation.id.clone(),
                participant_id: id.clone(),
                joined_at: now,
                left_at: None,
                is_active: true,
                is_pinned: false,
                pinned_at: None,
                joined_seq: 0,
            })
            .collect();
        self.store.create_conversation(&conversation, &members).await?;
        let details = ConversationDetails { conversation, members };
        self.publish(
            &principal.tenant,
            EventKind::ConversationCreated(ConversationEvent {
                conversation: summary(&details.conversation, ids.len()),
                notify: ids,
            }),
        )
        .await;
        Ok(details)
    }

    pub async fn conversation(&self, principal: &Principal, id: &str) -> CoreResult<ConversationDetails> {
        let details = self.details(principal, id).await?;
        policy::access(principal, &details.conversation, details.membership(&principal.participant_id))?;
        Ok(details)
    }

    /// Checks that the principal may follow the conversation (hubs join it to receive events).
    pub async fn check_access(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        self.seen(principal, id).await.map(|_| ())
    }

    /// Every membership row, those who left included.
    pub async fn conversation_members(&self, principal: &Principal, id: &str) -> CoreResult<Vec<Membership>> {
        Ok(self.conversation(principal, id).await?.members)
    }

    pub async fn list_conversations(
        &self,
        principal: &Principal,
        limit: Option<u32>,
        after: Option<&str>,
    ) -> CoreResult<Page<ConversationListEntry>> {
        let limit = self.page_limit(limit, 20)?;
        let position = match after {
            None => None,
            Some(c) => {
                let (activity_at, conversation_id) = cursor::decode_conversation(c)?;
                let pinned = self
                    .store
                    .membership(&conversation_id, &principal.participant_id)
                    .await?
                    .is_some_and(|m| m.is_pinned);
                Some(ListPosition { pinned, activity_at, conversation_id })
            }
        };
        let rows = self
            .store
            .list_conversations(&principal.tenant, &principal.participant_id, position.as_ref(), limit + 1)
            .await?;
        let mut page = Page::from_overfetch(rows, limit, |e| {
            cursor::encode_conversation(e.conversation.activity_at(), &e.conversation.id)
        });
        page.items = page.items.into_iter().map(redacted_entry).collect();
        Ok(page)
    }

    pub async fn search_conversations(
        &self,
        principal: &Principal,
        query: &str,
        limit: Option<u32>,
    ) -> CoreResult<Vec<ConversationListEntry>> {
        let limit = self.page_limit(limit, 20)?;
        let mut check = Check::new();
        check.text("q", query, self.limits.max_search_chars, true);
        check.finish()?;
        let rows = self
            .store
            .search_conversations(&principal.tenant, &principal.participant_id, query.trim(), limit)
            .await?;
        Ok(rows.into_iter().map(redacted_entry).collect())
    }

    pub async fn update_conversation(
        &self,
        principal: &Principal,
        id: &str,
        patch: ConversationPatch,
    ) -> CoreResult<ConversationDetails> {
        let l = &self.limits;
        let mut check = Check::new();
        if let Some(Some(name)) = &patch.name {
            check.text("name", name, l.max_name_chars, false);
        }
        if let Some(Some(avatar)) = &patch.avatar {
            check.media("avatar", avatar, l);
        }
        check.finish()?;

        let _guard = self.lock(id).await;
        let (current, _) = self.seen(principal, id).await?;
        let current = &current;
        let now = self.clock.now();
        let new_name = match patch.name {
            Some(n) => n.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            None => current.name.clone(),
        };
        let new_avatar = match patch.avatar {
            Some(a) => a,
            None => current.avatar.clone(),
        };

        let mut system = Vec::new();
        if new_name != current.name {
            let mut metadata = BTreeMap::new();
            if let Some(old) = &current.name {
                metadata.insert("oldName".to_owned(), old.clone());
            }
            metadata.insert("newName".to_owned(), new_name.clone().unwrap_or_default());
            system.push(self.system_message(
                id,
                SystemEventType::ConversationRenamed,
                Some(&principal.participant_id),
                &[],
                Some(metadata),
                now,
            ));
        }
        if new_avatar != current.avatar {
            system.push(self.system_message(
                id,
                SystemEventType::AvatarChanged,
                Some(&principal.participant_id),
                &[],
                None,
                now,
            ));
        }
        if system.is_empty() {
            return self.details(principal, id).await;
        }
        let update = ConversationUpdate {
            conversation_id: id.to_owned(),
            name: new_name,
            avatar: new_avatar,
            updated_at: now,
        };
        let written = self.store.update_conversation(&update, &system).await?;
        let details = self.details(principal, id).await?;
        let recipients = details.active_member_ids();
        let about = summary(&details.conversation, recipients.len());
        for message in written {
            self.publish_system_message(principal, &about, message, recipients.clone()).await?;
        }
        self.publish(
            &principal.tenant,
            EventKind::ConversationUpdated(ConversationEvent { conversation: about, notify: recipients }),
        )
        .await;
        Ok(details)
    }

    pub async fn add_participant(
        &self,
        principal: &Principal,
        id: &str,
        participant_id: &str,
    ) -> CoreResult<()> {
        let mut check = Check::new();
        check.id("participantId", participant_id, self.limits.max_id_chars);
        check.finish()?;

        let _guard = self.lock(id).await;
        let (conversation, _) = self.seen(principal, id).await?;
        let target = self
            .store
            .participant(&principal.tenant, participant_id)
            .await?
            .ok_or_else(|| participant_not_found(participant_id))?;
        let existing = self.audience(id).await?;
        if existing.iter().any(|p| p == participant_id) {
            return Err(CoreError::conflict(
                "Conversation.AlreadyParticipant",
                format!("'{participant_id}' is already a participant of this conversation"),
            ));
        }
        if existing.len() >= self.limits.max_participants_per_conversation {
            return Err(CoreError::invalid(
                "participantId",
                format!(
                    "the conversation already has the maximum of {} participants",
                    self.limits.max_participants_per_conversation
                ),
            ));
        }
        let now = self.clock.now();
        let system = self.system_message(
            id,
            SystemEventType::MemberAdded,
            Some(&principal.participant_id),
            &[participant_id],
            None,
            now,
        );
        let message = self.store.join_conversation(id, participant_id, now, &system).await?;
        let mut recipients = existing.clone();
        recipients.push(participant_id.to_owned());
        let about = summary(&conversation, recipients.len());
        self.publish_system_message(principal, &about, message, recipients).await?;
        self.publish(
            &principal.tenant,
            EventKind::ParticipantJoined(MembershipEvent {
                conversation_id: id.to_owned(),
                participant: ParticipantRef::from(&target),
                at: now,
                notify: existing,
            }),
        )
        .await;
        self.publish(
            &principal.tenant,
            EventKind::ConversationCreated(ConversationEvent {
                conversation: about,
                notify: vec![participant_id.to_owned()],
            }),
        )
        .await;
        Ok(())
    }

    /// Removes `participant_id`; removing oneself is leaving.
    pub async fn remove_participant(
        &self,
        principal: &Principal,
        id: &str,
        participant_id: &str,
    ) -> CoreResult<()> {
        if participant_id == principal.participant_id {
            return self.leave_conversation(principal, id).await;
        }
        let _guard = self.lock(id).await;
        let (conversation, _) = self.seen(principal, id).await?;
        policy::may_remove_member(principal, &conversation)?;
        let members = self.audience(id).await?;
        if !members.iter().any(|p| p == participant_id) {
            return Err(CoreError::not_found(
                "Conversation.NotAParticipant",
                format!("'{participant_id}' is not a participant of this conversation"),
            ));
        }
        let now = self.clock.now();
        let system = self.system_message(
            id,
            SystemEventType::MemberRemoved,
            Some(&principal.participant_id),
            &[participant_id],
            None,
            now,
        );
        self.remove_member(principal, &conversation, members, participant_id, system).await
    }

    /// The caller leaves; the others stay.
    pub async fn leave_conversation(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        let _guard = self.lock(id).await;
        let (conversation, _) = self.seen(principal, id).await?;
        let members = self.audience(id).await?;
        let now = self.clock.now();
        let system = self.system_message(
            id,
            SystemEventType::MemberLeft,
            None,
            &[principal.participant_id.as_str()],
            None,
            now,
        );
        self.remove_member(principal, &conversation, members, &principal.participant_id, system).await
    }

    /// `members`: the active participants before the removal.
    async fn remove_member(
        &self,
        principal: &Principal,
        conversation: &Conversation,
        members: Vec<String>,
        participant_id: &str,
        system: NewMessage,
    ) -> CoreResult<()> {
        let id = &conversation.id;
        let at = system.created_at;
        let message = self.store.leave_conversation(id, participant_id, at, &system).await?;
        let remaining: Vec<String> = members.into_iter().filter(|p| p != participant_id).collect();
        let about = summary(conversation, remaining.len());
        self.publish_system_message(principal, &about, message, remaining.clone()).await?;
        let person = match self.store.participant(&principal.tenant, participant_id).await? {
            Some(p) => ParticipantRef::from(&p),
            None => ParticipantRef {
                id: participant_id.to_owned(),
                name: participant_id.to_owned(),
                avatar: None,
                is_bot: false,
            },
        };
        let mut notify = remaining;
        notify.push(participant_id.to_owned());
        self.publish(
            &principal.tenant,
            EventKind::ParticipantLeft(MembershipEvent {
                conversation_id: id.clone(),
                participant: person,
                at,
                notify,
            }),
        )
        .await;
        Ok(())
    }

    pub async fn pin_conversation(&self, principal: &Principal, id: &str, pinned: bool) -> CoreResult<()> {
        let _guard = self.lock(id).await;
        let (_, access) = self.seen(principal, id).await?;
        let Some(membership) = access.membership else {
            return Err(CoreError::forbidden(
                "Conversation.PinNeedsMembership",
                "Only participants pin a conversation; add yourself to it first",
            ));
        };
        if membership.is_pinned == pinned {
            return Ok(());
        }
        let pinned_at = pinned.then(|| self.clock.now());
        self.store.set_pinned(id, &principal.participant_id, pinned_at).await?;
        let event = PinEvent {
            conversation_id: id.to_owned(),
            participant_id: principal.participant_id.clone(),
            pinned_at,
        };
        let kind = if pinned {
            EventKind::ConversationPinned(event)
        } else {
            EventKind::ConversationUnpinned(event)
        };
        self.publish(&principal.tenant, kind).await;
        Ok(())
    }

    /// The conversation's attachments and links the principal can see, newest first.
    pub async fn conversation_media(
        &self,
        principal: &Principal,
        id: &str,
        kind: Option<MediaKind>,
        limit: Option<u32>,
        after: Option<&str>,
    ) -> CoreResult<Page<MediaEntry>> {
        let limit = self.page_limit(limit, 50)?;
        let after = after.map(cursor::decode_media).transpose()?;
        let (_, access) = self.seen(principal, id).await?;
        let query = MediaQuery { floor_seq: access.floor_seq, kind, after, limit: limit + 1 };
        let rows = self.store.media(id, &query).await?;
        Ok(Page::from_overfetch(rows, limit, |e| cursor::encode_media(e.message.seq, e.block_index)))
    }

    fn system_message(
        &self,
        conversation_id: &str,
        event_type: SystemEventType,
        actor: Option<&str>,
        targets: &[&str],
        metadata: Option<BTreeMap<String, String>>,
        at: crate::time::Timestamp,
    ) -> NewMessage {
        NewMessage {
            id: new_id(),
            conversation_id: conversation_id.to_owned(),
            sender_id: "system".to_owned(),
            sender_type: SenderType::System,
            blocks: Vec::new(),
            plain_text: None,
            reply_to_message_id: None,
            quick_replies: None,
            mentions: None,
            client_message_id: None,
            system_event: Some(SystemEvent {
                event_type,
                actor_id: actor.map(str::to_owned),
                target_ids: targets.iter().map(|t| (*t).to_owned()).collect(),
                metadata,
            }),
            external: None,
            created_at: at,
            media: Vec::new(),
        }
    }

    async fn publish_system_message(
        &self,
        principal: &Principal,
        conversation: &ConversationSummary,
        message: Message,
        recipients: Vec<String>,
    ) -> CoreResult<()> {
        let mut ids: Vec<String> = Vec::new();
        if let Some(e) = &message.system_event {
            ids.extend(e.actor_id.iter().cloned());
            ids.extend(e.target_ids.iter().cloned());
        }
        let people = self
            .store
            .participants(&principal.tenant, &ids)
            .await?
            .iter()
            .map(ParticipantRef::from)
            .collect();
        let sender =
            ParticipantRef { id: "system".into(), name: "System".into(), avatar: None, is_bot: false };
        self.publish(
            &principal.tenant,
            EventKind::MessageCreated(MessageEvent {
                conversation: conversation.clone(),
                message,
                sender,
                people,
                recipients,
            }),
        )
        .await;
        Ok(())
    }
}

fn redacted_entry(mut entry: ConversationListEntry) -> ConversationListEntry {
    entry.last_message = entry.last_message.map(redacted);
    entry
}
