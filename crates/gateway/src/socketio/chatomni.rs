//! The ChatOmni inbox (seed 000, DESIGN 4.5) on the namespace `/chatomni`: a tenant's feed of
//! channel activity for agent dashboards.
//!
//! A client connects with `query: {room: "<tenant>"}` and emits `auth {token}`. A token of an
//! agent or admin of that tenant gets `authenticated {room, userId}` and joins the room; any
//! other (missing, invalid, another tenant's, a user's) gets `unauthorized {code, message}` and
//! is disconnected, as is a socket that has not authenticated within `AUTH_DEADLINE`. Only
//! authenticated sockets hear anything.
//!
//! Every channel message dashboards show (a Facebook page comment or message, a WhatsApp
//! message, an agent's reply…) goes to its tenant's room as, in this order:
//! - `on-events`: a JSON *string* of `{Conversation, Message, EventName: "chatomni.on-message"}`
//!   in the seed's PascalCase shape;
//! - `on-messages`: a JSON string of `{EventName: "MessageCreated", Conversation, Message}`;
//! - `on-conversations` and `update`: JSON strings of `{EventName: "ConversationCreated" |
//!   "ConversationUpdated", Conversation}`;
//! - `notification` (messages from customers only): a JSON string of `{EventName: "NewMessage",
//!   Title, Body, Conversation}`.
//!
//! A change of a chat's unread count alone sends `on-conversations` and `update`; a connector's
//! session report sends `notification {EventName: "ChannelSession", …}`.
//!
//! Codes chatgate chose where the seed shows one value: `ChannelType` 4 is a Facebook page (the
//! seed's), 5 WhatsApp, 6 Telegram, 7 LINE, 8 WeChat. `MessageType` 12 is a page comment (the
//! seed's), 11 a text message, 13 image, 14 video, 15 audio or voice, 16 file or document,
//! 17 sticker, 18 location, 19 contact, 10 anything else.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chatgate_core::Timestamp;
use chatgate_core::event::{ChannelChatEvent, ChannelMessageEvent, ChannelSessionEvent, EventKind};
use chatgate_core::model::{ChannelType, ExternalMessage};
use chatgate_socketio::{ConnectError, Connecting, Event, Namespace, NamespaceHandler, Socket, SocketIo};
use serde_json::{Map, Value, json};

use crate::state::AppState;

const NAMESPACE: &str = "/chatomni";
/// How long a socket may stay connected without authenticating.
const AUTH_DEADLINE: Duration = Duration::from_secs(30);

/// A dashboard's socket: the tenant it asked for, and whether it proved it may watch it.
struct Dashboard {
    room: Option<String>,
    authenticated: AtomicBool,
}

/// The inbox's namespace.
struct ChatOmni {
    state: AppState,
}

/// Defines the namespace and starts rendering core events for it.
pub fn register(io: &SocketIo, state: &AppState) {
    let namespace = io.namespace(NAMESPACE, ChatOmni { state: state.clone() });
    tokio::spawn(render(state.core.subscribe(), namespace));
}

impl NamespaceHandler for ChatOmni {
    type Data = Dashboard;

    fn connect(&self, request: &Connecting<'_>) -> Result<Dashboard, ConnectError> {
        let room = request.handshake.query("room").filter(|r| !r.trim().is_empty());
        Ok(Dashboard { room, authenticated: AtomicBool::new(false) })
    }

    fn connected(&self, socket: &Socket<Dashboard>) {
        let waiting = socket.clone();
        tokio::spawn(async move {
            tokio::time::sleep(AUTH_DEADLINE).await;
            if waiting.is_connected() && !waiting.data().authenticated.load(Ordering::Acquire) {
                refuse(&waiting, "UNAUTHORIZED", "Emit `auth {token}` within 30 seconds of connecting");
            }
        });
    }

    fn event(&self, socket: &Socket<Dashboard>, mut event: Event) {
        if event.name == "auth" {
            authenticate(&self.state, socket, event.take_data());
        }
    }
}

fn authenticate(state: &AppState, socket: &Socket<Dashboard>, data: Option<Value>) {
    let Some(room) = socket.data().room.as_deref() else {
        return refuse(socket, "VALIDATION", "Connect with the tenant as query.room");
    };
    // `auth {token}`, or the token alone.
    let token = match &data {
        Some(Value::Object(o)) => o.get("token").and_then(Value::as_str),
        Some(Value::String(t)) => Some(t.as_str()),
        _ => None,
    };
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return refuse(socket, "VALIDATION", "Emit `auth` with {token: \"<jwt>\"}");
    };
    let principal = match super::auth::principal(state, token) {
        Ok(p) => p,
        Err(e) => return refuse(socket, "UNAUTHORIZED", &e),
    };
    if let Err(e) = state.core.may_watch_channels(&principal, room) {
        return refuse(socket, "FORBIDDEN", &e.message);
    }
    socket.join(tenant_room(room));
    socket.data().authenticated.store(true, Ordering::Release);
    let _ = socket.emit("authenticated", &json!({"room": room, "userId": principal.participant_id}));
}

fn refuse(socket: &Socket<Dashboard>, code: &str, message: &str) {
    let _ = socket.emit("unauthorized", &json!({"code": code, "message": message}));
    socket.disconnect();
}

fn tenant_room(tenant: &str) -> String {
    format!("tenant:{tenant}")
}

/// ChatOmni's `ChannelType`.
pub fn channel_type_code(t: ChannelType) -> u32 {
    match t {
        ChannelType::Facebook => 4,
        ChannelType::Whatsapp => 5,
        ChannelType::Telegram => 6,
        ChannelType::Line => 7,
        ChannelType::Wechat => 8,
    }
}

/// ChatOmni's `MessageType`, from the platform's name of the message's kind.
pub fn message_type_code(kind: &str) -> u32 {
    match kind.to_ascii_lowercase().as_str() {
        "comment" => 12,
        "text" | "chat" | "message" => 11,
        "image" | "photo" => 13,
        "video" | "gif" => 14,
        "audio" | "voice" | "ptt" => 15,
        "file" | "document" => 16,
        "sticker" => 17,
        "location" => 18,
        "contact" | "vcard" | "multi_vcard" => 19,
        _ => 10,
    }
}

fn conversation_json(e: &ChannelChatEvent, updated: Timestamp) -> Value {
    json!({
        "Id": e.chat.conversation_id,
        "ChannelType": channel_type_code(e.account.channel_type),
        "ChannelId": e.account.external_id.clone().unwrap_or_else(|| e.account.id.clone()),
        "UserId": e.chat.external_chat_id,
        "Name": e.chat.name,
        "HasPhone": e.customer.as_ref().is_some_and(|c| c.phone.is_some()),
        "HasAddress": false,
        "UpdatedTime": updated,
    })
}

fn message_json(e: &ChannelChatEvent, m: &ChannelMessageEvent) -> Value {
    let external = m.message.external.as_ref();
    let kind = external.map_or("text", |x| x.message_type.as_str());
    let object_id = external.and_then(|x| x.object_id.clone());
    // A top-level comment's parent is its post: ChatOmni shows no parent then.
    let parent_id = external.and_then(|x| x.parent_id.clone()).filter(|p| Some(p) != object_id.as_ref());
    let data = match external {
        Some(x) if kind.eq_ignore_ascii_case("comment") => comment_data(&m.message, x),
        Some(x) => x.raw.clone().unwrap_or(Value::Null),
        None => Value::Null,
    };
    // Written in chatgate by an agent (not seen on the platform first): who wrote it.
    let (created_by_id, created_by) = match external {
        None => (json!(m.sender.id), json!({"Id": m.sender.id, "Name": m.sender.name})),
        Some(_) => (Value::Null, Value::Null),
    };
    json!({
        "Id": m.message.id,
        "ChannelType": channel_type_code(e.account.channel_type),
        "ChannelId": e.account.external_id.clone().unwrap_or_else(|| e.account.id.clone()),
        "UserId": e.chat.external_chat_id,
        "Message": m.message.plain_text.clone().unwrap_or_default(),
        "MessageType": message_type_code(kind),
        "ContentType": Value::Null,
        "ObjectId": object_id,
        "ParentId": parent_id,
        "IsOwner": m.outbound,
        "Data": data,
        "CreatedById": created_by_id,
        "CreatedBy": created_by,
        "CreatedTime": m.message.created_at,
        "ChannelCreatedTime": external.and_then(|x| x.sent_at),
    })
}

/// A comment in the Graph API's shape (seed 000's `Data`), from what the connector sent: the
/// fields of `raw` that have the Graph API's types, and otherwise the event's own fields.
fn comment_data(message: &chatgate_core::model::Message, x: &ExternalMessage) -> Value {
    let raw = x.raw.as_ref().and_then(Value::as_object);
    let raw_str = |key: &str| raw.and_then(|r| r.get(key)).and_then(Value::as_str).map(str::to_owned);
    let raw_of = |key: &str, default: Value| -> Value {
        match raw.and_then(|r| r.get(key)) {
            Some(v) if std::mem::discriminant(v) == std::mem::discriminant(&default) => v.clone(),
            _ => default,
        }
    };
    let object_id = x.object_id.clone().or_else(|| raw_str("post_id"));
    let parent_id = x.parent_id.clone().or_else(|| raw_str("parent_id")).or_else(|| object_id.clone());
    let created_time = match raw.and_then(|r| r.get("created_time")) {
        Some(Value::String(s)) => Value::from(s.clone()),
        // Meta's webhooks give Unix seconds.
        Some(Value::Number(n)) => match n.as_i64() {
            Some(secs) => json!(Timestamp::from_unix_ms(secs.saturating_mul(1000))),
            None => json!(x.sent_at.unwrap_or(message.created_at)),
        },
        _ => json!(x.sent_at.unwrap_or(message.created_at)),
    };
    let from = match raw.and_then(|r| r.get("from")) {
        Some(Value::Object(f)) => {
            let mut f: Map<String, Value> = f.clone();
            f.entry("uid").or_insert(Value::Null);
            Value::Object(f)
        }
        _ => json!({"id": x.from, "name": x.from_name, "uid": Value::Null}),
    };
    json!({
        "id": raw_str("id").or_else(|| raw_str("comment_id")).unwrap_or_else(|| x.id.clone()),
        "parent": parent_id.map(|id| json!({"id": id})),
        "is_hidden": raw_of("is_hidden", Value::Bool(false)),
        "can_hide": raw_of("can_hide", Value::Bool(false)),
        "can_remove": raw_of("can_remove", Value::Bool(false)),
        "can_like": raw_of("can_like", Value::Bool(false)),
        "can_reply_privately": raw_of("can_reply_privately", Value::Bool(false)),
        "comment_count": raw_of("comment_count", json!(0)),
        "message": raw_str("message").or_else(|| message.plain_text.clone()).unwrap_or_default(),
        "user_likes": raw_of("user_likes", Value::Bool(false)),
        "created_time": created_time,
        "object": object_id.map(|id| json!({"id": id})),
        "from": from,
        "comments": raw.and_then(|r| r.get("comments")).cloned().unwrap_or(Value::Null),
        "attachment": raw.and_then(|r| r.get("attachment")).cloned().unwrap_or(Value::Null),
        "message_tags": raw_of("message_tags", json!([])),
        "status": raw_of("status", json!(0)),
    })
}

/// Socket.IO arguments of ChatOmni are JSON text.
fn text(value: &Value) -> String {
    value.to_string()
}

fn session_json(e: &ChannelSessionEvent) -> Value {
    json!({
        "EventName": "ChannelSession",
        "ChannelId": e.account.external_id.clone().unwrap_or_else(|| e.account.id.clone()),
        "ChannelType": channel_type_code(e.account.channel_type),
        "SessionId": e.account.id,
        "State": e.session.state.as_str(),
        "PhoneNumber": e.session.phone_number,
        "DisplayName": e.session.display_name,
        "Reason": e.session.reason,
        "UpdatedTime": e.at,
    })
}

async fn render(events: chatgate_core::EventStream, ns: Namespace) {
    crate::pacing::render_batches(events, |event| {
        let frames: Vec<(&str, String)> = match &event.kind {
            EventKind::ChannelChatChanged(e) => chat_frames(e),
            EventKind::ChannelSessionChanged(e) => vec![("notification", text(&session_json(e)))],
            _ => return,
        };
        let room = tenant_room(&event.tenant);
        for (name, payload) in frames {
            if let Err(err) = ns.to(&room).emit(name, &payload) {
                tracing::debug!(error = %err, event = name, "chatomni event not sent");
            }
        }
    })
    .await;
}

fn chat_frames(e: &ChannelChatEvent) -> Vec<(&'static str, String)> {
    let conversation_event = if e.chat_created { "ConversationCreated" } else { "ConversationUpdated" };
    let Some(m) = &e.message else {
        let conversation = conversation_json(e, Timestamp::now());
        let changed = text(&json!({"EventName": "ConversationUpdated", "Conversation": conversation}));
        return vec![("on-conversations", changed.clone()), ("update", changed)];
    };
    let conversation = conversation_json(e, m.message.created_at);
    let message = message_json(e, m);
    let mut frames = vec![
        (
            "on-events",
            text(
                &json!({"Conversation": conversation, "Message": message, "EventName": "chatomni.on-message"}),
            ),
        ),
        (
            "on-messages",
            text(&json!({"EventName": "MessageCreated", "Conversation": conversation, "Message": message})),
        ),
    ];
    let changed = text(&json!({"EventName": conversation_event, "Conversation": conversation}));
    frames.push(("on-conversations", changed.clone()));
    frames.push(("update", changed));
    if !m.outbound {
        frames.push((
            "notification",
            text(&json!({
                "EventName": "NewMessage",
                "Title": e.chat.name,
                "Body": m.message.plain_text.clone().unwrap_or_default(),
                "Conversation": conversation,
            })),
        ));
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_is_shown_in_the_graph_api_shape_with_its_post_and_parent() {
        let external = ExternalMessage {
            id: "759214013141302_681441874903695".into(),
            message_type: "comment".into(),
            from_me: false,
            from: Some("9484319011642026".into()),
            from_name: Some("Hoa Phượng".into()),
            object_id: Some("270136663390370_759214013141302".into()),
            parent_id: None,
            sent_at: Timestamp::parse_rfc3339("2025-12-19T21:22:31+07:00"),
            raw: Some(json!({"is_hidden": true, "comment_count": "not a number"})),
        };
        let message = chatgate_core::model::Message {
            id: "M".into(),
            conversation_id: "C".into(),
            seq: 1,
            sender_id: "S".into(),
            sender_type: chatgate_core::model::SenderType::User,
            blocks: Vec::new(),
            plain_text: Some("lv do".into()),
            reply_to_message_id: None,
            quick_replies: None,
            mentions: None,
            client_message_id: None,
            system_event: None,
            external: Some(external.clone()),
            reactions: Vec::new(),
            created_at: Timestamp::from_unix_ms(0),
            updated_at: Timestamp::from_unix_ms(0),
            edited_at: None,
            deleted_at: None,
            deleted_by: None,
        };
        let data = comment_data(&message, &external);
        assert_eq!(data["id"], "759214013141302_681441874903695");
        assert_eq!(data["parent"]["id"], "270136663390370_759214013141302");
        assert_eq!(data["object"]["id"], "270136663390370_759214013141302");
        assert_eq!(data["message"], "lv do");
        assert_eq!(data["from"], json!({"id": "9484319011642026", "name": "Hoa Phượng", "uid": null}));
        assert_eq!(data["created_time"], "2025-12-19T14:22:31.000Z");
        assert_eq!(data["is_hidden"], true, "a raw field of the right type is kept");
        assert_eq!(data["comment_count"], 0, "one of the wrong type is not");
        assert_eq!(data["message_tags"], json!([]));
    }

    #[test]
    fn codes_follow_the_seed_where_it_shows_them() {
        assert_eq!(channel_type_code(ChannelType::Facebook), 4);
        assert_eq!(message_type_code("comment"), 12);
        assert_eq!(message_type_code("chat"), 11);
        assert_eq!(message_type_code("ptt"), 15);
        assert_eq!(message_type_code("poll"), 10);
    }
}
