//! Bots against the real server: the Bot API (public reads, developer-only management), signed
//! webhook deliveries with retries, the bots' event stream, and streamed replies over REST.

mod common;
mod outside;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::post;
use common::{TestServer, text_message, token};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::BodyExt;
use outside::{Log, Seen};
use serde_json::{Value, json};
use sha2::Sha256;

async fn dev_token(server: &TestServer, name: &str) -> String {
    let body = json!({"username": name, "password": "pw"}).to_string().into_bytes();
    let r = server.request("POST", "/api/auth/dev", None, Some(body), &[]).await;
    assert_eq!(r.status, 200, "dev login: {}", r.text());
    r.json()["token"].as_str().unwrap().to_owned()
}

/// Creates a bot as `dev`; returns the answer (BotDto + webhookUrl + webhookSecret).
async fn create_bot(server: &TestServer, dev: &str, name: &str, extra: Value) -> Value {
    let mut body =
        json!({"uniqueName": name, "fullName": format!("Bot {name}"), "kafkaTopic": format!("{name}-topic")});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = server.post("/api/bots", dev, body).await;
    assert_eq!(r.status, 201, "create bot: {}", r.text());
    r.json()
}

async fn mint_bot_token(server: &TestServer, dev: &str, bot_id: &str) -> String {
    let r = server.post(&format!("/api/bots/{bot_id}/token"), dev, json!({})).await;
    assert_eq!(r.status, 200, "bot token: {}", r.text());
    let t = r.json();
    assert!(t["expiresAt"].as_str().is_some());
    t["token"].as_str().unwrap().to_owned()
}

/// A webhook that records what it receives and fails the first `failures` requests with 503.
async fn webhook(failures: usize) -> (String, Log) {
    #[derive(Clone)]
    struct Hook {
        log: Log,
        failures_left: Arc<AtomicUsize>,
    }
    async fn receive(
        State(hook): State<Hook>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        hook.log.push(Seen { method, uri, headers, body });
        let failing =
            hook.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failing { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::NO_CONTENT }
    }
    let hook = Hook { log: Log::default(), failures_left: Arc::new(AtomicUsize::new(failures)) };
    let router = Router::new().route("/hook", post(receive)).with_state(hook.clone());
    let base = outside::serve(router).await;
    (format!("{base}/hook"), hook.log)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex_lower(&mac.finalize().into_bytes())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn bots_are_public_to_read_and_managed_only_by_developers() {
    let server = TestServer::start();
    let dev = dev_token(&server, "dev-ana").await;
    let created = create_bot(
        &server,
        &dev,
        "helper",
        json!({"description": "Answers questions", "metadata": {"model": "small"}, "listenAllGroupMessages": false}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let participant_id = created["participantId"].as_str().unwrap().to_owned();
    assert_eq!(created["kafkaTopic"], "helper-topic");
    assert_eq!(created["isActive"], true);
    assert_eq!(created["metadata"], json!({"model": "small"}));
    assert_eq!(created["webhookUrl"], Value::Null);
    assert_eq!(created["webhookSecret"].as_str().unwrap().len(), 64);

    // Public reads, without a token: the seed's BotDto, no names, nothing about the webhook.
    let one = server.request("GET", &format!("/api/bots/{id}"), None, None, &[]).await;
    assert_eq!(one.status, 200, "{}", one.text());
    let mut keys: Vec<String> = one.json().as_object().unwrap().keys().cloned().collect();
    keys.sort();
    let mut expected = [
        "id",
        "participantId",
        "description",
        "metadata",
        "kafkaTopic",
        "isActive",
        "listenAllGroupMessages",
        "createdBy",
        "createdAt",
        "updatedAt",
    ];
    expected.sort();
    assert_eq!(keys, expected);
    let listing = server.request("GET", "/api/bots?page=1&pageSize=10", None, None, &[]).await.json();
    assert_eq!(
        (listing["page"].clone(), listing["pageSize"].clone(), listing["totalCount"].clone()),
        (json!(1), json!(10), json!(1))
    );
    assert_eq!(listing["items"][0]["id"], id.as_str());
    // The name is the participant's.
    let user = token("reader", "user");
    let p = server.get(&format!("/api/participants/{participant_id}"), &user).await.json();
    assert_eq!((p["fullName"].as_str(), p["isBot"].as_bool()), (Some("Bot helper"), Some(true)));

    // Anyone but a developer: the management API does not exist.
    let stranger = token("someone", "admin");
    server
        .post("/api/bots", &stranger, json!({"uniqueName": "x", "fullName": "X", "kafkaTopic": "x"}))
        .await
        .problem(404, "NotFound");
    server.post("/api/bots", &stranger, json!({"not": "even valid"})).await.problem(404, "NotFound");
    server
        .put(&format!("/api/bots/{id}"), &stranger, json!({"fullName": "Mine"}))
        .await
        .problem(404, "NotFound");
    server.post(&format!("/api/bots/{id}/deactivate"), &stranger, json!({})).await.problem(404, "NotFound");
    server.delete(&format!("/api/bots/{id}"), &stranger).await.problem(404, "NotFound");
    server.post(&format!("/api/bots/{id}/token"), &stranger, json!({})).await.problem(404, "NotFound");

    // Update: names go to the participant; the topic never changes.
    let updated = server
        .put(
            &format!("/api/bots/{id}"),
            &dev,
            json!({"fullName": "Helpful Bot", "description": null, "kafkaTopic": "helper-topic"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(updated.json()["description"], Value::Null);
    assert!(updated.json().get("webhookSecret").is_none(), "the secret is shown only once");
    let p = server.get(&format!("/api/participants/{participant_id}"), &user).await.json();
    assert_eq!(p["fullName"], "Helpful Bot");
    let moved = server
        .put(&format!("/api/bots/{id}"), &dev, json!({"kafkaTopic": "elsewhere"}))
        .await
        .problem(400, "Validation");
    assert_eq!(moved["errors"][0]["code"], "kafkaTopic");

    // Activation, then soft delete.
    let r = server.post(&format!("/api/bots/{id}/deactivate"), &dev, json!({})).await;
    assert_eq!(r.status, 204);
    assert_eq!(server.get(&format!("/api/bots/{id}"), &user).await.json()["isActive"], false);
    assert_eq!(server.post(&format!("/api/bots/{id}/activate"), &dev, json!({})).await.status, 204);
    assert_eq!(server.get(&format!("/api/bots/{id}"), &user).await.json()["isActive"], true);
    assert_eq!(server.delete(&format!("/api/bots/{id}"), &dev).await.status, 204);
    server.get(&format!("/api/bots/{id}"), &user).await.problem(404, "NotFound");
    assert_eq!(server.get("/api/bots", &user).await.json()["totalCount"], 0);
    // Its participant and name stay, for the history it wrote.
    assert_eq!(server.get(&format!("/api/participants/{participant_id}"), &user).await.status, 200);
}

#[tokio::test]
async fn bot_input_is_validated_and_listing_pages_count_from_one() {
    let server = TestServer::start();
    let dev = dev_token(&server, "dev-ben").await;
    for name in ["b1", "b2", "b3"] {
        create_bot(&server, &dev, name, json!({})).await;
    }
    let page1 = server.get("/api/bots?page=1&pageSize=2", &dev).await.json();
    let page2 = server.get("/api/bots?page=2&pageSize=2", &dev).await.json();
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (page2["page"].as_u64(), page2["pageSize"].as_u64(), page2["totalCount"].as_u64()),
        (Some(2), Some(2), Some(3))
    );
    let mut topics: Vec<&str> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["items"].as_array().unwrap())
        .map(|b| b["kafkaTopic"].as_str().unwrap())
        .collect();
    topics.sort();
    assert_eq!(topics, ["b1-topic", "b2-topic", "b3-topic"], "the pages split the listing without overlap");
    server.get("/api/bots?page=0", &dev).await.problem(400, "Validation");
    server.get("/api/bots?pageSize=1000", &dev).await.problem(400, "Validation");

    let bad = server
        .post(
            "/api/bots",
            &dev,
            json!({"uniqueName": "bad bot", "fullName": "", "kafkaTopic": "no spaces allowed", "webhookUrl": "ftp://x"}),
        )
        .await
        .problem(400, "Validation");
    let codes: Vec<&str> =
        bad["errors"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    for field in ["uniqueName", "fullName", "kafkaTopic", "webhookUrl"] {
        assert!(codes.contains(&field), "{field} in {codes:?}");
    }
    let taken = server
        .post(
            "/api/bots",
            &dev,
            json!({"uniqueName": "other", "fullName": "Other", "kafkaTopic": "b1-topic"}),
        )
        .await
        .problem(409, "Conflict");
    assert!(taken["detail"].as_str().unwrap().contains("topic"), "{taken}");
    server
        .post("/api/bots", &dev, json!({"uniqueName": "b1", "fullName": "Again", "kafkaTopic": "fresh"}))
        .await
        .problem(409, "Conflict");
    let huge =
        json!({"uniqueName": "big", "fullName": "Big", "kafkaTopic": "big", "description": "x".repeat(5000)});
    server.post("/api/bots", &dev, huge).await.problem(400, "Validation");
}

#[tokio::test]
async fn a_bot_in_a_conversation_gets_signed_webhooks_and_answers_like_a_participant() {
    let server = TestServer::start();
    let (url, hook) = webhook(0).await;
    let dev = dev_token(&server, "dev-cy").await;
    let bot = create_bot(&server, &dev, "echo", json!({"webhookUrl": url})).await;
    let secret = bot["webhookSecret"].as_str().unwrap().to_owned();
    let bot_pid = bot["participantId"].as_str().unwrap().to_owned();
    let bot_token = mint_bot_token(&server, &dev, bot["id"].as_str().unwrap()).await;

    let ana = server.participant("ana", "Ana").await;
    let conversation = server.conversation(&ana, &[&bot_pid]).await;
    let sent = server.say(&ana, &conversation, "hello bot").await;

    let seen = hook.wait_for(1, Duration::from_secs(10)).await;
    let delivery = &seen[0];
    assert_eq!(delivery.method, Method::POST);
    assert_eq!(delivery.header("content-type"), Some("application/json"));
    let signature = delivery.header("x-chatgate-signature").expect("signed");
    assert_eq!(signature, format!("sha256={}", hmac_hex(&secret, &delivery.body)));
    assert_ne!(signature, format!("sha256={}", hmac_hex("another secret", &delivery.body)));
    let body = delivery.json();
    assert_eq!(body["type"], "message");
    assert_eq!(body["conversationId"], conversation.as_str());
    assert_eq!(body["message"]["id"], sent["id"]);
    assert_eq!(body["message"]["plainTextIndex"], "hello bot");
    assert_eq!(body["message"]["senderId"], "ana");
    for key in common::MESSAGE_DTO_KEYS {
        assert!(body["message"].get(key).is_some(), "MessageDto key {key}");
    }

    // The bot answers like any participant; its own message is not delivered back to it.
    let reply = server.say(&bot_token, &conversation, "hello Ana").await;
    assert_eq!(reply["senderType"], "Bot");
    assert_eq!(reply["senderId"], bot_pid.as_str());
    let history = server.get(&format!("/api/conversations/{conversation}/messages"), &ana).await.json();
    assert_eq!(history["items"][0]["id"], reply["id"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.len(), 1, "no delivery of the bot's own message");

    // A bot token is not a developer's.
    server.post("/api/bots", &bot_token, json!({})).await.problem(404, "NotFound");
}

/// With `--bot-topic-redis-url`, every delivery is also an entry of the Redis stream named after
/// the bot's topic, in delivery order, with the same body the webhook gets.
#[tokio::test]
async fn deliveries_also_go_to_the_bots_topic_as_a_redis_stream() {
    let redis_url =
        std::env::var("CHATGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let server = TestServer::start_with(&[
        "--dev",
        "--rate-limit-per-ip",
        "0",
        "--rate-limit-per-user",
        "0",
        "--bot-topic-redis-url",
        &redis_url,
    ]);
    let (url, hook) = webhook(0).await;
    let dev = dev_token(&server, "dev-topic").await;
    // A topic of its own, so that runs sharing the Redis server do not see each other.
    let name = format!("topic{}", std::process::id());
    let bot = create_bot(&server, &dev, &name, json!({"webhookUrl": url})).await;
    let topic = format!("{name}-topic");
    let bot_pid = bot["participantId"].as_str().unwrap().to_owned();
    let mut redis = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("the local Redis (127.0.0.1:6379) must be running");
    let _: () = redis::cmd("DEL").arg(&topic).query_async(&mut redis).await.unwrap();

    let ana = server.participant("ana", "Ana").await;
    let conversation = server.conversation(&ana, &[&bot_pid]).await;
    let first = server.say(&ana, &conversation, "one").await;
    let second = server.say(&ana, &conversation, "two").await;
    let hooked = hook.wait_for(2, Duration::from_secs(10)).await;

    type Entries = Vec<(String, Vec<(String, Vec<u8>)>)>;
    let mut entries: Entries = Vec::new();
    for _ in 0..100 {
        entries = redis::cmd("XRANGE").arg(&topic).arg("-").arg("+").query_async(&mut redis).await.unwrap();
        if entries.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(entries.len(), 2, "one stream entry per delivery");
    let field = |entry: &(String, Vec<(String, Vec<u8>)>), name: &str| {
        entry.1.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    for (entry, sent) in entries.iter().zip([&first, &second]) {
        let body: Value = serde_json::from_slice(&field(entry, "body")).unwrap();
        assert_eq!(body["type"], "message");
        assert_eq!(body["message"]["id"], sent["id"], "in delivery order");
        assert_eq!(field(entry, "conversationId"), conversation.as_bytes());
        assert_eq!(field(entry, "tenant"), b"default");
        assert_eq!(field(entry, "botId"), bot["id"].as_str().unwrap().as_bytes());
        // The same delivery as the webhook's: same id, same bytes.
        let posted =
            hooked.iter().find(|d| d.json()["message"]["id"] == sent["id"]).expect("webhook delivery");
        assert_eq!(field(entry, "body"), posted.body.to_vec());
        assert_eq!(
            Some(String::from_utf8(field(entry, "id")).unwrap().as_str()),
            posted.header("x-chatgate-delivery")
        );
    }
    let _: () = redis::cmd("DEL").arg(&topic).query_async(&mut redis).await.unwrap();
}

#[tokio::test]
async fn a_bad_bot_topic_url_stops_startup_with_the_fix() {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatgate"))
        .args(["serve", "--port", "0", "--bot-topic-redis-url", "http://nowhere", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("redis://host:port/db"), "{stderr}");
}

#[tokio::test]
async fn failed_webhooks_are_retried_with_backoff_under_one_delivery_id() {
    let server = TestServer::start_with(&[
        "--dev",
        "--rate-limit-per-ip",
        "0",
        "--rate-limit-per-user",
        "0",
        "--webhook-backoff-ms",
        "100",
        "--webhook-max-attempts",
        "4",
    ]);
    let (url, hook) = webhook(2).await;
    let dev = dev_token(&server, "dev-dee").await;
    let bot = create_bot(&server, &dev, "retry", json!({"webhookUrl": url})).await;
    let ana = server.participant("ana", "Ana").await;
    let conversation = server.conversation(&ana, &[bot["participantId"].as_str().unwrap()]).await;
    server.say(&ana, &conversation, "are you there?").await;

    let seen = hook.wait_for(3, Duration::from_secs(10)).await;
    let attempts: Vec<&str> = seen.iter().map(|s| s.header("x-chatgate-attempt").unwrap()).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    let ids: Vec<&str> = seen.iter().map(|s| s.header("x-chatgate-delivery").unwrap()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert!(seen.iter().all(|s| s.body == seen[0].body));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(hook.len(), 3, "the third try succeeded: no fourth");
}

#[tokio::test]
async fn inactive_bots_lose_deliveries_and_listening_bots_hear_every_conversation() {
    let server = TestServer::start();
    let (member_url, member_hook) = webhook(0).await;
    let (listener_url, listener_hook) = webhook(0).await;
    let dev = dev_token(&server, "dev-eve").await;
    let member = create_bot(&server, &dev, "member", json!({"webhookUrl": member_url})).await;
    let listener = create_bot(
        &server,
        &dev,
        "listener",
        json!({"webhookUrl": listener_url, "listenAllGroupMessages": true}),
    )
    .await;
    let member_id = member["id"].as_str().unwrap();

    let ana = server.participant("ana", "Ana").await;
    server.participant("ben", "Ben").await;
    let with_bot = server.conversation(&ana, &[member["participantId"].as_str().unwrap()]).await;
    let without_bot = server.conversation(&ana, &["ben"]).await;

    server.say(&ana, &without_bot, "just us").await;
    let heard = listener_hook.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(heard[0].json()["conversationId"], without_bot.as_str());

    assert_eq!(server.post(&format!("/api/bots/{member_id}/deactivate"), &dev, json!({})).await.status, 204);
    server.say(&ana, &with_bot, "while you sleep").await;
    listener_hook.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(member_hook.len(), 0, "an inactive bot receives nothing");

    assert_eq!(server.post(&format!("/api/bots/{member_id}/activate"), &dev, json!({})).await.status, 204);
    server.say(&ana, &with_bot, "awake now").await;
    let got = member_hook.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(member_hook.len(), 1, "what came while inactive was dropped, not queued");
    assert_eq!(got[0].json()["message"]["plainTextIndex"], "awake now");
    assert_eq!(listener_hook.wait_for(3, Duration::from_secs(10)).await.len(), 3);
    // The listening bot does not hear its own tokens' messages: nothing it sent here.
    let _ = listener;
}

/// Reads Server-Sent Events from an open response until one `data:` line arrives.
async fn next_sse_data(body: &mut hyper::body::Incoming, buffer: &mut String) -> Value {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let data: Vec<&str> =
                frame.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim_start).collect();
            if !data.is_empty() {
                return serde_json::from_str(&data.join("\n")).expect("JSON data");
            }
            continue;
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            buffer.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
}

#[tokio::test]
async fn the_event_stream_carries_each_delivery_made_after_it_opened() {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let server = TestServer::start();
    // The webhook tells the test when a delivery has been made (deliveries follow the send).
    let (url, hook) = webhook(0).await;
    let dev = dev_token(&server, "dev-fay").await;
    let bot = create_bot(&server, &dev, "sse", json!({"webhookUrl": url})).await;
    let bot_token = mint_bot_token(&server, &dev, bot["id"].as_str().unwrap()).await;
    let ana = server.participant("ana", "Ana").await;
    let conversation = server.conversation(&ana, &[bot["participantId"].as_str().unwrap()]).await;
    server.say(&ana, &conversation, "before the stream").await;
    hook.wait_for(1, Duration::from_secs(10)).await;

    // Only a bot token opens it.
    server.get("/api/bots/me/events", &ana).await.problem(403, "Forbidden");

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = hyper::Request::get(server.url("/api/bots/me/events"))
        .header("authorization", format!("Bearer {bot_token}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut buffer = String::new();

    let first = server.say(&ana, &conversation, "one").await;
    let second = server.say(&ana, &conversation, "two").await;
    let a = next_sse_data(&mut body, &mut buffer).await;
    let b = next_sse_data(&mut body, &mut buffer).await;
    assert_eq!(
        (a["type"].as_str(), a["conversationId"].as_str()),
        (Some("message"), Some(conversation.as_str()))
    );
    assert_eq!(a["message"]["id"], first["id"], "the message sent before the stream opened is not replayed");
    assert_eq!(b["message"]["id"], second["id"]);
    assert_eq!(b["message"]["plainTextIndex"], "two");
}

#[tokio::test]
async fn a_streamed_reply_is_stored_once_complete_and_chunks_are_checked() {
    let server = TestServer::start();
    let dev = dev_token(&server, "dev-gus").await;
    let bot = create_bot(&server, &dev, "writer", json!({})).await;
    let bot_pid = bot["participantId"].as_str().unwrap().to_owned();
    let bot_token = mint_bot_token(&server, &dev, bot["id"].as_str().unwrap()).await;
    let other_bot = create_bot(&server, &dev, "other", json!({})).await;
    let other_token = mint_bot_token(&server, &dev, other_bot["id"].as_str().unwrap()).await;
    let ana = server.participant("ana", "Ana").await;
    let conversation = server.conversation(&ana, &[&bot_pid]).await;
    let question = server.say(&ana, &conversation, "tell me a story").await;

    // Users do not stream; bots stream only where they take part.
    server
        .post(&format!("/api/conversations/{conversation}/streams"), &ana, json!({}))
        .await
        .problem(403, "Forbidden");
    server
        .post(&format!("/api/conversations/{conversation}/streams"), &other_token, json!({}))
        .await
        .problem(403, "Forbidden");

    let started = server
        .post(
            &format!("/api/conversations/{conversation}/streams"),
            &bot_token,
            json!({"replyToMessageId": question["id"], "clientMessageId": "story-1"}),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text());
    let stream_id = started.json()["streamId"].as_str().unwrap().to_owned();
    let message_id = started.json()["messageId"].as_str().unwrap().to_owned();
    let path = |what: &str| format!("/api/streams/{stream_id}/{what}");

    assert_eq!(server.post(&path("status"), &bot_token, json!({"status": "thinking"})).await.status, 204);
    assert_eq!(
        server.post(&path("chunks"), &bot_token, json!({"text": "Once ", "chunkIndex": 0})).await.status,
        204
    );
    let parts = json!({"parts": [{"text": "a time.", "chunkIndex": 2}, {"text": "upon ", "chunkIndex": 1}]});
    assert_eq!(server.post(&path("chunks"), &bot_token, parts).await.status, 204);
    server
        .post(&path("chunks"), &bot_token, json!({"text": "again", "chunkIndex": 1}))
        .await
        .problem(409, "Conflict");
    server
        .post(&path("chunks"), &bot_token, json!({"text": "x".repeat(5000), "chunkIndex": 3}))
        .await
        .problem(400, "Validation");
    let too_many: Vec<Value> = (10..111).map(|i| json!({"text": "x", "chunkIndex": i})).collect();
    server.post(&path("chunks"), &bot_token, json!({"parts": too_many})).await.problem(400, "Validation");
    server.post(&path("chunks"), &bot_token, json!({"text": "no index"})).await.problem(400, "Validation");
    // Someone else's stream does not exist for them.
    server
        .post(&path("chunks"), &other_token, json!({"text": "x", "chunkIndex": 9}))
        .await
        .problem(404, "NotFound");
    // Nothing is stored before completion.
    let before = server.get(&format!("/api/conversations/{conversation}/messages"), &ana).await.json();
    assert_eq!(before["items"][0]["id"], question["id"]);

    let done = server.post(&path("complete"), &bot_token, json!({"finishReason": "stop"})).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let message = done.json();
    assert_eq!(message["id"], message_id.as_str());
    assert_eq!(message["senderType"], "Bot");
    assert_eq!(message["replyToMessageId"], question["id"]);
    assert_eq!(message["clientMessageId"], "story-1");
    assert_eq!(
        message["blocks"],
        json!([{"$type": "text", "format": "Markdown", "content": "Once upon a time.", "plainText": null}])
    );
    let history = server.get(&format!("/api/conversations/{conversation}/messages"), &ana).await.json();
    assert_eq!(history["items"][0]["id"], message_id.as_str());
    assert_eq!(history["items"][0]["plainTextIndex"], "Once upon a time.");

    // The stream is over.
    server
        .post(&path("chunks"), &bot_token, json!({"text": "more", "chunkIndex": 3}))
        .await
        .problem(404, "NotFound");
    server.post(&path("abort"), &bot_token, json!({"reason": "late"})).await.problem(404, "NotFound");

    // Blocks given at completion are the message; an aborted stream stores nothing.
    let s2 = server
        .post(&format!("/api/conversations/{conversation}/streams"), &bot_token, json!({}))
        .await
        .json();
    let p2 = |what: &str| format!("/api/streams/{}/{what}", s2["streamId"].as_str().unwrap());
    let blocks = text_message("final answer")["blocks"].clone();
    let m2 = server.post(&p2("complete"), &bot_token, json!({"blocks": blocks})).await.json();
    assert_eq!(m2["plainTextIndex"], "final answer");
    let s3 = server
        .request("POST", &format!("/api/conversations/{conversation}/streams"), Some(&bot_token), None, &[])
        .await;
    assert_eq!(s3.status, 201, "an empty body starts a stream: {}", s3.text());
    let p3 = |what: &str| format!("/api/streams/{}/{what}", s3.json()["streamId"].as_str().unwrap());
    server.post(&p3("complete"), &bot_token, json!({})).await.problem(400, "Validation");
    assert_eq!(server.post(&p3("abort"), &bot_token, json!({"reason": "changed my mind"})).await.status, 204);
    let count =
        server.get(&format!("/api/conversations/{conversation}/messages"), &ana).await.json()["items"]
            .as_array()
            .unwrap()
            .len();
    assert_eq!(count, 3, "question, story, final answer");
}

#[tokio::test]
async fn a_bot_has_a_bounded_number_of_open_streams_and_a_retried_start_is_the_same_stream() {
    let server = TestServer::start();
    let dev = dev_token(&server, "dev-hal").await;
    let bot = create_bot(&server, &dev, "busy", json!({})).await;
    let bot_token = mint_bot_token(&server, &dev, bot["id"].as_str().unwrap()).await;
    let ana = server.participant("ana", "Ana").await;
    let conversation = server.conversation(&ana, &[bot["participantId"].as_str().unwrap()]).await;
    let start = |client_id: String| {
        let path = format!("/api/conversations/{conversation}/streams");
        let token = bot_token.clone();
        let server = &server;
        async move { server.post(&path, &token, json!({"clientMessageId": client_id})).await }
    };
    let first = start("s-0".into()).await.json();
    let again = start("s-0".into()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json(), first, "a retried start answers the stream it began");
    for i in 1..16 {
        assert_eq!(start(format!("s-{i}")).await.status, 201);
    }
    let refused = start("s-16".into()).await.problem(409, "Conflict");
    assert!(refused["detail"].as_str().unwrap().contains("16"), "{refused}");
    let stream_id = first["streamId"].as_str().unwrap();
    let abort = server
        .post(&format!("/api/streams/{stream_id}/abort"), &bot_token, json!({"reason": "make room"}))
        .await;
    assert_eq!(abort.status, 204);
    assert_eq!(start("s-16".into()).await.status, 201);
}
