//! The WhatsApp dashboard (seed 004, DESIGN 4.6) on the default namespace `/`, and its chat
//! list `GET /api/whatsapp/sessions/{sessionId}/chats`.
//!
//! A connection presents a JWT in `auth.token` (or the `token` query parameter, or an
//! `Authorization` header). A connect middleware checks it before the socket joins the
//! namespace, so a missing or bad token is a `connect_error` on the client, never a connection
//! that is dropped afterwards. An accepted socket joins its company's room (company = tenant)
//! and hears that company's WhatsApp events only:
//!
//! - `whatsapp:new-message {sessionId, companyId, chat, message}` then `whatsapp:chat-updated
//!   {sessionId, companyId, chatId, lastMessageAt, lastMessageText, unreadCount}` for each
//!   message dashboards show (in either direction); `whatsapp:chat-updated` alone when only the
//!   unread count changed;
//! - `whatsapp:qr-updated {sessionId, qrCode}`, `whatsapp:session-connected {sessionId,
//!   phoneNumber, displayName}`, `whatsapp:session-disconnected {sessionId, reason}`.
//!
//! The session id is the channel account's id; `chat.id` and `chatId` of `chat-updated` are
//! chatgate's conversation id, `chat.chatId` the WhatsApp id. Status broadcasts, notifications
//! and empty messages are stored but never emitted (the core leaves them out).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use chatgate_core::event::{ChannelChatEvent, ChannelMessageEvent, EventKind};
use chatgate_core::model::{ChannelChat, ChannelType, ChatKind, SessionState};
use chatgate_core::{CoreError, Principal, Timestamp};
use chatgate_socketio::{ConnectError, Connecting, Event, Namespace, NamespaceHandler, Socket, SocketIo};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::http::problem::ApiError;
use crate::rest::extract::{ApiPath, ApiQuery, Caller};
use crate::state::AppState;

/// The room of a company's sockets.
fn company_room(tenant: &str) -> String {
    format!("company:{tenant}")
}

/// The dashboards of every company.
struct Dashboards {
    state: AppState,
}

/// Defines the namespace and starts rendering core events for it.
pub fn register(io: &SocketIo, state: &AppState) {
    let namespace = io.namespace("/", Dashboards { state: state.clone() });
    tokio::spawn(render(state.core.subscribe(), namespace));
}

impl NamespaceHandler for Dashboards {
    type Data = Principal;

    /// The handshake check: a valid token of an agent or admin.
    fn connect(&self, request: &Connecting<'_>) -> Result<Principal, ConnectError> {
        let token = super::auth::token_of(request.handshake, request.auth)
            .ok_or_else(|| ConnectError::new("Unauthorized: connect with auth: {token: \"<jwt>\"}"))?;
        let principal = super::auth::principal(&self.state, &token)
            .map_err(|e| ConnectError::new(format!("Unauthorized: {e}")))?;
        self.state
            .core
            .may_watch_channels(&principal, &principal.tenant)
            .map_err(|e| ConnectError::new(format!("Forbidden: {}", e.message)))?;
        Ok(principal)
    }

    /// Joins the company's room before any event can follow the client's `connect`.
    fn connected(&self, socket: &Socket<Principal>) {
        socket.join(company_room(&socket.data().tenant));
    }

    /// Dashboards only listen.
    fn event(&self, _: &Socket<Principal>, _: Event) {}
}

/// A chat as seed 004 shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatDto {
    id: String,
    chat_id: String,
    chat_name: String,
    chat_type: &'static str,
    is_group: bool,
    last_message_at: Option<Timestamp>,
    last_message_text: Option<String>,
    unread_count: u32,
}

impl From<&ChannelChat> for ChatDto {
    fn from(c: &ChannelChat) -> Self {
        ChatDto {
            id: c.conversation_id.clone(),
            chat_id: c.external_chat_id.clone(),
            chat_name: c.name.clone(),
            chat_type: c.chat_type(),
            is_group: c.is_group,
            last_message_at: c.last_message_at,
            last_message_text: c.last_message_text.clone(),
            unread_count: c.unread_count,
        }
    }
}

fn message_dto(e: &ChannelChatEvent, m: &ChannelMessageEvent) -> Value {
    let external = m.message.external.as_ref();
    let from_number = external.and_then(|x| x.from.clone()).or_else(|| {
        if m.outbound {
            e.account.phone_number.clone()
        } else if !e.chat.is_group {
            Some(e.chat.external_chat_id.clone())
        } else {
            None
        }
    });
    json!({
        "id": m.message.id,
        "messageId": external.map(|x| x.id.clone()),
        "fromMe": m.outbound,
        "fromNumber": from_number,
        "fromName": external.and_then(|x| x.from_name.clone()).unwrap_or_else(|| m.sender.name.clone()),
        "body": m.message.plain_text.clone().unwrap_or_default(),
        "messageType": external.map_or("text", |x| x.message_type.as_str()),
        "timestamp": external.and_then(|x| x.sent_at).unwrap_or(m.message.created_at),
    })
}

async fn render(events: chatgate_core::EventStream, ns: Namespace) {
    crate::pacing::render_batches(events, |event| {
        let room = company_room(&event.tenant);
        let sent = match &event.kind {
            EventKind::ChannelChatChanged(e) if e.account.channel_type == ChannelType::Whatsapp => {
                let session_id = &e.account.id;
                let company_id = &event.tenant;
                if let Some(m) = &e.message {
                    let payload = json!({
                        "sessionId": session_id,
                        "companyId": company_id,
                        "chat": ChatDto::from(&e.chat),
                        "message": message_dto(e, m),
                    });
                    if let Err(err) = ns.to(&room).emit("whatsapp:new-message", &payload) {
                        tracing::debug!(error = %err, "whatsapp:new-message not sent");
                    }
                }
                let updated = json!({
                    "sessionId": session_id,
                    "companyId": company_id,
                    "chatId": e.chat.conversation_id,
                    "lastMessageAt": e.chat.last_message_at,
                    "lastMessageText": e.chat.last_message_text,
                    "unreadCount": e.chat.unread_count,
                });
                ns.to(&room).emit("whatsapp:chat-updated", &updated)
            }
            EventKind::ChannelSessionChanged(e) if e.account.channel_type == ChannelType::Whatsapp => {
                let session_id = &e.account.id;
                let (name, payload) = match e.session.state {
                    SessionState::Qr => {
                        ("whatsapp:qr-updated", json!({"sessionId": session_id, "qrCode": e.session.qr_code}))
                    }
                    SessionState::Connected => (
                        "whatsapp:session-connected",
                        json!({
                            "sessionId": session_id,
                            "phoneNumber": e.session.phone_number,
                            "displayName": e.session.display_name,
                        }),
                    ),
                    SessionState::Disconnected | SessionState::Pending => (
                        "whatsapp:session-disconnected",
                        json!({"sessionId": session_id, "reason": e.session.reason}),
                    ),
                };
                ns.to(&room).emit(name, &payload)
            }
            _ => return,
        };
        if let Err(err) = sent {
            tracing::debug!(error = %err, "whatsapp event not sent");
        }
    })
    .await;
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/whatsapp/sessions/{session_id}/chats", get(chats))
        .route("/api/whatsapp/sessions/{session_id}/chats/{chat_id}/read", post(read))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatsQuery {
    #[serde(default)]
    include_groups: Option<bool>,
    #[serde(default)]
    chat_type: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatsDto {
    items: Vec<ChatDto>,
    next_cursor: Option<String>,
}

/// The session's chats, newest activity first. Groups are left out unless `includeGroups=true`
/// or `chatType` asks for them (`all`, `group`, `individual`; `chatType` wins).
async fn chats(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(session_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ChatsQuery>,
) -> Result<Json<ChatsDto>, ApiError> {
    let kind = match query.chat_type.as_deref() {
        Some("all") => ChatKind::All,
        Some("group") => ChatKind::Group,
        Some("individual") => ChatKind::Individual,
        Some(_) => return Err(CoreError::invalid("chatType", "must be all, group or individual").into()),
        None if query.include_groups == Some(true) => ChatKind::All,
        None => ChatKind::Individual,
    };
    let page = state
        .core
        .channel_chats(
            &principal,
            &session_id,
            Some(ChannelType::Whatsapp),
            kind,
            query.limit,
            query.cursor.as_deref(),
        )
        .await?;
    Ok(Json(ChatsDto {
        items: page.items.iter().map(ChatDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The business read the chat: its unread count goes to 0 (and dashboards get `chat-updated`).
async fn read(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath((session_id, chat_id)): ApiPath<(String, String)>,
) -> Result<Json<ChatDto>, ApiError> {
    let chat = state.core.read_channel_chat(&principal, &session_id, &chat_id).await?;
    Ok(Json(ChatDto::from(&chat)))
}
