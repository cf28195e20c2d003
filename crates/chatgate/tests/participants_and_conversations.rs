//! The participant and conversation endpoints of the Chat Gateway REST API (seed 002 sections 5
//! and 6, DESIGN 3 and 4.1): answer shapes, upserts, listing order and paging, search,
//! membership and its system messages, visibility from the moment of joining, pins, and the
//! RFC 7807 answers for everything a caller may not do.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const PARTICIPANT_KEYS: &[&str] =
    &["id", "uniqueName", "fullName", "avatar", "gender", "isBot", "createdAt", "updatedAt"];
const CONVERSATION_KEYS: &[&str] = &[
    "id",
    "name",
    "avatar",
    "ownerId",
    "lastMessageAt",
    "lastMessageId",
    "createdAt",
    "updatedAt",
    "participants",
];
const MEMBER_KEYS: &[&str] = &["participantId", "joinedAt", "leftAt", "isActive", "isPinned", "pinnedAt"];
const LIST_ITEM_KEYS: &[&str] = &[
    "id",
    "name",
    "avatar",
    "lastMessageAt",
    "lastMessageId",
    "lastMessage",
    "isPinned",
    "pinnedAt",
    "participantCount",
];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Lets the clock move on, so that two writes get different millisecond timestamps and the
/// order of "last activity" is decided by what the test did, not by a tie.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

fn assert_keys(value: &Value, expected: &[&str]) {
    let object = value.as_object().unwrap_or_else(|| panic!("not an object: {value}"));
    let mut actual: Vec<&str> = object.keys().map(String::as_str).collect();
    actual.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(actual, expected, "fields of {value}");
}

/// `2024-01-01T00:00:00.000Z`: RFC 3339 in UTC with milliseconds.
fn assert_instant(value: &Value) {
    let s = value.as_str().unwrap_or_else(|| panic!("not a timestamp string: {value}"));
    let b = s.as_bytes();
    assert!(
        s.len() == 24 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && s.ends_with('Z'),
        "not an RFC 3339 UTC instant with milliseconds: {s}"
    );
}

fn assert_ulid(value: &Value) {
    let s = value.as_str().unwrap_or_else(|| panic!("not a string id: {value}"));
    assert!(
        s.len() == 26 && s.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
        "not a ULID: {s}"
    );
}

/// The `code`s of a problem's `errors[]`.
fn error_codes(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors[] in {problem}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .collect()
}

fn ids_of(items: &Value) -> Vec<String> {
    items.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

/// The conversation's whole log as `token` sees it, oldest first.
async fn history(server: &TestServer, token: &str, conversation: &str) -> Vec<Value> {
    let r = server
        .get(&format!("/api/conversations/{conversation}/messages?direction=newer&limit=100"), token)
        .await;
    assert_eq!(r.status, 200, "history: {}", r.text());
    let page = r.json();
    assert_eq!(page["hasMore"], false);
    page["items"].as_array().unwrap().clone()
}

/// The text of every user message in a log.
fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["senderType"] != "System")
        .map(|m| m["blocks"][0]["content"].as_str().unwrap().to_owned())
        .collect()
}

/// The `systemEvent` of every system message in a log, checking each is a proper system message.
fn system_events(messages: &[Value]) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m["senderType"] == "System")
        .map(|m| {
            assert_keys(m, &MESSAGE_DTO_KEYS);
            let event = m["systemEvent"].clone();
            assert!(event.is_object(), "a system message without systemEvent: {m}");
            event
        })
        .collect()
}

/// The first page of the caller's conversation list (up to 100).
async fn list(server: &TestServer, token: &str) -> Value {
    let r = server.get("/api/conversations?limit=100", token).await;
    assert_eq!(r.status, 200, "list: {}", r.text());
    let page = r.json();
    assert_eq!(page["hasMore"], false);
    assert_eq!(page["nextCursor"], Value::Null);
    page["items"].clone()
}

async fn list_ids(server: &TestServer, token: &str) -> Vec<String> {
    ids_of(&list(server, token).await)
}

async fn members(server: &TestServer, token: &str, conversation: &str) -> Vec<Value> {
    let r = server.get(&format!("/api/conversations/{conversation}/participants"), token).await;
    assert_eq!(r.status, 200, "participants: {}", r.text());
    r.json().as_array().unwrap().clone()
}

fn member<'a>(members: &'a [Value], id: &str) -> &'a Value {
    members
        .iter()
        .find(|m| m["participantId"] == id)
        .unwrap_or_else(|| panic!("{id} is not in {}", Value::from(members.to_vec())))
}

async fn create_named(server: &TestServer, token: &str, name: &str, others: &[&str]) -> String {
    let r = server.post("/api/conversations", token, json!({"name": name, "participantIds": others})).await;
    assert_eq!(r.status, 201, "create conversation: {}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn search(server: &TestServer, token: &str, q: &str) -> Vec<String> {
    let r = server.get(&format!("/api/conversations/search?q={}", encode(q)), token).await;
    assert_eq!(r.status, 200, "search {q}: {}", r.text());
    let found = r.json();
    for item in found.as_array().unwrap() {
        assert_keys(item, LIST_ITEM_KEYS);
    }
    ids_of(&found)
}

// ---------------------------------------------------------------------------------------------
// Participants
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_participant_answers_every_field() {
    let server = TestServer::start();
    let alice = token("alice", "user");
    let r = server
        .post(
            "/api/participants",
            &alice,
            json!({"id": "alice", "uniqueName": "alice_w", "fullName": "Alice"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_keys(&p, PARTICIPANT_KEYS);
    assert_eq!(p["id"], "alice");
    assert_eq!(p["uniqueName"], "alice_w");
    assert_eq!(p["fullName"], "Alice");
    // Typed `T | null`: present, and null when not given.
    assert_eq!(p["avatar"], Value::Null);
    assert_eq!(p["gender"], Value::Null);
    assert_eq!(p["isBot"], false);
    assert_instant(&p["createdAt"]);
    assert_eq!(p["createdAt"], p["updatedAt"]);

    let fetched = server.get("/api/participants/alice", &alice).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), p);
}

#[tokio::test]
async fn updating_a_participant_keeps_created_at_and_moves_updated_at() {
    let server = TestServer::start();
    let alice = token("alice", "user");
    let created = server
        .post("/api/participants", &alice, json!({"id": "alice", "uniqueName": "alice", "fullName": "Alice"}))
        .await
        .json();
    tick().await;
    let r = server
        .post(
            "/api/participants",
            &alice,
            json!({
                "id": "alice",
                "uniqueName": "alice_w",
                "fullName": "Alice Wonder",
                "avatar": {"url": "https://cdn.example.com/alice.jpg"},
                "gender": "Female"
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let updated = r.json();
    assert_keys(&updated, PARTICIPANT_KEYS);
    assert_eq!(updated["id"], "alice");
    assert_eq!(updated["uniqueName"], "alice_w");
    assert_eq!(updated["fullName"], "Alice Wonder");
    assert_eq!(updated["avatar"], json!({"url": "https://cdn.example.com/alice.jpg"}));
    assert_eq!(updated["gender"], "Female");
    assert_eq!(updated["createdAt"], created["createdAt"]);
    assert!(
        updated["updatedAt"].as_str().unwrap() > created["updatedAt"].as_str().unwrap(),
        "updatedAt should move: {created} -> {updated}"
    );

    // One participant, reachable by its new unique name and no longer by the old one.
    assert_eq!(server.get("/api/participants/alice", &alice).await.json(), updated);
    assert_eq!(server.get("/api/participants/by-unique-name/alice_w", &alice).await.json(), updated);
    server.get("/api/participants/by-unique-name/alice", &alice).await.problem(404, "NotFound");
}

#[tokio::test]
async fn a_user_may_not_change_another_users_participant() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let before = server.get("/api/participants/alice", &alice).await.json();

    let r = server
        .post("/api/participants", &bob, json!({"id": "alice", "uniqueName": "alice", "fullName": "Hacked"}))
        .await;
    r.problem(403, "Forbidden");
    assert_eq!(server.get("/api/participants/alice", &alice).await.json(), before);
}

#[tokio::test]
async fn dev_and_admin_tokens_may_change_another_users_participant() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    for (role, name) in [("dev", "Alice by dev"), ("admin", "Alice by admin")] {
        let staff = token(&format!("{role}-1"), role);
        let r = server
            .post(
                "/api/participants",
                &staff,
                json!({"id": "alice", "uniqueName": "alice", "fullName": name}),
            )
            .await;
        assert_eq!(r.status, 200, "{role}: {}", r.text());
        assert_eq!(r.json()["fullName"], name);
        assert_eq!(server.get("/api/participants/alice", &alice).await.json()["fullName"], name);
    }
}

#[tokio::test]
async fn a_unique_name_taken_by_another_participant_is_a_conflict() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;

    let r = server
        .post("/api/participants", &bob, json!({"id": "bob", "uniqueName": "alice", "fullName": "Bob"}))
        .await;
    r.problem(409, "Conflict");
    assert_eq!(server.get("/api/participants/bob", &bob).await.json()["uniqueName"], "bob");
    assert_eq!(server.get("/api/participants/by-unique-name/alice", &bob).await.json()["id"], "alice");

    // A new participant cannot take it either, and is not created.
    let r = server
        .post("/api/participants", &alice, json!({"id": "carol", "uniqueName": "alice", "fullName": "Carol"}))
        .await;
    r.problem(409, "Conflict");
    server.get("/api/participants/carol", &alice).await.problem(404, "NotFound");
}

#[tokio::test]
async fn unknown_participants_are_not_found() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.get("/api/participants/nobody", &alice).await.problem(404, "NotFound");
    server.get("/api/participants/by-unique-name/nobody", &alice).await.problem(404, "NotFound");
}

#[tokio::test]
async fn a_participant_is_found_by_its_unique_name() {
    let server = TestServer::start();
    let alice = token("user-123", "user");
    let created = server
        .post(
            "/api/participants",
            &alice,
            json!({"id": "user-123", "uniqueName": "john.doe@example", "fullName": "John Doe"}),
        )
        .await
        .json();
    let r =
        server.get(&format!("/api/participants/by-unique-name/{}", encode("john.doe@example")), &alice).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), created);
    assert_eq!(r.json()["id"], "user-123");
}

#[tokio::test]
async fn a_batch_skips_unknown_ids_and_keeps_the_requested_order() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    server.participant("carol", "Carol").await;

    let r = server
        .post("/api/participants/batch", &alice, json!({"ids": ["carol", "ghost", "alice", "bob"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let found = r.json();
    assert_eq!(ids_of(&found), ["carol", "alice", "bob"]);
    for p in found.as_array().unwrap() {
        assert_keys(p, PARTICIPANT_KEYS);
    }
    assert_eq!(found[0]["fullName"], "Carol");

    let none = server.post("/api/participants/batch", &alice, json!({"ids": ["ghost"]})).await;
    assert_eq!(none.status, 200);
    assert_eq!(none.json(), json!([]));

    // A batch is bounded.
    let many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
    let p =
        server.post("/api/participants/batch", &alice, json!({"ids": many})).await.problem(400, "Validation");
    assert_eq!(error_codes(&p), ["ids"]);
}

#[tokio::test]
async fn invalid_participants_are_rejected_naming_each_field() {
    let server = TestServer::start();
    let t = token("someone", "user");

    let cases = [
        (json!({"id": "", "uniqueName": "u1", "fullName": "Name"}), "id"),
        (json!({"id": "has space", "uniqueName": "u2", "fullName": "Name"}), "id"),
        (json!({"id": "ok-id", "uniqueName": "u3", "fullName": "   "}), "fullName"),
        (json!({"id": "ok-id", "uniqueName": "two words", "fullName": "Name"}), "uniqueName"),
    ];
    for (body, field) in cases {
        let p = server.post("/api/participants", &t, body.clone()).await.problem(400, "Validation");
        assert_eq!(error_codes(&p), [field], "{body}");
        assert!(p["errors"][0]["description"].as_str().is_some_and(|d| !d.is_empty()), "{p}");
        assert_eq!(p["errors"][0]["type"], "Validation", "{p}");
    }
    // Every broken field is listed at once.
    let p = server
        .post("/api/participants", &t, json!({"id": "a b", "uniqueName": "", "fullName": ""}))
        .await
        .problem(400, "Validation");
    let mut codes = error_codes(&p);
    codes.sort();
    assert_eq!(codes, ["fullName", "id", "uniqueName"]);
    // A body that does not fit the request is a validation error too, never a 415 or 422.
    server.post("/api/participants", &t, json!({"id": "ok-id"})).await.problem(400, "Validation");
    server.post_raw("/api/participants", &t, b"{not json").await.problem(400, "Validation");
    // Nothing was created along the way.
    server.get("/api/participants/ok-id", &t).await.problem(404, "NotFound");
}

#[tokio::test]
async fn participants_of_another_tenant_are_invisible_and_their_names_are_free() {
    let server = TestServer::start();
    server.participant("alice", "Alice").await;
    let other = token_in("acme", "zed", "user");
    server.get("/api/participants/alice", &other).await.problem(404, "NotFound");
    server.get("/api/participants/by-unique-name/alice", &other).await.problem(404, "NotFound");
    let batch = server.post("/api/participants/batch", &other, json!({"ids": ["alice"]})).await;
    assert_eq!(batch.json(), json!([]));

    // The same id and unique name in another tenant is another participant.
    let acme_alice = token_in("acme", "alice", "user");
    let r = server
        .post(
            "/api/participants",
            &acme_alice,
            json!({"id": "alice", "uniqueName": "alice", "fullName": "Alice of Acme"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.get("/api/participants/alice", &other).await.json()["fullName"], "Alice of Acme");
    assert_eq!(
        server.get("/api/participants/alice", &token("alice", "user")).await.json()["fullName"],
        "Alice"
    );
}

// ---------------------------------------------------------------------------------------------
// Creating and reading conversations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_conversation_answers_every_field_and_includes_the_caller() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    server.participant("carol", "Carol").await;

    let r = server
        .post(
            "/api/conversations",
            &alice,
            json!({
                "name": "Team Chat",
                "avatar": {"url": "https://cdn.example.com/team.jpg"},
                "participantIds": ["bob", "carol"]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let c = r.json();
    assert_keys(&c, CONVERSATION_KEYS);
    assert_ulid(&c["id"]);
    assert_eq!(c["name"], "Team Chat");
    assert_eq!(c["avatar"], json!({"url": "https://cdn.example.com/team.jpg"}));
    assert_eq!(c["ownerId"], "alice");
    assert_eq!(c["lastMessageAt"], Value::Null);
    assert_eq!(c["lastMessageId"], Value::Null);
    assert_instant(&c["createdAt"]);
    assert_instant(&c["updatedAt"]);
    let members = c["participants"].as_array().unwrap();
    let mut ids: Vec<&str> = members.iter().map(|m| m["participantId"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["alice", "bob", "carol"]);
    for m in members {
        assert_keys(m, MEMBER_KEYS);
        assert_instant(&m["joinedAt"]);
        assert_eq!(m["leftAt"], Value::Null);
        assert_eq!(m["isActive"], true);
        assert_eq!(m["isPinned"], false);
        assert_eq!(m["pinnedAt"], Value::Null);
    }

    let id = c["id"].as_str().unwrap();
    let fetched = server.get(&format!("/api/conversations/{id}"), &alice).await;
    assert_eq!(fetched.status, 200, "{}", fetched.text());
    assert_eq!(fetched.json(), c);
}

#[tokio::test]
async fn naming_the_caller_among_the_participants_does_not_add_them_twice() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let r = server
        .post(
            "/api/conversations",
            &alice,
            json!({"name": "Pair", "participantIds": ["alice", "bob", "bob"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let participants = r.json()["participants"].as_array().unwrap().clone();
    assert_eq!(participants.len(), 2, "{participants:?}");
}

#[tokio::test]
async fn a_conversation_needs_no_name() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let r = server.post("/api/conversations", &alice, json!({"participantIds": ["bob"]})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let c = r.json();
    assert_keys(&c, CONVERSATION_KEYS);
    // ConversationDto.name is a plain string; the list item's is `string | null`.
    assert_eq!(c["name"], "");
    assert_eq!(c["avatar"], Value::Null);
    let items = list(&server, &alice).await;
    assert_eq!(items[0]["id"], c["id"]);
    assert_eq!(items[0]["name"], Value::Null);
}

#[tokio::test]
async fn creating_with_an_unknown_participant_is_not_found_and_creates_nothing() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let r = server
        .post("/api/conversations", &alice, json!({"name": "X", "participantIds": ["bob", "ghost"]}))
        .await;
    r.problem(404, "NotFound");
    assert!(list_ids(&server, &alice).await.is_empty());
}

#[tokio::test]
async fn invalid_conversation_requests_are_validation_errors() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let p = server
        .post("/api/conversations", &alice, json!({"name": "X", "participantIds": ["bob", "not an id"]}))
        .await
        .problem(400, "Validation");
    assert_eq!(error_codes(&p), ["participantIds[1]"]);
    let p = server
        .post("/api/conversations", &alice, json!({"name": "X", "participantIds": "bob"}))
        .await
        .problem(400, "Validation");
    assert!(error_codes(&p)[0].contains("participantIds"), "{p}");
    let p = server
        .post("/api/conversations", &alice, json!({"name": "X", "avatar": {}}))
        .await
        .problem(400, "Validation");
    assert_eq!(error_codes(&p), ["avatar"]);
    assert!(list_ids(&server, &alice).await.is_empty());
}

#[tokio::test]
async fn only_participants_may_read_a_conversation() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let dave = server.participant("dave", "Dave").await;
    let c = server.conversation(&alice, &["bob"]).await;

    server.get(&format!("/api/conversations/{c}"), &dave).await.problem(403, "Forbidden");
    server.get(&format!("/api/conversations/{c}/participants"), &dave).await.problem(403, "Forbidden");
    server.get(&format!("/api/conversations/{c}/messages"), &dave).await.problem(403, "Forbidden");
    server
        .put(&format!("/api/conversations/{c}"), &dave, json!({"name": "Mine"}))
        .await
        .problem(403, "Forbidden");
    server
        .post(&format!("/api/conversations/{c}/participants"), &dave, json!({"participantId": "dave"}))
        .await
        .problem(403, "Forbidden");
    server.post(&format!("/api/conversations/{c}/pin"), &dave, json!({})).await.problem(403, "Forbidden");
    assert!(list_ids(&server, &dave).await.is_empty());
    // Being an admin is not membership: a plain conversation has no channel or ticket facet.
    let admin = token("root", "admin");
    server.get(&format!("/api/conversations/{c}"), &admin).await.problem(403, "Forbidden");
    // Nothing the outsider tried changed the conversation.
    let seen = server.get(&format!("/api/conversations/{c}"), &alice).await.json();
    assert_eq!(seen["name"], "Test");
    assert_eq!(seen["participants"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn another_tenant_does_not_see_the_conversation_at_all() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let c = server.conversation(&alice, &["bob"]).await;

    // Even a token for the same participant id, issued for another tenant.
    for other in [token_in("acme", "alice", "user"), token_in("acme", "mallory", "admin")] {
        server.get(&format!("/api/conversations/{c}"), &other).await.problem(404, "NotFound");
        server.get(&format!("/api/conversations/{c}/participants"), &other).await.problem(404, "NotFound");
        server.get(&format!("/api/conversations/{c}/messages"), &other).await.problem(404, "NotFound");
        server
            .put(&format!("/api/conversations/{c}"), &other, json!({"name": "Taken"}))
            .await
            .problem(404, "NotFound");
        server.post(&format!("/api/conversations/{c}/pin"), &other, json!({})).await.problem(404, "NotFound");
        server.delete(&format!("/api/conversations/{c}"), &other).await.problem(404, "NotFound");
        assert!(list_ids(&server, &other).await.is_empty());
    }
    assert_eq!(server.get(&format!("/api/conversations/{c}"), &alice).await.json()["name"], "Test");

    // A participant of another tenant cannot be brought in either.
    let zed = token_in("acme", "zed", "user");
    let r = server
        .post("/api/participants", &zed, json!({"id": "zed", "uniqueName": "zed", "fullName": "Zed"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    server
        .post(&format!("/api/conversations/{c}/participants"), &alice, json!({"participantId": "zed"}))
        .await
        .problem(404, "NotFound");
    server
        .post("/api/conversations", &alice, json!({"name": "X", "participantIds": ["zed"]}))
        .await
        .problem(404, "NotFound");
    assert!(list_ids(&server, &zed).await.is_empty());
}

#[tokio::test]
async fn an_unknown_conversation_is_not_found() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    for id in ["01JRZABC1234567890ABCDEFGH", "not-a-conversation"] {
        server.get(&format!("/api/conversations/{id}"), &alice).await.problem(404, "NotFound");
        server.get(&format!("/api/conversations/{id}/participants"), &alice).await.problem(404, "NotFound");
        server
            .put(&format!("/api/conversations/{id}"), &alice, json!({"name": "X"}))
            .await
            .problem(404, "NotFound");
        server
            .post(&format!("/api/conversations/{id}/leave"), &alice, json!({}))
            .await
            .problem(404, "NotFound");
        server
            .post(&format!("/api/conversations/{id}/participants"), &alice, json!({"participantId": "alice"}))
            .await
            .problem(404, "NotFound");
        server
            .post(&format!("/api/conversations/{id}/pin"), &alice, json!({}))
            .await
            .problem(404, "NotFound");
    }
}

#[tokio::test]
async fn every_participant_and_conversation_endpoint_needs_a_token() {
    let server = TestServer::start();
    let id = "01JRZABC1234567890ABCDEFGH";
    let calls: Vec<(&str, String)> = vec![
        ("POST", "/api/participants".into()),
        ("GET", "/api/participants/alice".into()),
        ("GET", "/api/participants/by-unique-name/alice".into()),
        ("POST", "/api/participants/batch".into()),
        ("GET", "/api/conversations".into()),
        ("POST", "/api/conversations".into()),
        ("GET", "/api/conversations/search?q=x".into()),
        ("GET", format!("/api/conversations/{id}")),
        ("PUT", format!("/api/conversations/{id}")),
        ("DELETE", format!("/api/conversations/{id}")),
        ("POST", format!("/api/conversations/{id}/leave")),
        ("GET", format!("/api/conversations/{id}/participants")),
        ("POST", format!("/api/conversations/{id}/participants")),
        ("DELETE", format!("/api/conversations/{id}/participants/bob")),
        ("POST", format!("/api/conversations/{id}/pin")),
        ("DELETE", format!("/api/conversations/{id}/pin")),
    ];
    for (method, path) in calls {
        let body = (method == "POST" || method == "PUT").then(|| b"{}".to_vec());
        let r = server.request(method, &path, None, body, &[]).await;
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text());
        r.problem(401, "Unauthorized");
    }
}

// ---------------------------------------------------------------------------------------------
// Listing, paging and searching
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn conversations_are_listed_by_last_activity_newest_first() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let first = server.conversation(&alice, &["bob"]).await;
    tick().await;
    let second = server.conversation(&alice, &["bob"]).await;
    tick().await;
    let third = server.conversation(&alice, &["bob"]).await;
    // Without messages, the newest conversation comes first.
    assert_eq!(list_ids(&server, &alice).await, [third.as_str(), second.as_str(), first.as_str()]);

    tick().await;
    server.say(&alice, &first, "wake up").await;
    assert_eq!(list_ids(&server, &alice).await, [first.as_str(), third.as_str(), second.as_str()]);
    tick().await;
    server.say(&alice, &second, "me too").await;
    assert_eq!(list_ids(&server, &alice).await, [second.as_str(), first.as_str(), third.as_str()]);
}

#[tokio::test]
async fn list_items_carry_the_last_message_and_count_active_members_only() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let carol = server.participant("carol", "Carol").await;
    let quiet = server.conversation(&alice, &["bob"]).await;
    tick().await;
    let busy = create_named(&server, &alice, "Busy", &["bob", "carol"]).await;
    let r = server.post(&format!("/api/conversations/{busy}/leave"), &carol, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text());
    tick().await;
    let hello = server.say(&bob, &busy, "hello").await;

    let items = list(&server, &alice).await;
    assert_eq!(ids_of(&items), [busy.as_str(), quiet.as_str()]);
    for item in items.as_array().unwrap() {
        assert_keys(item, LIST_ITEM_KEYS);
        assert_eq!(item["isPinned"], false);
        assert_eq!(item["pinnedAt"], Value::Null);
        assert_eq!(item["avatar"], Value::Null);
    }
    let busy_item = &items[0];
    assert_eq!(busy_item["name"], "Busy");
    assert_eq!(busy_item["participantCount"], 2, "carol left: {busy_item}");
    assert_eq!(busy_item["lastMessageId"], hello["id"]);
    assert_eq!(busy_item["lastMessageAt"], hello["createdAt"]);
    let last = &busy_item["lastMessage"];
    assert_keys(last, &MESSAGE_DTO_KEYS);
    assert_eq!(last, &hello);
    assert_eq!(last["senderId"], "bob");
    assert_eq!(last["senderType"], "User");
    assert_eq!(last["blocks"][0]["content"], "hello");

    let quiet_item = &items[1];
    assert_eq!(quiet_item["participantCount"], 2);
    assert_eq!(quiet_item["lastMessage"], Value::Null);
    assert_eq!(quiet_item["lastMessageId"], Value::Null);
    assert_eq!(quiet_item["lastMessageAt"], Value::Null);
}

#[tokio::test]
async fn the_list_pages_through_every_conversation_once_with_string_cursors() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let mut c = Vec::new();
    for _ in 0..7 {
        c.push(server.conversation(&alice, &["bob"]).await);
        tick().await;
    }
    // Two pinned conversations (so one page ends on a pinned one) and one revived by a message.
    for pinned in [c[1].as_str(), c[3].as_str()] {
        let r = server.post(&format!("/api/conversations/{pinned}/pin"), &alice, json!({})).await;
        assert_eq!(r.status, 204, "{}", r.text());
        tick().await;
    }
    server.say(&alice, &c[0], "still here").await;
    let expected = [
        c[3].as_str(),
        c[1].as_str(),
        c[0].as_str(),
        c[6].as_str(),
        c[5].as_str(),
        c[4].as_str(),
        c[2].as_str(),
    ];
    assert_eq!(list_ids(&server, &alice).await, expected);

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/api/conversations?limit=2".to_owned(),
            Some(c) => format!("/api/conversations?limit=2&cursor={}", encode(c)),
        };
        let r = server.get(&path, &alice).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let page = r.json();
        pages += 1;
        let items = ids_of(&page["items"]);
        seen.extend(items.iter().cloned());
        if page["hasMore"] == false {
            assert_eq!(page["nextCursor"], Value::Null, "{page}");
            break;
        }
        assert_eq!(page["hasMore"], true, "{page}");
        assert_eq!(items.len(), 2);
        // `"<unixMs>_<ULID>"`, always a string, naming the page's last conversation.
        let next = page["nextCursor"].as_str().unwrap_or_else(|| panic!("nextCursor not a string: {page}"));
        let (ms, id) = next.split_once('_').unwrap_or_else(|| panic!("cursor {next}"));
        assert!(ms.len() >= 13 && ms.chars().all(|d| d.is_ascii_digit()), "cursor {next}");
        assert_eq!(id, items.last().unwrap(), "cursor {next}");
        cursor = Some(next.to_owned());
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, expected);

    // A page that is exactly the rest has nothing more.
    let whole = server.get("/api/conversations?limit=7", &alice).await.json();
    assert_eq!(whole["hasMore"], false);
    assert_eq!(whole["nextCursor"], Value::Null);
    let six = server.get("/api/conversations?limit=6", &alice).await.json();
    assert_eq!(six["hasMore"], true);
    let cursor = encode(six["nextCursor"].as_str().unwrap());
    let rest = server.get(&format!("/api/conversations?limit=6&cursor={cursor}"), &alice).await.json();
    assert_eq!(ids_of(&rest["items"]), [c[2].as_str()]);
    assert_eq!(rest["hasMore"], false);
}

#[tokio::test]
async fn a_cursor_the_server_did_not_issue_is_rejected() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.conversation(&alice, &[]).await;
    for bad in ["garbage", "123", "abc_01JRZABC1234567890ABCDEFGH", "1743004200000_notaulid", "1743004200000"]
    {
        let p = server
            .get(&format!("/api/conversations?cursor={}", encode(bad)), &alice)
            .await
            .problem(400, "Validation");
        assert_eq!(error_codes(&p), ["cursor"], "{bad}");
    }
}

#[tokio::test]
async fn the_page_size_must_be_from_1_to_100() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.conversation(&alice, &[]).await;
    for bad in ["0", "101"] {
        let p =
            server.get(&format!("/api/conversations?limit={bad}"), &alice).await.problem(400, "Validation");
        assert_eq!(error_codes(&p), ["limit"], "limit={bad}");
        server
            .get(&format!("/api/conversations/search?q=Test&limit={bad}"), &alice)
            .await
            .problem(400, "Validation");
    }
    server.get("/api/conversations?limit=many", &alice).await.problem(400, "Validation");
    for good in ["1", "100"] {
        let r = server.get(&format!("/api/conversations?limit={good}"), &alice).await;
        assert_eq!(r.status, 200, "limit={good}: {}", r.text());
        assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn search_finds_conversations_by_name_regardless_of_case() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let team = create_named(&server, &alice, "Team Rocket", &["bob"]).await;
    let _other = create_named(&server, &alice, "Lunch", &["bob"]).await;

    assert_eq!(search(&server, &alice, "team").await, [team.as_str()]);
    assert_eq!(search(&server, &alice, "ROCKET").await, [team.as_str()]);
    assert_eq!(search(&server, &alice, "am ro").await, [team.as_str()]);
    assert!(search(&server, &alice, "nothing like it").await.is_empty());
}

#[tokio::test]
async fn search_finds_conversations_by_another_participants_full_name() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob Marley").await;
    server.participant("carol", "Carol King").await;
    let with_bob = create_named(&server, &alice, "Music", &["bob"]).await;
    let with_carol = create_named(&server, &alice, "Books", &["carol"]).await;

    assert_eq!(search(&server, &alice, "marley").await, [with_bob.as_str()]);
    assert_eq!(search(&server, &alice, "CAROL k").await, [with_carol.as_str()]);
}

#[tokio::test]
async fn search_matches_vietnamese_names_regardless_of_case_and_accents() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("duc", "Nguyễn Văn Đức").await;
    let with_duc = create_named(&server, &alice, "Dự án Ánh Dương", &["duc"]).await;

    // Exact spelling, lower case, upper case, and typed without accents all match.
    for q in ["Đức", "đức", "ĐỨC", "Ánh Dương", "ánh dương", "DỰ ÁN", "duc", "nguyen van", "anh duong"]
    {
        assert_eq!(search(&server, &alice, q).await, [with_duc.as_str()], "q={q}");
    }
}

#[tokio::test]
async fn search_never_returns_conversations_the_caller_is_not_in() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    server.participant("carol", "Carol").await;
    let theirs = create_named(&server, &bob, "Secret Plans", &["carol"]).await;
    let left = create_named(&server, &bob, "Secret Party", &["alice"]).await;
    let r = server.delete(&format!("/api/conversations/{left}"), &alice).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let mine = create_named(&server, &alice, "Not secret", &["bob"]).await;

    assert_eq!(search(&server, &alice, "secret").await, [mine.as_str()]);
    assert!(search(&server, &alice, "carol").await.is_empty(), "alice shares no conversation with carol");
    let mut bobs = search(&server, &bob, "secret").await;
    bobs.sort();
    let mut expected = vec![theirs, left, mine];
    expected.sort();
    assert_eq!(bobs, expected);
}

#[tokio::test]
async fn search_takes_percent_and_underscore_literally_and_honours_the_limit() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let done = create_named(&server, &alice, "100% done", &[]).await;
    let snake = create_named(&server, &alice, "snake_case", &[]).await;
    create_named(&server, &alice, "Lunch", &[]).await;

    assert_eq!(search(&server, &alice, "%").await, [done.as_str()]);
    assert_eq!(search(&server, &alice, "_").await, [snake.as_str()]);
    assert_eq!(search(&server, &alice, "e_c").await, [snake.as_str()]);

    let r = server.get("/api/conversations/search?q=n&limit=1", &alice).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().as_array().unwrap().len(), 1, "three names contain an n");
}

#[tokio::test]
async fn search_needs_a_query() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.conversation(&alice, &[]).await;
    for q in ["", "%20%20"] {
        let p =
            server.get(&format!("/api/conversations/search?q={q}"), &alice).await.problem(400, "Validation");
        assert_eq!(error_codes(&p), ["q"], "q={q}");
    }
    server.get("/api/conversations/search", &alice).await.problem(400, "Validation");
}

// ---------------------------------------------------------------------------------------------
// Updating
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn renaming_writes_a_system_message_by_the_caller() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let c = server.conversation(&alice, &["bob"]).await;
    let before = server.get(&format!("/api/conversations/{c}"), &alice).await.json();
    tick().await;

    // Bob renames, so the actor is the caller and not the owner.
    let r = server.put(&format!("/api/conversations/{c}"), &bob, json!({"name": "Team Beta"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let updated = r.json();
    assert_keys(&updated, CONVERSATION_KEYS);
    assert_eq!(updated["name"], "Team Beta");
    assert_eq!(updated["avatar"], Value::Null);
    assert_eq!(updated["createdAt"], before["createdAt"]);
    assert!(updated["updatedAt"].as_str().unwrap() > before["updatedAt"].as_str().unwrap());

    let log = history(&server, &alice, &c).await;
    assert_eq!(log.len(), 1);
    let message = &log[0];
    assert_eq!(message["senderType"], "System");
    assert_eq!(message["blocks"], json!([]));
    assert_eq!(updated["lastMessageId"], message["id"]);
    assert_eq!(updated["lastMessageAt"], message["createdAt"]);
    let event = &message["systemEvent"];
    assert_eq!(event["type"], "ConversationRenamed");
    assert_eq!(event["actorId"], "bob");
    assert_eq!(event["metadata"], json!({"oldName": "Test", "newName": "Team Beta"}));
    // Everyone in the conversation sees it.
    assert_eq!(history(&server, &bob, &c).await, log);
    assert_eq!(server.get(&format!("/api/conversations/{c}"), &bob).await.json()["name"], "Team Beta");
}

#[tokio::test]
async fn changing_and_removing_the_avatar_writes_system_messages() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let c = server.conversation(&alice, &["bob"]).await;
    let path = format!("/api/conversations/{c}");

    let avatar = json!({"url": "https://cdn.example.com/group.jpg"});
    let r = server.put(&path, &alice, json!({"avatar": avatar})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["avatar"], avatar);
    assert_eq!(r.json()["name"], "Test", "a field left out stays unchanged");

    // `avatar: null` removes it; the name, left out, stays.
    let r = server.put(&path, &alice, json!({"avatar": null})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["avatar"], Value::Null);
    assert_eq!(r.json()["name"], "Test");
    assert_eq!(server.get(&path, &alice).await.json()["avatar"], Value::Null);

    let events = system_events(&history(&server, &alice, &c).await);
    assert_eq!(events.len(), 2, "{events:?}");
    for event in &events {
        assert_eq!(event["type"], "AvatarChanged");
        assert_eq!(event["actorId"], "alice");
    }
}

#[tokio::test]
async fn renaming_and_changing_the_avatar_at_once_writes_both_system_messages() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let c = server.conversation(&alice, &[]).await;
    let r = server
        .put(
            &format!("/api/conversations/{c}"),
            &alice,
            json!({"name": "New Group Name", "avatar": {"url": "https://example.com/group-avatar.jpg"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let events = system_events(&history(&server, &alice, &c).await);
    let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    assert_eq!(types, ["AvatarChanged", "ConversationRenamed"]);
    let renamed = events.iter().find(|e| e["type"] == "ConversationRenamed").unwrap();
    assert_eq!(renamed["metadata"]["newName"], "New Group Name");
    assert_eq!(renamed["metadata"]["oldName"], "Test");
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_no_system_message() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let c = server.conversation(&alice, &["bob"]).await;
    let path = format!("/api/conversations/{c}");
    let before = server.get(&path, &alice).await.json();
    tick().await;

    for body in
        [json!({}), json!({"name": "Test"}), json!({"avatar": null}), json!({"name": "Test", "avatar": null})]
    {
        let r = server.put(&path, &alice, body.clone()).await;
        assert_eq!(r.status, 200, "{body}: {}", r.text());
        assert_eq!(r.json(), before, "{body}");
    }
    assert!(history(&server, &alice, &c).await.is_empty());
    assert_eq!(server.get(&path, &alice).await.json(), before);
}

// ---------------------------------------------------------------------------------------------
// Leaving
// ---------------------------------------------------------------------------------------------

/// The caller leaves through `leave`; the others stay and see a MemberLeft message.
async fn leaving_keeps_the_others(leave: impl AsyncFn(&TestServer, &str, &str) -> Reply) {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    server.participant("carol", "Carol").await;
    let c = server.conversation(&alice, &["bob", "carol"]).await;
    server.say(&bob, &c, "see you").await;

    let r = leave(&server, &bob, &c).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());

    // The others stay, and are told in the log, with no actor and bob as the target.
    let log = history(&server, &alice, &c).await;
    let last = log.last().unwrap();
    assert_eq!(last["senderType"], "System");
    let event = &last["systemEvent"];
    assert_eq!(event["type"], "MemberLeft");
    assert_eq!(event.get("actorId"), Some(&Value::Null), "{event}");
    assert_eq!(event["targetIds"], json!(["bob"]));
    let conversation = server.get(&format!("/api/conversations/{c}"), &alice).await.json();
    let active: Vec<&Value> = conversation["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["isActive"] == true)
        .map(|m| &m["participantId"])
        .collect();
    assert_eq!(active, [&json!("alice"), &json!("carol")]);
    assert_eq!(list(&server, &alice).await[0]["participantCount"], 2);

    // The leaver is no longer let in, does not list it, and cannot leave twice.
    server.get(&format!("/api/conversations/{c}"), &bob).await.problem(403, "Forbidden");
    server.get(&format!("/api/conversations/{c}/messages"), &bob).await.problem(403, "Forbidden");
    server
        .post(&format!("/api/conversations/{c}/messages"), &bob, text_message("hello?"))
        .await
        .problem(403, "Forbidden");
    assert!(list_ids(&server, &bob).await.is_empty());
    leave(&server, &bob, &c).await.problem(403, "Forbidden");
    // Only one MemberLeft was written.
    assert_eq!(history(&server, &alice, &c).await.len(), log.len());
}

#[tokio::test]
async fn delete_makes_only_the_caller_leave() {
    leaving_keeps_the_others(async |server: &TestServer, t: &str, c: &str| {
        server.delete(&format!("/api/conversations/{c}"), t).await
    })
    .await;
}

#[tokio::test]
async fn post_leave_makes_only_the_caller_leave() {
    leaving_keeps_the_others(async |server: &TestServer, t: &str, c: &str| {
        server.post(&format!("/api/conversations/{c}/leave"), t, json!({})).await
    })
    .await;
}

#[tokio::test]
async fn removing_oneself_is_leaving() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let c = server.conversation(&alice, &["bob"]).await;
    let r = server.delete(&format!("/api/conversations/{c}/participants/bob"), &bob).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let events = system_events(&history(&server, &alice, &c).await);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "MemberLeft");
    assert_eq!(events[0]["targetIds"], json!(["bob"]));
    server.get(&format!("/api/conversations/{c}"), &bob).await.problem(403, "Forbidden");
}

// ---------------------------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn adding_a_participant_writes_member_added() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let carol = server.participant("carol", "Carol").await;
    let c = server.conversation(&alice, &["bob"]).await;

    // Any member may add; here bob does.
    let r = server
        .post(&format!("/api/conversations/{c}/participants"), &bob, json!({"participantId": "carol"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());

    let events = system_events(&history(&server, &alice, &c).await);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "MemberAdded");
    assert_eq!(events[0]["actorId"], "bob");
    assert_eq!(events[0]["targetIds"], json!(["carol"]));

    let all = members(&server, &alice, &c).await;
    assert_eq!(all.len(), 3);
    let added = member(&all, "carol");
    assert_keys(added, MEMBER_KEYS);
    assert_eq!(added["isActive"], true);
    assert_eq!(added["leftAt"], Value::Null);
    assert_instant(&added["joinedAt"]);
    assert_eq!(list_ids(&server, &carol).await, [c.as_str()]);
    assert_eq!(list(&server, &alice).await[0]["participantCount"], 3);
}

#[tokio::test]
async fn adding_an_active_participant_is_a_conflict() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let c = server.conversation(&alice, &["bob"]).await;
    let path = format!("/api/conversations/{c}/participants");
    server.post(&path, &alice, json!({"participantId": "bob"})).await.problem(409, "Conflict");
    server.post(&path, &alice, json!({"participantId": "alice"})).await.problem(409, "Conflict");
    assert!(history(&server, &alice, &c).await.is_empty(), "no system message for a refused add");
}

#[tokio::test]
async fn adding_an_unknown_participant_is_not_found() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let c = server.conversation(&alice, &[]).await;
    let path = format!("/api/conversations/{c}/participants");
    server.post(&path, &alice, json!({"participantId": "ghost"})).await.problem(404, "NotFound");
    let p =
        server.post(&path, &alice, json!({"participantId": "two words"})).await.problem(400, "Validation");
    assert_eq!(error_codes(&p), ["participantId"]);
    server.post(&path, &alice, json!({})).await.problem(400, "Validation");
    assert_eq!(members(&server, &alice, &c).await.len(), 1);
    assert!(history(&server, &alice, &c).await.is_empty());
}

#[tokio::test]
async fn a_participant_added_later_sees_only_messages_from_their_join_on() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let carol = server.participant("carol", "Carol").await;
    let c = server.conversation(&alice, &["bob"]).await;
    let old_a = server.say(&alice, &c, "before carol 1").await;
    let old_b = server.say(&bob, &c, "before carol 2").await;

    let r = server
        .post(&format!("/api/conversations/{c}/participants"), &alice, json!({"participantId": "carol"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let after = server.say(&bob, &c, "welcome carol").await;

    let seen = history(&server, &carol, &c).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["systemEvent"]["type"], "MemberAdded");
    assert_eq!(seen[0]["systemEvent"]["targetIds"], json!(["carol"]));
    assert_eq!(seen[1]["id"], after["id"]);
    // Newest-first paging agrees.
    let newest = server.get(&format!("/api/conversations/{c}/messages"), &carol).await.json();
    assert_eq!(ids_of(&newest["items"]), [after["id"].as_str().unwrap(), seen[0]["id"].as_str().unwrap()]);

    for old in [&old_a, &old_b] {
        let id = old["id"].as_str().unwrap();
        server.get(&format!("/api/messages/{id}"), &carol).await.problem(404, "NotFound");
        assert_eq!(server.get(&format!("/api/messages/{id}"), &bob).await.status, 200);
    }
    // The members who were there still see everything.
    assert_eq!(
        texts(&history(&server, &alice, &c).await),
        ["before carol 1", "before carol 2", "welcome carol"]
    );
    // Carol's list shows her the conversation with what she can see as its last message.
    let item = &list(&server, &carol).await[0];
    assert_eq!(item["lastMessageId"], after["id"]);
}

#[tokio::test]
async fn only_the_owner_removes_other_participants() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let carol = server.participant("carol", "Carol").await;
    server.participant("dave", "Dave").await;
    let c = server.conversation(&alice, &["bob", "carol"]).await;

    server
        .delete(&format!("/api/conversations/{c}/participants/carol"), &bob)
        .await
        .problem(403, "Forbidden");
    server
        .delete(&format!("/api/conversations/{c}/participants/alice"), &bob)
        .await
        .problem(403, "Forbidden");
    assert!(history(&server, &alice, &c).await.is_empty());
    assert!(members(&server, &alice, &c).await.iter().all(|m| m["isActive"] == true));

    let r = server.delete(&format!("/api/conversations/{c}/participants/carol"), &alice).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let events = system_events(&history(&server, &bob, &c).await);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "MemberRemoved");
    assert_eq!(events[0]["actorId"], "alice");
    assert_eq!(events[0]["targetIds"], json!(["carol"]));
    server.get(&format!("/api/conversations/{c}"), &carol).await.problem(403, "Forbidden");
    assert!(list_ids(&server, &carol).await.is_empty());

    // Someone who is not (or no longer) a member cannot be removed.
    server
        .delete(&format!("/api/conversations/{c}/participants/carol"), &alice)
        .await
        .problem(404, "NotFound");
    server
        .delete(&format!("/api/conversations/{c}/participants/dave"), &alice)
        .await
        .problem(404, "NotFound");
    server
        .delete(&format!("/api/conversations/{c}/participants/ghost"), &alice)
        .await
        .problem(404, "NotFound");
}

#[tokio::test]
async fn adding_the_same_participant_twice_at_once_adds_them_once() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    server.participant("carol", "Carol").await;
    let c = server.conversation(&alice, &["bob"]).await;
    let path = format!("/api/conversations/{c}/participants");

    let body = json!({"participantId": "carol"});
    let (a, b) =
        tokio::join!(server.post(&path, &alice, body.clone()), server.post(&path, &bob, body.clone()));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 409], "{} / {}", a.text(), b.text());
    let events = system_events(&history(&server, &alice, &c).await);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(members(&server, &alice, &c).await.len(), 3);
}

#[tokio::test]
async fn the_participant_list_keeps_those_who_left() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    server.participant("carol", "Carol").await;
    let c = server.conversation(&alice, &["bob", "carol"]).await;
    let r = server.post(&format!("/api/conversations/{c}/leave"), &bob, json!({})).await;
    assert_eq!(r.status, 204);
    let r = server.delete(&format!("/api/conversations/{c}/participants/carol"), &alice).await;
    assert_eq!(r.status, 204);

    let all = members(&server, &alice, &c).await;
    assert_eq!(all.len(), 3, "{all:?}");
    for m in &all {
        assert_keys(m, MEMBER_KEYS);
    }
    assert_eq!(member(&all, "alice")["isActive"], true);
    assert_eq!(member(&all, "alice")["leftAt"], Value::Null);
    for gone in ["bob", "carol"] {
        let m = member(&all, gone);
        assert_eq!(m["isActive"], false, "{m}");
        assert_instant(&m["leftAt"]);
        assert!(m["leftAt"].as_str().unwrap() >= m["joinedAt"].as_str().unwrap());
    }
    // The conversation itself lists them the same way.
    let conversation = server.get(&format!("/api/conversations/{c}"), &alice).await.json();
    assert_eq!(conversation["participants"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_removed_participant_added_again_sees_from_the_new_join() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    server.participant("bob", "Bob").await;
    let carol = server.participant("carol", "Carol").await;
    let c = server.conversation(&alice, &["bob", "carol"]).await;
    let while_in = server.say(&alice, &c, "carol is here").await;
    assert_eq!(texts(&history(&server, &carol, &c).await), ["carol is here"]);
    let first_join = member(&members(&server, &alice, &c).await, "carol")["joinedAt"].clone();

    let r = server.delete(&format!("/api/conversations/{c}/participants/carol"), &alice).await;
    assert_eq!(r.status, 204);
    let while_out = server.say(&alice, &c, "carol is away").await;
    tick().await;
    let r = server
        .post(&format!("/api/conversations/{c}/participants"), &alice, json!({"participantId": "carol"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let back = server.say(&alice, &c, "carol is back").await;

    let seen = history(&server, &carol, &c).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["systemEvent"]["type"], "MemberAdded");
    assert_eq!(seen[1]["id"], back["id"]);
    for hidden in [&while_in, &while_out] {
        let id = hidden["id"].as_str().unwrap();
        server.get(&format!("/api/messages/{id}"), &carol).await.problem(404, "NotFound");
    }
    let row = member(&members(&server, &alice, &c).await, "carol").clone();
    assert_eq!(row["isActive"], true);
    assert_eq!(row["leftAt"], Value::Null);
    assert!(row["joinedAt"].as_str().unwrap() > first_join.as_str().unwrap(), "{row}");
}

// ---------------------------------------------------------------------------------------------
// Pins
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn pinned_conversations_come_first_for_the_pinner_only() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let old = server.conversation(&alice, &["bob"]).await;
    tick().await;
    let new = server.conversation(&alice, &["bob"]).await;
    assert_eq!(list_ids(&server, &alice).await, [new.as_str(), old.as_str()]);

    let r = server.post(&format!("/api/conversations/{old}/pin"), &alice, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    let items = list(&server, &alice).await;
    assert_eq!(ids_of(&items), [old.as_str(), new.as_str()]);
    assert_eq!(items[0]["isPinned"], true);
    assert_instant(&items[0]["pinnedAt"]);
    assert_eq!(items[1]["isPinned"], false);
    assert_eq!(items[1]["pinnedAt"], Value::Null);

    // Bob's view is his own.
    let bobs = list(&server, &bob).await;
    assert_eq!(ids_of(&bobs), [new.as_str(), old.as_str()]);
    assert!(bobs.as_array().unwrap().iter().all(|i| i["isPinned"] == false && i["pinnedAt"].is_null()));
    let all = members(&server, &bob, &old).await;
    assert_eq!(member(&all, "alice")["isPinned"], true);
    assert_instant(&member(&all, "alice")["pinnedAt"]);
    assert_eq!(member(&all, "bob")["isPinned"], false);

    // Even newer activity elsewhere does not overtake a pin.
    server.say(&bob, &new, "newest").await;
    assert_eq!(list_ids(&server, &alice).await, [old.as_str(), new.as_str()]);
    assert_eq!(list_ids(&server, &bob).await, [new.as_str(), old.as_str()]);
}

#[tokio::test]
async fn unpinning_puts_a_conversation_back_in_activity_order() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let old = server.conversation(&alice, &[]).await;
    tick().await;
    let new = server.conversation(&alice, &[]).await;
    let pin = format!("/api/conversations/{old}/pin");

    // Pinning twice is still one pin.
    for _ in 0..2 {
        let r = server.post(&pin, &alice, json!({})).await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let pinned_at = list(&server, &alice).await[0]["pinnedAt"].clone();
    assert_instant(&pinned_at);

    let r = server.delete(&pin, &alice).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    let items = list(&server, &alice).await;
    assert_eq!(ids_of(&items), [new.as_str(), old.as_str()]);
    assert!(items.as_array().unwrap().iter().all(|i| i["isPinned"] == false && i["pinnedAt"].is_null()));
    // Unpinning what is not pinned changes nothing.
    assert_eq!(server.delete(&pin, &alice).await.status, 204);
    assert_eq!(list_ids(&server, &alice).await, [new.as_str(), old.as_str()]);
}
