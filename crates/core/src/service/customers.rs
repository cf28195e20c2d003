//! Customers (seed 003): people who arrive from a channel without an account, the tokens they
//! chat with, their conversations, and the agents' customer records.

use serde_json::{Map, Value};

use super::{Core, summary};
use crate::error::{CoreError, CoreResult};
use crate::event::{ConversationEvent, EventKind};
use crate::ids::new_id;
use crate::model::*;
use crate::policy;
use crate::principal::{Principal, Role};
use crate::service::{SendMessage, Sent};
use crate::time::Timestamp;
use crate::validate::Check;

/// A customer record as an agent creates it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomerInput {
    pub name: String,
    pub primary_channel: Option<CustomerChannel>,
    pub identities: Vec<CustomerIdentity>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
}

/// Changes to a customer record: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub primary_channel: Option<CustomerChannel>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<Option<String>>,
    pub active: Option<bool>,
}

/// Tags on one customer, at most.
const MAX_TAGS: usize = 50;

impl Core {
    /// The principal a customer token speaks for.
    pub fn customer_principal(customer: &Customer) -> Principal {
        Principal::new(&customer.tenant, &customer.id, Role::Customer).with_name(&customer.name)
    }

    fn check_customer_fields(
        &self,
        check: &mut Check,
        email: Option<&str>,
        phone: Option<&str>,
        notes: Option<&str>,
    ) {
        check.opt_text("email", email, 320);
        check.opt_text("phone", phone, 64);
        check.opt_text("notes", notes, self.limits.max_text_chars);
    }

    fn check_tags(&self, check: &mut Check, tags: &[String]) {
        if tags.len() > MAX_TAGS {
            check.fail("tags", format!("must have at most {MAX_TAGS} entries"));
        }
        for (i, tag) in tags.iter().enumerate() {
            check.text(&format!("tags[{i}]"), tag, 64, true);
        }
    }

    /// The customer known on `channel` as `channel_id`, created on first sight (public).
    pub async fn customer_for_channel(
        &self,
        tenant: &str,
        name: &str,
        channel: &str,
        channel_id: &str,
    ) -> CoreResult<(Customer, CustomerChannel)> {
        let mut check = Check::new();
        check.text("name", name, self.limits.max_name_chars, true);
        let parsed = CustomerChannel::parse(channel);
        if parsed.is_none() {
            check.fail("channel", format!("must be one of {}", CustomerChannel::names()));
        }
        check.text("channelId", channel_id, 256, true);
        check.finish()?;
        let channel = parsed.ok_or_else(|| CoreError::invalid("channel", "is not a known channel"))?;
        let now = self.clock.now();
        let identity = CustomerIdentity { channel, channel_id: channel_id.trim().to_owned() };
        let new = Customer {
            tenant: tenant.to_owned(),
            id: new_id(),
            name: name.trim().to_owned(),
            primary_channel: channel,
            identities: vec![identity.clone()],
            email: None,
            phone: None,
            tags: Vec::new(),
            notes: None,
            active: true,
            last_interaction_at: None,
            created_at: now,
            updated_at: now,
        };
        let customer = self.store.customer_for_identity(&identity, &new).await?;
        Ok((customer, channel))
    }

    /// Keeps a token (by its hash) for `customer` on `channel`; returns when it expires.
    pub async fn register_customer_token(
        &self,
        customer: &Customer,
        channel: CustomerChannel,
        token_hash: &str,
        ttl_ms: i64,
    ) -> CoreResult<Timestamp> {
        let now = self.clock.now();
        let expires_at = now.plus_ms(ttl_ms);
        self.store.insert_customer_token(customer, channel, token_hash, expires_at, now).await?;
        Ok(expires_at)
    }

    /// The active customer whose unexpired token has this hash, and its channel.
    pub async fn customer_by_token(
        &self,
        token_hash: &str,
    ) -> CoreResult<Option<(Customer, CustomerChannel)>> {
        let found = self.store.customer_by_token(token_hash, self.clock.now()).await?;
        Ok(found.filter(|(c, _)| c.active))
    }

    fn staff_only(principal: &Principal) -> CoreResult<()> {
        if policy::handles_channels(principal) {
            Ok(())
        } else {
            Err(CoreError::forbidden(
                "Customer.Forbidden",
                "Customer records are for agents and admins; use an agent or admin token",
            ))
        }
    }

    pub async fn customers(
        &self,
        principal: &Principal,
        mut query: CustomerQuery,
    ) -> CoreResult<(Vec<Customer>, u64)> {
        Self::staff_only(principal)?;
        let max = self.limits.max_page_size;
        if query.size == 0 || query.size > max {
            return Err(CoreError::invalid("size", format!("must be from 1 to {max}")));
        }
        if let Some(name) = &query.name {
            let mut check = Check::new();
            check.text("name", name, self.limits.max_search_chars, false);
            check.finish()?;
        }
        query.name = query.name.filter(|n| !n.trim().is_empty());
        Ok(self.store.customers(&principal.tenant, &query).await?)
    }

    pub async fn customer(&self, principal: &Principal, id: &str) -> CoreResult<Customer> {
        Self::staff_only(principal)?;
        self.store.customer(&principal.tenant, id).await?.ok_or_else(|| customer_not_found(id))
    }

    pub async fn create_customer(&self, principal: &Principal, input: CustomerInput) -> CoreResult<Customer> {
        Self::staff_only(principal)?;
        let mut check = Check::new();
        check.text("name", &input.name, self.limits.max_name_chars, true);
        self.check_customer_fields(
            &mut check,
            input.email.as_deref(),
            input.phone.as_deref(),
            input.notes.as_deref(),
        );
        self.check_tags(&mut check, &input.tags);
        if input.identities.len() > 20 {
            check.fail("identities", "must have at most 20 entries");
        }
        for (i, identity) in input.identities.iter().enumerate() {
            check.text(&format!("identities[{i}].channelId"), &identity.channel_id, 256, true);
        }
        let primary = input.primary_channel.or_else(|| input.identities.first().map(|i| i.channel));
        if primary.is_none() {
            check.fail("primaryChannel", format!("is required (one of {})", CustomerChannel::names()));
        }
        check.finish()?;
        let now = self.clock.now();
        let customer = Customer {
            tenant: principal.tenant.clone(),
            id: new_id(),
            name: input.name.trim().to_owned(),
            primary_channel: primary.unwrap_or(CustomerChannel::Web),
            identities: input.identities,
            email: input.email,
            phone: input.phone,
            tags: input.tags,
            notes: input.notes,
            active: true,
            last_interaction_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store.create_customer(&customer).await.map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => CoreError::conflict(
                "Customer.IdentityTaken",
                "Another customer already has one of these channel identities",
            ),
            other => other.into(),
        })?;
        self.customer(principal, &customer.id).await
    }

    pub async fn update_customer(
        &self,
        principal: &Principal,
        id: &str,
        patch: CustomerPatch,
    ) -> CoreResult<Customer> {
        let mut customer = self.customer(principal, id).await?;
        let mut check = Check::new();
        if let Some(name) = &patch.name {
            check.text("name", name, self.limits.max_name_chars, true);
        }
        self.check_customer_fields(
            &mut check,
            patch.email.as_ref().and_then(|e| e.as_deref()),
            patch.phone.as_ref().and_then(|p| p.as_deref()),
            patch.notes.as_ref().and_then(|n| n.as_deref()),
        );
        if let Some(tags) = &patch.tags {
            self.check_tags(&mut check, tags);
        }
        check.finish()?;
        if let Some(name) = patch.name {
            customer.name = name.trim().to_owned();
        }
        if let Some(channel) = patch.primary_channel {
            customer.primary_channel = channel;
        }
        if let Some(email) = patch.email {
            customer.email = email;
        }
        if let Some(phone) = patch.phone {
            customer.phone = phone;
        }
        if let Some(tags) = patch.tags {
            customer.tags = tags;
        }
        if let Some(notes) = patch.notes {
            customer.notes = notes;
        }
        if let Some(active) = patch.active {
            customer.active = active;
        }
        customer.updated_at = self.clock.now();
        self.store.update_customer(&customer).await?;
        self.customer(principal, id).await
    }

    /// The customer's conversations, for the agents who answer them.
    pub async fn customer_conversations(
        &self,
        principal: &Principal,
        id: &str,
    ) -> CoreResult<Vec<Conversation>> {
        let customer = self.customer(principal, id).await?;
        Ok(self.store.customer_conversations(&principal.tenant, &customer.id).await?)
    }

    /// A customer says something: in `conversation_id`, or in their conversation on `channel`
    /// (opened on first use). `metadata` travels with the message as a `custom` block of type
    /// `customer.metadata`.
    pub async fn customer_says(
        &self,
        principal: &Principal,
        channel: CustomerChannel,
        conversation_id: Option<&str>,
        content: &str,
        metadata: Option<Map<String, Value>>,
    ) -> CoreResult<Sent> {
        let mut blocks = vec![Block::plain_text(content)];
        if let Some(data) = metadata.filter(|m| !m.is_empty()) {
            blocks.push(Block::Custom(CustomBlock {
                custom_type: "customer.metadata".into(),
                data: Some(data),
            }));
        }
        let conversation_id = match conversation_id {
            Some(id) => id.to_owned(),
            None => self.open_customer_conversation(principal, channel).await?,
        };
        self.send_message(principal, &conversation_id, SendMessage { blocks, ..Default::default() }).await
    }

    /// The customer's latest conversation on `channel`, or a new one.
    async fn open_customer_conversation(
        &self,
        principal: &Principal,
        channel: CustomerChannel,
    ) -> CoreResult<String> {
        let existing =
            self.store.customer_conversations(&principal.tenant, &principal.participant_id).await?;
        if let Some(c) =
            existing.iter().find(|c| c.channel.as_ref().is_some_and(|f| f.channel == channel.as_str()))
        {
            return Ok(c.id.clone());
        }
        let now = self.clock.now();
        let conversation = Conversation {
            id: new_id(),
            tenant: principal.tenant.clone(),
            name: principal.name.clone(),
            avatar: None,
            owner_id: principal.participant_id.clone(),
            created_at: now,
            updated_at: now,
            last_message_at: None,
            last_message_id: None,
            last_seq: 0,
            channel: Some(ChannelFacet {
                channel: channel.as_str().to_owned(),
                customer_id: Some(principal.participant_id.clone()),
                account_id: None,
                external_chat_id: None,
            }),
            ticket: None,
        };
        let member = Membership {
            conversation_id: conversation.id.clone(),
            participant_id: principal.participant_id.clone(),
            joined_at: now,
            left_at: None,
            is_active: true,
            is_pinned: false,
            pinned_at: None,
            joined_seq: 0,
        };
        self.store.create_conversation(&conversation, std::slice::from_ref(&member)).await?;
        self.publish(
            &principal.tenant,
            EventKind::ConversationCreated(ConversationEvent {
                conversation: summary(&conversation, 1),
                notify: vec![principal.participant_id.clone()],
            }),
        )
        .await;
        Ok(conversation.id)
    }
}

fn customer_not_found(id: &str) -> CoreError {
    CoreError::not_found("Customer.NotFound", format!("Customer '{id}' was not found"))
}
