//! Bad input gets a clear answer and changes nothing: every malformed, mistyped or oversized
//! request to the REST API is a 400 Validation problem (RFC 7807) that names the offending field,
//! and the conversation it aimed at is exactly as it was.

mod common;

use std::io::Write;

use common::*;
use serde_json::{Value, json};

/// A conversation that already holds one message, so that anything a bad request stored would
/// show up in its history.
struct Room {
    server: TestServer,
    alice: String,
    id: String,
    before: Vec<Value>,
}

impl Room {
    async fn open(server: TestServer) -> Room {
        let alice = server.participant("alice", "Alice").await;
        server.participant("bob", "Bob").await;
        let id = server.conversation(&alice, &["bob"]).await;
        server.say(&alice, &id, "before").await;
        let mut room = Room { server, alice, id, before: Vec::new() };
        room.before = room.history().await;
        assert_eq!(room.before.len(), 1);
        room
    }

    /// A room on a server whose `[limits]` come from a TOML configuration file.
    async fn with_limits(limits: &str) -> Room {
        Room::open(TestServer::start_with_config(&format!("[limits]\n{limits}\n"))).await
    }

    fn messages(&self) -> String {
        format!("/api/conversations/{}/messages", self.id)
    }

    async fn send(&self, body: Value) -> Reply {
        self.server.post(&self.messages(), &self.alice, body).await
    }

    async fn send_raw(&self, body: &[u8]) -> Reply {
        self.server.post_raw(&self.messages(), &self.alice, body).await
    }

    async fn history(&self) -> Vec<Value> {
        let r = self.server.get(&format!("{}?limit=100", self.messages()), &self.alice).await;
        assert_eq!(r.status, 200, "history: {}", r.text());
        r.json()["items"].as_array().expect("items").clone()
    }

    /// Nothing was stored: the history is message for message what it was.
    async fn assert_unchanged(&self) {
        assert_eq!(self.history().await, self.before, "a rejected request changed the history");
    }
}

/// Asserts a 400 Validation problem whose every `errors[]` entry is complete; returns the entries
/// as (code, description).
fn rejected(reply: &Reply) -> Vec<(String, String)> {
    let problem = reply.problem(400, "Validation");
    let errors = problem["errors"].as_array().unwrap_or_else(|| panic!("no errors[]: {problem}"));
    assert!(!errors.is_empty(), "empty errors[]: {problem}");
    errors
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "Validation", "{problem}");
            let code = e["code"].as_str().unwrap_or_else(|| panic!("error without code: {problem}"));
            let description = e["description"].as_str().unwrap_or_default();
            assert!(!description.is_empty(), "error without description: {problem}");
            (code.to_owned(), description.to_owned())
        })
        .collect()
}

/// Asserts a 400 Validation problem with an entry for exactly this field.
fn rejected_on(reply: &Reply, field: &str) {
    let errors = rejected(reply);
    assert!(errors.iter().any(|(code, _)| code == field), "expected an error on `{field}`, got {errors:?}");
}

/// Asserts a 400 Validation problem that mentions this field somewhere (code or description).
fn rejected_mentioning(reply: &Reply, field: &str) {
    let errors = rejected(reply);
    assert!(
        errors.iter().any(|(code, description)| code.contains(field) || description.contains(field)),
        "expected an error mentioning `{field}`, got {errors:?}"
    );
}

fn text_block(content: &str) -> Value {
    json!({"$type": "text", "format": "Plain", "content": content})
}

#[tokio::test]
async fn malformed_json_is_a_validation_error_and_stores_nothing() {
    let room = Room::open(TestServer::start()).await;
    for body in [&br#"{"blocks": ["#[..], b"not json at all", br#"{blocks: []}"#, b"{\"blocks\": [}]"] {
        let errors = rejected(&room.send_raw(body).await);
        assert!(
            errors.iter().any(|(_, d)| d.contains("JSON")),
            "{:?} should be called invalid JSON, got {errors:?}",
            String::from_utf8_lossy(body)
        );
    }
    room.assert_unchanged().await;
}

#[tokio::test]
async fn malformed_json_is_reported_on_the_body_or_a_field() {
    let room = Room::open(TestServer::start()).await;
    for body in [&b"{blocks: []}"[..], br#"{"name": "x""#, br#"{"blocks":[{"$type":"divider"}],"#] {
        let errors = rejected(&room.send_raw(body).await);
        assert!(
            errors.iter().all(|(code, _)| code == "body" || code.starts_with("blocks")),
            "{:?} was reported on {errors:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[tokio::test]
async fn an_empty_body_is_a_validation_error_on_the_body() {
    let room = Room::open(TestServer::start()).await;
    rejected_on(&room.send_raw(b"").await, "body");
    rejected_on(&room.send_raw(b"  \n ").await, "body");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn a_json_array_or_scalar_where_an_object_is_expected_is_a_validation_error() {
    let room = Room::open(TestServer::start()).await;
    for body in [json!([]), json!("just a string"), json!(42), json!(null), json!(true)] {
        rejected_on(&room.send(body).await, "body");
    }
    rejected(&room.send(json!([text_block("hi")])).await);
    room.assert_unchanged().await;
}

#[tokio::test]
async fn a_json_array_is_never_taken_for_the_object() {
    let room = Room::open(TestServer::start()).await;
    // Positionally this is `{"blocks": [divider]}`; it must still be refused, not stored.
    rejected_on(&room.send(json!([[{"$type": "divider"}]])).await, "body");
    rejected_on(&room.send(json!([text_block("hi")])).await, "body");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn blocks_of_the_wrong_type_are_a_validation_error_on_blocks() {
    let room = Room::open(TestServer::start()).await;
    rejected_on(&room.send(json!({"blocks": "x"})).await, "blocks");
    rejected_on(&room.send(json!({"blocks": {"$type": "divider"}})).await, "blocks");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn a_field_of_the_wrong_type_inside_a_block_is_a_validation_error() {
    let room = Room::open(TestServer::start()).await;
    let r = room.send(json!({"blocks": [{"$type": "text", "format": "Plain", "content": 5}]})).await;
    let errors = rejected(&r);
    assert!(errors.iter().any(|(code, _)| code.starts_with("blocks[0]")), "{errors:?}");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn a_field_of_the_wrong_type_inside_a_block_is_reported_on_that_field() {
    let room = Room::open(TestServer::start()).await;
    let r = room.send(json!({"blocks": [{"$type": "text", "format": "Plain", "content": 5}]})).await;
    rejected_on(&r, "blocks[0].content");
}

#[tokio::test]
async fn a_query_parameter_of_the_wrong_type_is_a_validation_error() {
    let room = Room::open(TestServer::start()).await;
    let r = room.server.get(&format!("{}?limit=abc", room.messages()), &room.alice).await;
    rejected_mentioning(&r, "limit");
    let r = room.server.get("/api/conversations?limit=abc", &room.alice).await;
    rejected_mentioning(&r, "limit");
    let r = room.server.get(&format!("{}?direction=sideways", room.messages()), &room.alice).await;
    rejected_mentioning(&r, "direction");
}

#[tokio::test]
async fn a_query_parameter_of_the_wrong_type_is_reported_on_that_parameter() {
    let room = Room::open(TestServer::start()).await;
    let r = room.server.get(&format!("{}?limit=abc", room.messages()), &room.alice).await;
    rejected_on(&r, "limit");
    let r = room.server.get(&format!("{}?limit=-1", room.messages()), &room.alice).await;
    rejected_on(&r, "limit");
    let r = room.server.get(&format!("{}?direction=sideways", room.messages()), &room.alice).await;
    rejected_on(&r, "direction");
    let r =
        room.server.get(&format!("/api/conversations/{}/media?kind=pictures", room.id), &room.alice).await;
    rejected_on(&r, "kind");
    let r = room.server.get("/api/conversations/search?limit=5", &room.alice).await;
    rejected_on(&r, "q");
}

#[tokio::test]
async fn a_missing_required_field_is_a_validation_error() {
    let room = Room::open(TestServer::start()).await;
    rejected_mentioning(&room.send(json!({})).await, "blocks");
    rejected_mentioning(&room.send(json!({"clientMessageId": "c-1"})).await, "blocks");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn a_missing_required_field_is_reported_on_that_field() {
    let room = Room::open(TestServer::start()).await;
    rejected_on(&room.send(json!({})).await, "blocks");
    let r = room
        .server
        .post(&format!("/api/conversations/{}/participants", room.id), &room.alice, json!({}))
        .await;
    rejected_on(&r, "participantId");
}

#[tokio::test]
async fn an_unknown_block_type_is_a_validation_error_on_its_type() {
    let room = Room::open(TestServer::start()).await;
    let r = room.send(json!({"blocks": [text_block("fine"), {"$type": "sparkle", "content": "x"}]})).await;
    rejected_on(&r, "blocks[1].$type");
    let r = room.send(json!({"blocks": [{"format": "Plain", "content": "no type"}]})).await;
    rejected_mentioning(&r, "$type");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn an_unknown_enum_value_is_a_validation_error() {
    let room = Room::open(TestServer::start()).await;
    let r = room.send(json!({"blocks": [{"$type": "text", "format": "Rich", "content": "x"}]})).await;
    let errors = rejected(&r);
    assert!(errors.iter().any(|(code, d)| code.starts_with("blocks[0]") && d.contains("Rich")), "{errors:?}");
    let r = room
        .send(json!({"blocks": [text_block("x")], "mentions": [{"type": "Planet", "displayName": "x"}]}))
        .await;
    rejected_on(&r, "mentions[0].type");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn an_unknown_enum_value_is_reported_on_that_field() {
    let room = Room::open(TestServer::start()).await;
    let r = room.send(json!({"blocks": [{"$type": "text", "format": "Rich", "content": "x"}]})).await;
    rejected_on(&r, "blocks[0].format");
}

#[tokio::test]
async fn trailing_garbage_after_the_json_is_a_validation_error() {
    let room = Room::open(TestServer::start()).await;
    let mut body = text_message("looks fine").to_string().into_bytes();
    body.extend_from_slice(b" {\"and\": \"more\"}");
    rejected_on(&room.send_raw(&body).await, "body");
    let mut body = text_message("looks fine").to_string().into_bytes();
    body.extend_from_slice(b"xyz");
    rejected_on(&room.send_raw(&body).await, "body");
    room.assert_unchanged().await;
}

/// A server that takes bodies of at most 1 KiB.
fn small_body_server() -> TestServer {
    TestServer::start_with(&[
        "--max-body-bytes",
        "1024",
        "--rate-limit-per-ip",
        "0",
        "--rate-limit-per-user",
        "0",
    ])
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_a_validation_error_not_413() {
    let room = Room::open(small_body_server()).await;
    for size in [1024, 2 * 1024, 64 * 1024] {
        let r = room.send(text_message(&"a".repeat(size))).await;
        assert_ne!(r.status, 413, "a body of {size} bytes got 413");
        rejected_on(&r, "body");
    }
    room.assert_unchanged().await;
    // The same server still takes a body under the limit.
    room.server.say(&room.alice, &room.id, "small enough").await;
}

#[tokio::test]
async fn a_body_far_over_max_body_bytes_is_answered_not_cut_off() {
    let room = Room::open(small_body_server()).await;
    // The harness panics if the connection breaks before the answer arrives.
    let r = room.send(text_message(&"a".repeat(8 * 1024 * 1024))).await;
    rejected_on(&r, "body");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn too_many_blocks_is_a_validation_error_on_blocks() {
    let room = Room::with_limits("max_blocks_per_message = 3").await;
    let four = json!({"blocks": [{"$type": "divider"}, {"$type": "divider"}, {"$type": "divider"}, {"$type": "divider"}]});
    rejected_on(&room.send(four).await, "blocks");
    rejected_on(&room.send(json!({"blocks": []})).await, "blocks");
    room.assert_unchanged().await;
    // Exactly the limit is fine: the limit is the configured one.
    let three = json!({"blocks": [{"$type": "divider"}, {"$type": "divider"}, {"$type": "divider"}]});
    assert_eq!(room.send(three).await.status, 201);
}

#[tokio::test]
async fn too_many_blocks_under_the_default_limit_is_a_validation_error() {
    let room = Room::open(TestServer::start()).await;
    let blocks: Vec<Value> = (0..51).map(|_| json!({"$type": "divider"})).collect();
    rejected_on(&room.send(json!({ "blocks": blocks })).await, "blocks");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn overlong_text_is_a_validation_error_on_that_text() {
    let room = Room::with_limits("max_text_chars = 10").await;
    rejected_on(&room.send(text_message("12345678901")).await, "blocks[0].content");
    let r = room
        .send(json!({"blocks": [
            {"$type": "divider"},
            {"$type": "image", "source": {"url": "https://example.com/a.png"}, "caption": "a caption too long"}
        ]}))
        .await;
    rejected_on(&r, "blocks[1].caption");
    room.assert_unchanged().await;
    // The limit counts characters, not bytes: ten multi-byte characters fit.
    assert_eq!(room.send(text_message("ééééééééé😀")).await.status, 201);
}

#[tokio::test]
async fn every_failed_rule_is_listed() {
    let room = Room::with_limits("max_text_chars = 10").await;
    let r = room
        .send(json!({"blocks": [
            text_block("far too long here"),
            {"$type": "location", "latitude": 91.0, "longitude": 0.0}
        ], "clientMessageId": "has space"}))
        .await;
    let codes: Vec<String> = rejected(&r).into_iter().map(|(code, _)| code).collect();
    for field in ["blocks[0].content", "blocks[1].latitude", "clientMessageId"] {
        assert!(codes.iter().any(|c| c == field), "{field} missing from {codes:?}");
    }
    room.assert_unchanged().await;
}

#[tokio::test]
async fn an_overlong_client_message_id_is_a_validation_error() {
    let room = Room::open(TestServer::start()).await;
    let body = json!({"blocks": [text_block("x")], "clientMessageId": "c".repeat(129)});
    rejected_on(&room.send(body).await, "clientMessageId");
    let body = json!({"blocks": [text_block("x")], "clientMessageId": ""});
    rejected_on(&room.send(body).await, "clientMessageId");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn too_many_mentions_is_a_validation_error_on_mentions() {
    let room = Room::with_limits("max_mentions = 2").await;
    let mention = |id: &str| json!({"type": "User", "targetId": id, "displayName": id});
    let body =
        json!({"blocks": [text_block("hi all")], "mentions": [mention("a"), mention("b"), mention("c")]});
    rejected_on(&room.send(body).await, "mentions");
    let body = json!({"blocks": [text_block("hi")], "mentions": [{"type": "User", "displayName": "who?"}]});
    rejected_on(&room.send(body).await, "mentions[0].targetId");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn a_location_out_of_range_is_a_validation_error_on_that_coordinate() {
    let room = Room::open(TestServer::start()).await;
    let at =
        |lat: f64, lon: f64| json!({"blocks": [{"$type": "location", "latitude": lat, "longitude": lon}]});
    rejected_on(&room.send(at(90.5, 0.0)).await, "blocks[0].latitude");
    rejected_on(&room.send(at(-91.0, 0.0)).await, "blocks[0].latitude");
    rejected_on(&room.send(at(0.0, 180.5)).await, "blocks[0].longitude");
    let r = room.send(json!({"blocks": [{"$type": "location", "latitude": "north", "longitude": 0}]})).await;
    rejected_mentioning(&r, "blocks[0]");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn bad_cursors_are_validation_errors_on_every_paged_endpoint() {
    let room = Room::open(TestServer::start()).await;
    let media = format!("/api/conversations/{}/media", room.id);
    let paths = [
        "/api/conversations?cursor=garbage".to_owned(),
        "/api/conversations?cursor=123_notaulid".to_owned(),
        "/api/conversations?cursor=abc_01JRZABC1234567890ABCDEF".to_owned(),
        format!("{}?cursor=garbage", room.messages()),
        format!("{}?cursor=01JRZABC1234567890ABCDEFG", room.messages()),
        format!("{media}?cursor=garbage"),
        format!("{media}?cursor=x_1"),
        format!("{media}?cursor=-1_0"),
    ];
    for path in &paths {
        let r = room.server.get(path, &room.alice).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        rejected_on(&r, "cursor");
    }
}

#[tokio::test]
async fn a_message_cursor_from_another_conversation_is_a_validation_error() {
    let room = Room::open(TestServer::start()).await;
    let elsewhere = room.server.conversation(&room.alice, &[]).await;
    let foreign = room.server.say(&room.alice, &elsewhere, "elsewhere").await;
    // A well-formed id, but not a message of this conversation (and the conversation's own id).
    for cursor in [foreign["id"].as_str().unwrap(), room.id.as_str()] {
        let r = room.server.get(&format!("{}?cursor={cursor}", room.messages()), &room.alice).await;
        rejected_on(&r, "cursor");
    }
}

#[tokio::test]
async fn out_of_range_limits_are_validation_errors_on_every_paged_endpoint() {
    let room = Room::open(TestServer::start()).await;
    let endpoints = [
        "/api/conversations?".to_owned(),
        "/api/conversations/search?q=Test&".to_owned(),
        format!("{}?", room.messages()),
        format!("{}/search?q=before&", room.messages()),
        format!("/api/conversations/{}/media?", room.id),
    ];
    for endpoint in &endpoints {
        for limit in ["0", "101", "4294967295"] {
            let path = format!("{endpoint}limit={limit}");
            let r = room.server.get(&path, &room.alice).await;
            assert_eq!(r.status, 400, "{path}: {}", r.text());
            rejected_on(&r, "limit");
        }
        for limit in ["abc", "-1", "1.5", "99999999999"] {
            let path = format!("{endpoint}limit={limit}");
            let r = room.server.get(&path, &room.alice).await;
            assert_eq!(r.status, 400, "{path}: {}", r.text());
            rejected_mentioning(&r, "limit");
        }
        // The edges of the range are accepted.
        for limit in ["1", "100"] {
            let path = format!("{endpoint}limit={limit}");
            assert_eq!(room.server.get(&path, &room.alice).await.status, 200, "{path}");
        }
    }
}

#[tokio::test]
async fn bad_emoji_are_validation_errors_and_add_no_reaction() {
    let room = Room::open(TestServer::start()).await;
    let message = room.before[0]["id"].as_str().unwrap().to_owned();
    let reactions = format!("/api/messages/{message}/reactions");
    for emoji in [json!(""), json!("a b"), json!("\u{7}"), json!("😀".repeat(17))] {
        let r = room.server.post(&reactions, &room.alice, json!({ "emoji": emoji })).await;
        rejected_on(&r, "emoji");
    }
    rejected_on(&room.server.post(&reactions, &room.alice, json!({"emoji": 5})).await, "emoji");
    rejected_mentioning(&room.server.post(&reactions, &room.alice, json!({})).await, "emoji");
    let r = room.server.delete(&format!("{reactions}/{}", encode(" ")), &room.alice).await;
    rejected_on(&r, "emoji");
    let stored = room.server.get(&format!("/api/messages/{message}"), &room.alice).await.json();
    assert_eq!(stored["reactionSummary"], Value::Null, "{stored}");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn a_rejected_edit_leaves_the_message_as_it_was() {
    let room = Room::open(TestServer::start()).await;
    let message = room.before[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/messages/{message}");
    rejected_on(
        &room.server.put(&path, &room.alice, json!({"blocks": [{"$type": "sparkle"}]})).await,
        "blocks[0].$type",
    );
    rejected_on(&room.server.put(&path, &room.alice, json!({"blocks": []})).await, "blocks");
    rejected_on(&room.server.put(&path, &room.alice, json!({"blocks": "x"})).await, "blocks");
    let stored = room.server.get(&path, &room.alice).await.json();
    assert_eq!(stored["isEdited"], false, "{stored}");
    room.assert_unchanged().await;
}

#[tokio::test]
async fn a_rejected_conversation_create_creates_no_conversation() {
    let room = Room::open(TestServer::start()).await;
    let list = || async { room.server.get("/api/conversations", &room.alice).await.json()["items"].clone() };
    let before = list().await;
    let r = room.server.post("/api/conversations", &room.alice, json!({"participantIds": "bob"})).await;
    rejected_on(&r, "participantIds");
    let r = room.server.post("/api/conversations", &room.alice, json!({"name": ["not", "a", "name"]})).await;
    rejected_on(&r, "name");
    let r = room.server.post_raw("/api/conversations", &room.alice, b"{\"name\": \"x\"").await;
    assert!(rejected(&r).iter().any(|(_, d)| d.contains("JSON")));
    assert_eq!(list().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_burst_of_garbage_the_server_still_serves_another_user() {
    let mut room = Room::open(TestServer::start()).await;
    let mallory = room.server.participant("mallory", "Mallory").await;
    // Mallory is a member, so only validation stands between her garbage and the history.
    let r = room
        .server
        .post(
            &format!("/api/conversations/{}/participants", room.id),
            &room.alice,
            json!({"participantId": "mallory"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    room.before = room.history().await;
    let path = room.messages();
    let garbage: [&[u8]; 6] = [
        b"",
        b"{",
        b"[1,2,3]",
        b"\xff\xfe\x00garbage",
        br#"{"blocks": [{"$type": "sparkle"}]}"#,
        br#"{"blocks": "x"} trailing"#,
    ];
    let server = &room.server;
    let replies = futures::future::join_all((0..120).map(|n| {
        let body = garbage[n % garbage.len()];
        let (path, mallory) = (&path, &mallory);
        async move { server.post_raw(path, mallory, body).await }
    }))
    .await;
    for r in &replies {
        rejected(r);
    }
    // Bytes that are not HTTP at all.
    let address = room.server.base.trim_start_matches("http://").to_owned();
    for _ in 0..20 {
        let mut socket = std::net::TcpStream::connect(&address).expect("connect");
        let _ = socket.write_all(b"\x16\x03\x01\x02\x00GARBAGE\r\n\r\n\x00\x01\x02");
    }
    let bob = token("bob", "user");
    let sent = room.server.say(&bob, &room.id, "still here").await;
    let history = room.history().await;
    assert_eq!(history.len(), room.before.len() + 1);
    assert_eq!(history[0]["id"], sent["id"]);
    assert_eq!(history[1..], room.before[..]);
}
