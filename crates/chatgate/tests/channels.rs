//! Channel accounts and the connector bridge over HTTP, as an admin, a connector and an agent
//! use them: accounts and keys, connector events (idempotent, checked as a whole), the outbox
//! (long poll, acknowledgement, durability), the WhatsApp chat list, and password logins.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// An admin of `tenant`, and the channel it creates; returns `(channel id, connector key)`.
async fn channel(server: &TestServer, tenant: &str, body: Value) -> (String, String) {
    let admin = token_in(tenant, "admin-1", "admin");
    let r = server.post("/api/channels", &admin, body).await;
    assert_eq!(r.status, 201, "create channel: {}", r.text());
    let c = r.json();
    (c["id"].as_str().unwrap().to_owned(), c["connectorKey"].as_str().unwrap().to_owned())
}

async fn whatsapp(server: &TestServer, tenant: &str) -> (String, String) {
    channel(server, tenant, json!({"type": "whatsapp", "name": "Main number"})).await
}

async fn post_events(server: &TestServer, channel: &str, key: &str, events: Value) -> Reply {
    server.post(&format!("/api/connectors/{channel}/events"), key, events).await
}

fn message_event(chat: &str, id: &str, text: &str) -> Value {
    json!({
        "kind": "message", "externalChatId": chat, "chatName": "Sunny", "isGroup": false,
        "externalMessageId": id, "fromMe": false, "from": chat, "fromName": "Sunny",
        "text": text, "messageType": "chat", "timestamp": "2025-07-16T11:13:54Z",
        "raw": {"id": {"_serialized": id}, "body": text}
    })
}

/// Posts one message event; returns `(conversation id, message id)`.
async fn inbound(
    server: &TestServer,
    channel: &str,
    key: &str,
    chat: &str,
    id: &str,
    text: &str,
) -> (String, String) {
    let r = post_events(server, channel, key, message_event(chat, id, text)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let result = &r.json()["results"][0];
    (result["conversationId"].as_str().unwrap().to_owned(), result["messageId"].as_str().unwrap().to_owned())
}

async fn history(server: &TestServer, token: &str, conversation: &str) -> Vec<Value> {
    let r = server.get(&format!("/api/conversations/{conversation}/messages?direction=newer"), token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["items"].as_array().unwrap().clone()
}

async fn outbox(server: &TestServer, channel: &str, key: &str, query: &str) -> Vec<Value> {
    let r = server.get(&format!("/api/connectors/{channel}/outbox{query}"), key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["items"].as_array().unwrap().clone()
}

/// `POST /api/token` with a form body, as the ChatOmni dashboard sends it.
async fn password_grant(server: &TestServer, form: &str) -> (u16, Value, Option<String>) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let request = hyper::Request::builder()
        .method("POST")
        .uri(server.url("/api/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form.to_owned())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let cache = response.headers().get("cache-control").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null), cache)
}

#[tokio::test]
async fn admins_create_channels_and_see_their_keys_once() {
    let server = TestServer::start();
    let admin = token_in("acme", "boss", "admin");
    let r = server
        .post(
            "/api/channels",
            &admin,
            json!({"type": "facebook", "name": "Shop page", "externalId": "270136663390370"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    assert_eq!(created["type"], "facebook");
    assert_eq!(created["name"], "Shop page");
    assert_eq!(created["externalId"], "270136663390370");
    assert!(created["connectorKey"].as_str().unwrap().starts_with("ck_"));
    assert_eq!(created["session"]["state"], "pending");

    let listed = server.get("/api/channels", &admin).await.json();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], created["id"]);
    assert_eq!(items[0]["connectorKey"], Value::Null, "the key is shown only when it is made");
    let agents_view = server.get("/api/channels", &token_in("acme", "ag", "agent")).await.json();
    assert_eq!(agents_view["items"].as_array().unwrap().len(), 1, "agents see the tenant's channels");
    let other = server.get("/api/channels", &token_in("globex", "boss", "admin")).await.json();
    assert!(other["items"].as_array().unwrap().is_empty(), "another tenant sees none");

    server
        .post("/api/channels", &token_in("acme", "ag", "agent"), json!({"type": "whatsapp", "name": "x"}))
        .await
        .problem(403, "Forbidden");
    server.get("/api/channels", &token_in("acme", "u", "user")).await.problem(403, "Forbidden");
    let bad = server
        .post("/api/channels", &admin, json!({"type": "pigeon", "name": ""}))
        .await
        .problem(400, "Validation");
    let fields: Vec<&str> =
        bad["errors"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(fields, ["type", "name"], "{bad}");
    assert!(bad["errors"][0]["description"].as_str().unwrap().contains("whatsapp"));
    let taken = server
        .post(
            "/api/channels",
            &token_in("globex", "b", "admin"),
            json!({"type": "facebook", "name": "Copy", "externalId": "270136663390370"}),
        )
        .await;
    taken.problem(409, "Conflict");

    // A new key replaces the old one at once.
    let id = created["id"].as_str().unwrap();
    let old_key = created["connectorKey"].as_str().unwrap();
    let replaced = server.post(&format!("/api/channels/{id}/connector-key"), &admin, json!({})).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    let new_key = replaced.json()["connectorKey"].as_str().unwrap().to_owned();
    assert_ne!(new_key, old_key);
    let session = json!({"kind": "session", "state": "disconnected", "reason": "client_logout"});
    post_events(&server, id, old_key, session.clone()).await.problem(401, "Unauthorized");
    assert_eq!(post_events(&server, id, &new_key, session).await.status, 200);
}

#[tokio::test]
async fn connectors_need_their_own_channels_key() {
    let server = TestServer::start();
    let (a, key_a) = whatsapp(&server, "acme").await;
    let (b, _) = whatsapp(&server, "acme").await;
    let event = json!({"kind": "session", "state": "qr", "qrCode": "data:image/png;base64,AAAA"});
    let none = server
        .request(
            "POST",
            &format!("/api/connectors/{a}/events"),
            None,
            Some(event.to_string().into_bytes()),
            &[],
        )
        .await;
    none.problem(401, "Unauthorized");
    post_events(&server, &a, "ck_not-a-key", event.clone()).await.problem(401, "Unauthorized");
    post_events(&server, &b, &key_a, event.clone()).await.problem(401, "Unauthorized");
    server.get(&format!("/api/connectors/{b}/outbox"), &key_a).await.problem(401, "Unauthorized");
    let admin_jwt = token_in("acme", "boss", "admin");
    post_events(&server, &a, &admin_jwt, event.clone()).await.problem(401, "Unauthorized");
    assert_eq!(post_events(&server, &a, &key_a, event).await.status, 200);
}

#[tokio::test]
async fn a_bridge_message_is_an_ordinary_message_stored_once() {
    let server = TestServer::start();
    let (channel, key) = whatsapp(&server, "acme").await;
    let agent = token_in("acme", "agent-1", "agent");
    let (conversation, message_id) =
        inbound(&server, &channel, &key, "77079856339@c.us", "wamid.1", "Привет! Как дела?").await;

    let messages = history(&server, &agent, &conversation).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], message_id.as_str());
    assert_eq!(messages[0]["plainTextIndex"], "Привет! Как дела?");
    let sender = messages[0]["senderId"].as_str().unwrap();
    let customer = server.get(&format!("/api/v1/customers/{sender}"), &agent).await.json();
    assert_eq!(customer["data"]["name"], "Sunny");
    assert_eq!(
        customer["data"]["identities"][0],
        json!({"channel": "WHATSAPP", "channelId": "77079856339@c.us"})
    );

    // The same platform message again changes nothing.
    let again = post_events(
        &server,
        &channel,
        &key,
        message_event("77079856339@c.us", "wamid.1", "Привет! Как дела?"),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["results"][0]["duplicate"], true);
    assert_eq!(again.json()["results"][0]["messageId"], message_id.as_str());
    assert_eq!(history(&server, &agent, &conversation).await.len(), 1);

    // The next message of the chat lands in the same conversation; another tenant cannot read it.
    let (same, _) = inbound(&server, &channel, &key, "77079856339@c.us", "wamid.2", "Ты тут?").await;
    assert_eq!(same, conversation);
    assert_eq!(history(&server, &agent, &conversation).await.len(), 2);
    let foreign = token_in("globex", "agent-1", "agent");
    server
        .get(&format!("/api/conversations/{conversation}/messages"), &foreign)
        .await
        .problem(404, "NotFound");
    server
        .get(&format!("/api/conversations/{conversation}/messages"), &token_in("acme", "someone", "user"))
        .await
        .problem(403, "Forbidden");
}

#[tokio::test]
async fn a_bad_event_in_a_batch_is_named_and_nothing_is_stored() {
    let server = TestServer::start();
    let (channel, key) = whatsapp(&server, "acme").await;
    let batch = json!([
        message_event("1@c.us", "m-1", "fine"),
        {"kind": "message", "externalChatId": "2@c.us", "externalMessageId": "m-2", "isGroup": "yes"},
        {"kind": "telepathy"},
        {"kind": "session", "state": "asleep"},
        {"kind": "message", "externalChatId": "3@c.us", "externalMessageId": "m-3", "text": "x".repeat(20_000)},
    ]);
    let r = post_events(&server, &channel, &key, batch).await;
    let p = r.problem(400, "Validation");
    let fields: Vec<&str> =
        p["errors"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(fields, ["[1].isGroup", "[2].kind"], "decoding errors come first: {p}");
    let r = post_events(
        &server,
        &channel,
        &key,
        json!([
            message_event("1@c.us", "m-1", "fine"),
            {"kind": "session", "state": "asleep"},
            {"kind": "message", "externalChatId": "3@c.us", "externalMessageId": "m-3", "text": "x".repeat(20_000)},
            {"kind": "message", "externalChatId": "g@g.us", "externalMessageId": "m-4", "isGroup": true, "text": "who?"},
            {"kind": "message", "externalChatId": "5@c.us", "externalMessageId": "m-5", "raw": {"blob": "y".repeat(70_000)}},
        ]),
    )
    .await;
    let p = r.problem(400, "Validation");
    let fields: Vec<&str> =
        p["errors"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(fields, ["[1].state", "[2].text", "[3].from", "[4].raw"], "{p}");
    let agent = token_in("acme", "agent-1", "agent");
    let chats =
        server.get(&format!("/api/whatsapp/sessions/{channel}/chats?chatType=all"), &agent).await.json();
    assert!(
        chats["items"].as_array().unwrap().is_empty(),
        "the good event of the batch was not stored either"
    );

    let too_many: Vec<Value> = (0..101).map(|n| message_event("1@c.us", &format!("n{n}"), "x")).collect();
    post_events(&server, &channel, &key, Value::Array(too_many)).await.problem(400, "Validation");
    let not_json = server.post_raw(&format!("/api/connectors/{channel}/events"), &key, b"{nope").await;
    not_json.problem(400, "Validation");
    post_events(&server, &channel, &key, json!([])).await.problem(400, "Validation");
}

#[tokio::test]
async fn messages_dashboards_never_see_are_still_stored_and_answered() {
    let server = TestServer::start();
    let (channel, key) = whatsapp(&server, "acme").await;
    let agent = token_in("acme", "agent-1", "agent");
    let r = post_events(
        &server,
        &channel,
        &key,
        json!([
            {"kind": "message", "externalChatId": "status@broadcast", "externalMessageId": "s-1",
             "from": "77079856339@c.us", "text": "my status", "messageType": "image"},
            {"kind": "message", "externalChatId": "77079856339@c.us", "externalMessageId": "n-1",
             "from": "77079856339@c.us", "messageType": "notification", "text": "security code changed"},
            {"kind": "message", "externalChatId": "77079856339@c.us", "externalMessageId": "e-1",
             "from": "77079856339@c.us", "messageType": "chat", "text": ""},
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    assert!(results.iter().all(|x| x["shown"] == false && x["duplicate"] == false), "{results:?}");
    // Stored: the REST history has them.
    let conversation = results[1]["conversationId"].as_str().unwrap();
    assert_eq!(history(&server, &agent, conversation).await.len(), 2);
    // Not shown: no chat lists them, nothing is unread.
    let chats =
        server.get(&format!("/api/whatsapp/sessions/{channel}/chats?chatType=all"), &agent).await.json();
    assert!(chats["items"].as_array().unwrap().is_empty(), "{chats}");
}

#[tokio::test]
async fn the_whatsapp_chat_list_filters_groups_and_counts_unread_messages() {
    let server = TestServer::start();
    let (channel, key) = whatsapp(&server, "acme").await;
    let agent = token_in("acme", "agent-1", "agent");
    let (direct, _) = inbound(&server, &channel, &key, "77079856339@c.us", "d-1", "one").await;
    inbound(&server, &channel, &key, "77079856339@c.us", "d-2", "two").await;
    let group = post_events(
        &server,
        &channel,
        &key,
        json!({"kind": "message", "externalChatId": "120363@g.us", "chatName": "Family", "isGroup": true,
               "externalMessageId": "g-1", "from": "7701@c.us", "fromName": "Mom", "text": "dinner?"}),
    )
    .await;
    assert_eq!(group.status, 200);
    let chats = |query: &'static str| {
        let server = &server;
        let agent = agent.clone();
        let channel = channel.clone();
        async move {
            let r = server.get(&format!("/api/whatsapp/sessions/{channel}/chats{query}"), &agent).await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["items"].as_array().unwrap().clone()
        }
    };
    let default = chats("").await;
    assert_eq!(default.len(), 1, "groups are left out by default");
    let chat = &default[0];
    let mut keys: Vec<&str> = chat.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "chatId",
            "chatName",
            "chatType",
            "id",
            "isGroup",
            "lastMessageAt",
            "lastMessageText",
            "unreadCount"
        ]
    );
    assert_eq!(chat["id"], direct.as_str());
    assert_eq!(chat["chatId"], "77079856339@c.us");
    assert_eq!(chat["chatName"], "Sunny");
    assert_eq!(chat["chatType"], "individual");
    assert_eq!(chat["isGroup"], false);
    assert_eq!(chat["lastMessageAt"], "2025-07-16T11:13:54.000Z");
    assert_eq!(chat["lastMessageText"], "two");
    assert_eq!(chat["unreadCount"], 2);
    assert_eq!(chats("?includeGroups=true").await.len(), 2);
    assert_eq!(chats("?chatType=all").await.len(), 2);
    let groups = chats("?chatType=group").await;
    assert_eq!(groups.len(), 1);
    assert_eq!(
        (groups[0]["chatName"].as_str(), groups[0]["isGroup"].as_bool()),
        (Some("Family"), Some(true))
    );
    assert_eq!(chats("?includeGroups=true&chatType=individual").await.len(), 1, "chatType decides");
    let bad = server.get(&format!("/api/whatsapp/sessions/{channel}/chats?chatType=channels"), &agent).await;
    assert_eq!(bad.problem(400, "Validation")["errors"][0]["code"], "chatType");

    // Reading resets the count; so does answering.
    let read = server
        .post(&format!("/api/whatsapp/sessions/{channel}/chats/{direct}/read"), &agent, json!({}))
        .await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json()["unreadCount"], 0);
    inbound(&server, &channel, &key, "77079856339@c.us", "d-3", "three").await;
    assert_eq!(chats("").await[0]["unreadCount"], 1);
    server.say(&agent, &direct, "On my way").await;
    let after_reply = chats("").await;
    assert_eq!(
        (after_reply[0]["unreadCount"].as_u64(), after_reply[0]["lastMessageText"].as_str()),
        (Some(0), Some("On my way"))
    );

    // Other tenants and other kinds of channel do not have this session.
    server
        .get(&format!("/api/whatsapp/sessions/{channel}/chats"), &token_in("globex", "agent-1", "agent"))
        .await
        .problem(404, "NotFound");
    let (page, _) = channel_of(&server, "facebook").await;
    server.get(&format!("/api/whatsapp/sessions/{page}/chats"), &agent).await.problem(404, "NotFound");
}

async fn channel_of(server: &TestServer, kind: &str) -> (String, String) {
    channel(server, "acme", json!({"type": kind, "name": format!("A {kind} channel")})).await
}

#[tokio::test]
async fn agent_replies_wait_in_the_outbox_until_acknowledged() {
    let server = TestServer::start();
    let (channel, key) = whatsapp(&server, "acme").await;
    let agent = token_in("acme", "agent-1", "agent");
    let (conversation, inbound_id) =
        inbound(&server, &channel, &key, "77079856339@c.us", "wamid.in", "Hi").await;
    assert!(outbox(&server, &channel, &key, "").await.is_empty());

    // A long poll returns as soon as a reply is committed.
    let started = Instant::now();
    let poll = outbox(&server, &channel, &key, "?wait=20");
    let reply = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let body = json!({"blocks": [{"$type": "text", "format": "Plain", "content": "Hello!"}],
                          "replyToMessageId": inbound_id});
        let r = server.post(&format!("/api/conversations/{conversation}/messages"), &agent, body).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    };
    let (items, sent) = tokio::join!(poll, reply);
    assert!(started.elapsed() < Duration::from_secs(10), "the poll waited for its timeout");
    assert_eq!(items.len(), 1);
    let entry = &items[0];
    assert_eq!(entry["messageId"], sent["id"]);
    assert_eq!(entry["conversationId"], conversation.as_str());
    assert_eq!(entry["channelId"], channel.as_str());
    assert_eq!(entry["externalChatId"], "77079856339@c.us");
    assert_eq!(entry["replyToExternalMessageId"], "wamid.in");
    assert_eq!(entry["text"], "Hello!");
    assert_eq!(entry["senderId"], "agent-1");
    assert_eq!(entry["seq"], 1);

    // Unacknowledged entries come again; `after` skips what was seen.
    assert_eq!(outbox(&server, &channel, &key, "").await.len(), 1);
    assert!(outbox(&server, &channel, &key, "?after=1").await.is_empty());
    let idle = Instant::now();
    assert!(outbox(&server, &channel, &key, "?after=1&wait=1").await.is_empty());
    assert!(idle.elapsed() >= Duration::from_millis(900), "an empty long poll waits");
    server.get(&format!("/api/connectors/{channel}/outbox?wait=61"), &key).await.problem(400, "Validation");

    // Acknowledged with the platform's id: the platform's echo of it is the same message.
    let ack = server
        .post(
            &format!("/api/connectors/{channel}/outbox/ack"),
            &key,
            json!({"acks": [{"id": entry["id"], "externalMessageId": "wamid.out"}]}),
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.text());
    assert_eq!(ack.json()["acknowledged"], 1);
    assert!(outbox(&server, &channel, &key, "").await.is_empty());
    let again = server
        .post(&format!("/api/connectors/{channel}/outbox/ack"), &key, json!({"ids": [entry["id"]]}))
        .await;
    assert_eq!(again.json()["acknowledged"], 0, "acknowledging twice is harmless");
    let echo = post_events(
        &server,
        &channel,
        &key,
        json!({"kind": "message", "externalChatId": "77079856339@c.us", "externalMessageId": "wamid.out",
               "fromMe": true, "text": "Hello!"}),
    )
    .await;
    assert_eq!(echo.json()["results"][0]["duplicate"], true, "{}", echo.text());
    assert_eq!(echo.json()["results"][0]["messageId"], sent["id"]);
    assert_eq!(history(&server, &agent, &conversation).await.len(), 2);

    // A message sent from the phone itself is the business's, and goes to nobody's outbox.
    let from_phone = post_events(
        &server,
        &channel,
        &key,
        json!({"kind": "message", "externalChatId": "77079856339@c.us", "externalMessageId": "wamid.phone",
               "fromMe": true, "text": "typed on the phone"}),
    )
    .await;
    assert_eq!(from_phone.json()["results"][0]["duplicate"], false);
    let messages = history(&server, &agent, &conversation).await;
    assert_eq!(messages[2]["senderId"], format!("channel-{channel}"));
    assert!(outbox(&server, &channel, &key, "").await.is_empty());

    // Messages elsewhere never reach the outbox.
    let user = server.participant("plain-user", "Plain").await;
    let chat = server.conversation(&user, &[]).await;
    server.say(&user, &chat, "not for any platform").await;
    assert!(outbox(&server, &channel, &key, "").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_reply_is_in_the_outbox_after_a_crash() {
    let mut server = TestServer::start();
    let (channel, key) = whatsapp(&server, "acme").await;
    let agent = token_in("acme", "agent-1", "agent");
    let (conversation, _) = inbound(&server, &channel, &key, "7701@c.us", "w-1", "Hi").await;
    let sent = server.say(&agent, &conversation, "Reply that must not be lost").await;
    server.kill9();
    let restarted = TestServer::start_in(
        &server.data_dir,
        &["--dev", "--rate-limit-per-ip", "0", "--rate-limit-per-user", "0"],
    );
    let items = outbox(&restarted, &channel, &key, "").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["messageId"], sent["id"]);
    assert_eq!(items[0]["text"], "Reply that must not be lost");
}

#[tokio::test]
async fn session_reports_update_the_channel() {
    let server = TestServer::start();
    let (channel, key) = whatsapp(&server, "acme").await;
    let admin = token_in("acme", "admin-1", "admin");
    let state = || async {
        let list = server.get("/api/channels", &admin).await.json();
        list["items"][0]["session"].clone()
    };
    post_events(
        &server,
        &channel,
        &key,
        json!({"kind": "session", "state": "qr", "qrCode": "data:image/png;base64,iVBOR"}),
    )
    .await;
    assert_eq!(state().await["qrCode"], "data:image/png;base64,iVBOR");
    post_events(
        &server,
        &channel,
        &key,
        json!({"kind": "session", "state": "connected", "phoneNumber": "+77079856339", "displayName": "Мой WhatsApp"}),
    )
    .await;
    let connected = state().await;
    assert_eq!(
        connected,
        json!({"state": "connected", "qrCode": null, "phoneNumber": "+77079856339", "displayName": "Мой WhatsApp", "reason": null})
    );
    post_events(
        &server,
        &channel,
        &key,
        json!({"kind": "session", "state": "disconnected", "reason": "client_logout"}),
    )
    .await;
    let gone = state().await;
    assert_eq!(
        (gone["state"].as_str(), gone["reason"].as_str()),
        (Some("disconnected"), Some("client_logout"))
    );
    assert_eq!(gone["phoneNumber"], "+77079856339", "the number is remembered");
    let missing_qr = post_events(&server, &channel, &key, json!({"kind": "session", "state": "qr"})).await;
    assert_eq!(missing_qr.problem(400, "Validation")["errors"][0]["code"], "qrCode");
}

#[tokio::test]
async fn facebook_customers_get_their_profile_picture() {
    let server = TestServer::start();
    let (page, key) = channel(
        &server,
        "acme",
        json!({"type": "facebook", "name": "Shop", "externalId": "270136663390370"}),
    )
    .await;
    let r = post_events(
        &server,
        &page,
        &key,
        json!({"kind": "message", "externalChatId": "9484319011642026", "externalMessageId": "759214013141302_681441874903695",
               "from": "9484319011642026", "fromName": "Hoa Phượng", "text": "lv do", "messageType": "comment",
               "objectId": "270136663390370_759214013141302", "parentId": "270136663390370_759214013141302"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let agent = token_in("acme", "agent-1", "agent");
    let conversation = r.json()["results"][0]["conversationId"].as_str().unwrap().to_owned();
    let sender = history(&server, &agent, &conversation).await[0]["senderId"].as_str().unwrap().to_owned();
    let participant = server.get(&format!("/api/participants/{sender}"), &agent).await.json();
    assert_eq!(participant["fullName"], "Hoa Phượng");
    assert_eq!(
        participant["avatar"]["url"],
        "https://platform-lookaside.fbsbx.com/platform/profilepic/?psid=9484319011642026&height=200&width=200"
    );
}

#[tokio::test]
async fn the_password_grant_logs_in_users_made_by_admins_and_the_cli() {
    let server = TestServer::start();
    let admin = token_in("tomato.tpos.vn", "boss", "admin");
    let made = server
        .post(
            "/api/admin/users",
            &admin,
            json!({"username": "linh", "password": "correct horse", "role": "agent", "name": "Linh"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let user = made.json();
    assert_eq!(
        (user["username"].as_str(), user["role"].as_str(), user["tenant"].as_str()),
        (Some("linh"), Some("agent"), Some("tomato.tpos.vn"))
    );
    let again = server
        .post(
            "/api/admin/users",
            &token_in("other", "boss", "admin"),
            json!({"username": "linh", "password": "another one"}),
        )
        .await;
    again.problem(409, "Conflict");
    server
        .post(
            "/api/admin/users",
            &token_in("tomato.tpos.vn", "ag", "agent"),
            json!({"username": "x1", "password": "long enough"}),
        )
        .await
        .problem(403, "Forbidden");
    let weak = server
        .post("/api/admin/users", &admin, json!({"username": "x2", "password": "short", "role": "dev"}))
        .await;
    let p = weak.problem(400, "Validation");
    let fields: Vec<&str> =
        p["errors"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(fields, ["role", "password"]);

    let (status, body, cache) = password_grant(
        &server,
        "client_id=tmtWebApp&grant_type=password&username=linh&password=correct%20horse",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 3600);
    assert_eq!(cache.as_deref(), Some("no-store"));
    let access = body["access_token"].as_str().unwrap();
    // The token is the agent's, in the admin's tenant.
    let claims: Value = {
        use base64::Engine;
        let payload = access.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
            .unwrap()
    };
    assert_eq!(
        (claims["tenant"].as_str(), claims["role"].as_str(), claims["sub"].as_str()),
        (Some("tomato.tpos.vn"), Some("agent"), user["id"].as_str())
    );
    assert_eq!(server.get("/api/channels", access).await.status, 200);

    for (form, error) in [
        ("grant_type=password&username=linh&password=wrong", "invalid_grant"),
        ("grant_type=password&username=nobody&password=whatever", "invalid_grant"),
        ("grant_type=client_credentials&client_id=x", "unsupported_grant_type"),
        ("grant_type=password&username=linh", "invalid_request"),
        ("username=linh&password=correct%20horse", "invalid_request"),
        ("grant_type=password&grant_type=password&username=linh&password=x", "invalid_request"),
    ] {
        let (status, body, _) = password_grant(&server, form).await;
        assert_eq!((status, body["error"].as_str()), (400, Some(error)), "{form}: {body}");
        assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    }

    // `chatgate user add --tenant` makes logins the grant accepts too.
    let mut add = std::process::Command::new(env!("CARGO_BIN_EXE_chatgate"))
        .args([
            "user",
            "add",
            "--username",
            "minh",
            "--password-stdin",
            "--role",
            "admin",
            "--tenant",
            "tomato.tpos.vn",
        ])
        .arg("--data-dir")
        .arg(&server.data_dir)
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        add.stdin.take().unwrap().write_all(b"pass word 123\n").unwrap();
    }
    let out = add.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (status, body, _) = password_grant(
        &server,
        "client_id=tmtWebApp&grant_type=password&username=minh&password=pass+word+123",
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
