//! The customer API of seed 003: the public token endpoint and the agents' customer records.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use chatgate_core::model::{Conversation, Customer, CustomerChannel, CustomerIdentity, CustomerQuery};
use chatgate_core::service::{CustomerInput, CustomerPatch};
use chatgate_core::{CoreError, Principal, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::envelope::{Data, Failure};
use crate::auth::customer_tokens;
use crate::rest::extract::present;
use crate::state::AppState;

/// Decodes a JSON object body, naming the failing field.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> axum::extract::FromRequest<AppState> for Body<T> {
    type Rejection = Failure;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Failure> {
        let limit = state.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| {
            Failure::from(CoreError::invalid("body", format!("is larger than {limit} bytes")))
        })?;
        crate::wire::from_object_bytes(&bytes).map(Body).map_err(Failure::from)
    }
}

/// Query parameters, naming the failing one.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Failure> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Params).map_err(|e| {
            let path = e.path().to_string();
            let (field, description) = chatgate_core::decode::locate(&path, &e.into_inner().to_string());
            Failure::from(CoreError::invalid(
                if field == "body" { "query".to_owned() } else { field },
                description,
            ))
        })
    }
}

/// An agent or admin, from `Authorization: Bearer <jwt>`; whether they may act is the core's
/// decision.
pub struct Agent(pub Principal);

impl FromRequestParts<AppState> for Agent {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Failure::unauthorized("Send an agent token: `Authorization: Bearer <jwt>`"))?;
        let principal = state.tokens.verify(token).map_err(|e| Failure::unauthorized(e.0))?;
        state
            .rate_limits
            .check_user(&principal.tenant, &principal.participant_id)
            .map_err(Failure::too_many_requests)?;
        Ok(Agent(principal))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerDto {
    id: String,
    name: String,
    primary_channel: CustomerChannel,
    identities: Vec<CustomerIdentity>,
    email: Option<String>,
    phone: Option<String>,
    tags: Vec<String>,
    notes: Option<String>,
    active: bool,
    last_interaction_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Customer> for CustomerDto {
    fn from(c: Customer) -> Self {
        CustomerDto {
            id: c.id,
            name: c.name,
            primary_channel: c.primary_channel,
            identities: c.identities,
            email: c.email,
            phone: c.phone,
            tags: c.tags,
            notes: c.notes,
            active: c.active,
            last_interaction_at: c.last_interaction_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenDto {
    customer_id: String,
    token: String,
    name: String,
    channel: CustomerChannel,
    expires_at: Timestamp,
}

async fn issue_token(
    state: &AppState,
    customer: &Customer,
    channel: CustomerChannel,
) -> Result<TokenDto, Failure> {
    let token = customer_tokens::new_token();
    let ttl = state.config.customers.token_ttl.as_millis().min(i64::MAX as u128) as i64;
    let expires_at =
        state.core.register_customer_token(customer, channel, &customer_tokens::hash(&token), ttl).await?;
    Ok(TokenDto { customer_id: customer.id.clone(), token, name: customer.name.clone(), channel, expires_at })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerTokenRequest {
    name: String,
    channel: String,
    channel_id: String,
}

/// `POST /api/v1/public/customer-token`: no account needed; limited per client address.
pub async fn public_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(body): Body<CustomerTokenRequest>,
) -> Result<Data<TokenDto>, Failure> {
    state.customer_token_limit.check(peer.ip()).map_err(Failure::too_many_requests)?;
    let tenant = &state.config.customers.tenant;
    let (customer, channel) =
        state.core.customer_for_channel(tenant, &body.name, &body.channel, &body.channel_id).await?;
    Ok(Data(issue_token(&state, &customer, channel).await?))
}

#[derive(Deserialize)]
pub struct ListParams {
    name: Option<String>,
    channel: Option<String>,
    active: Option<bool>,
    #[serde(default)]
    page: u32,
    size: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPageDto {
    content: Vec<CustomerDto>,
    total_elements: u64,
    total_pages: u64,
    page: u32,
    size: u32,
}

pub async fn list(
    State(state): State<AppState>,
    Agent(agent): Agent,
    Params(p): Params<ListParams>,
) -> Result<Data<CustomerPageDto>, Failure> {
    let channel = match p.channel.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(CustomerChannel::parse(c).ok_or_else(|| {
            CoreError::invalid("channel", format!("must be one of {}", CustomerChannel::names()))
        })?),
    };
    let size = p.size.unwrap_or(20);
    let query = CustomerQuery { name: p.name, channel, active: p.active, page: p.page, size };
    let (customers, total) = state.core.customers(&agent, query).await?;
    Ok(Data(CustomerPageDto {
        content: customers.into_iter().map(Into::into).collect(),
        total_elements: total,
        total_pages: total.div_ceil(size.max(1) as u64),
        page: p.page,
        size,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    Agent(agent): Agent,
    Path(id): Path<String>,
) -> Result<Data<CustomerDto>, Failure> {
    Ok(Data(state.core.customer(&agent, &id).await?.into()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCustomerRequest {
    name: String,
    #[serde(default)]
    primary_channel: Option<CustomerChannel>,
    /// The customer's id on `primaryChannel`.
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    identities: Vec<CustomerIdentity>,
    /// Seed 003's way to give a WeChat identity.
    #[serde(default)]
    wechat_open_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    notes: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    Agent(agent): Agent,
    Body(body): Body<CreateCustomerRequest>,
) -> Result<(axum::http::StatusCode, Data<CustomerDto>), Failure> {
    let mut identities = body.identities;
    if let (Some(channel), Some(channel_id)) = (body.primary_channel, body.channel_id) {
        identities.insert(0, CustomerIdentity { channel, channel_id });
    }
    if let Some(open_id) = body.wechat_open_id {
        identities.push(CustomerIdentity { channel: CustomerChannel::Wechat, channel_id: open_id });
    }
    let input = CustomerInput {
        name: body.name,
        primary_channel: body.primary_channel,
        identities,
        email: body.email,
        phone: body.phone,
        tags: body.tags,
        notes: body.notes,
    };
    let created = state.core.create_customer(&agent, input).await?;
    Ok((axum::http::StatusCode::CREATED, Data(created.into())))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCustomerRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    primary_channel: Option<CustomerChannel>,
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    phone: Option<Option<String>>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    notes: Option<Option<String>>,
    #[serde(default)]
    active: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    Agent(agent): Agent,
    Path(id): Path<String>,
    Body(body): Body<UpdateCustomerRequest>,
) -> Result<Data<CustomerDto>, Failure> {
    let patch = CustomerPatch {
        name: body.name,
        primary_channel: body.primary_channel,
        email: body.email,
        phone: body.phone,
        tags: body.tags,
        notes: body.notes,
        active: body.active,
    };
    Ok(Data(state.core.update_customer(&agent, &id, patch).await?.into()))
}

/// `POST /api/v1/customers/{id}/token`: a token an agent hands to (or tests as) the customer.
pub async fn token(
    State(state): State<AppState>,
    Agent(agent): Agent,
    Path(id): Path<String>,
) -> Result<Data<TokenDto>, Failure> {
    let customer = state.core.customer(&agent, &id).await?;
    let channel = customer.primary_channel;
    Ok(Data(issue_token(&state, &customer, channel).await?))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerConversationDto {
    id: String,
    name: Option<String>,
    channel: Option<String>,
    last_message_at: Option<Timestamp>,
    last_message_id: Option<String>,
    created_at: Timestamp,
}

impl From<Conversation> for CustomerConversationDto {
    fn from(c: Conversation) -> Self {
        CustomerConversationDto {
            id: c.id,
            name: c.name,
            channel: c.channel.map(|f| f.channel),
            last_message_at: c.last_message_at,
            last_message_id: c.last_message_id,
            created_at: c.created_at,
        }
    }
}

/// `GET /api/v1/customers/{id}/conversations`: where the customer's messages are.
pub async fn conversations(
    State(state): State<AppState>,
    Agent(agent): Agent,
    Path(id): Path<String>,
) -> Result<Data<Vec<CustomerConversationDto>>, Failure> {
    let found = state.core.customer_conversations(&agent, &id).await?;
    Ok(Data(found.into_iter().map(Into::into).collect()))
}
