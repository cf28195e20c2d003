//! The message endpoints of the REST API (DESIGN 4.1, seed 002 sections 6–7, 15–16), against the
//! real server: sending every block type, history paging in both directions, search, reading,
//! editing, deleting and recovering, reactions, and the conversation's media listing.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::{Value, json};

const MEDIA_ITEM_FIELDS: [&str; 26] = [
    "id",
    "conversationId",
    "messageId",
    "blockIndex",
    "senderId",
    "senderType",
    "kind",
    "blockType",
    "createdAt",
    "storageKey",
    "url",
    "fileName",
    "mimeType",
    "fileSizeBytes",
    "width",
    "height",
    "durationSeconds",
    "caption",
    "altText",
    "thumbnailStorageKey",
    "thumbnailUrl",
    "linkTitle",
    "linkDescription",
    "linkSiteName",
    "linkImageStorageKey",
    "linkImageUrl",
];

fn messages_path(conversation: &str) -> String {
    format!("/api/conversations/{conversation}/messages")
}

fn message_path(id: &str) -> String {
    format!("/api/messages/{id}")
}

async fn send(server: &TestServer, token: &str, conversation: &str, body: Value) -> Value {
    let r = server.post(&messages_path(conversation), token, body).await;
    assert_eq!(r.status, 201, "send: {}", r.text());
    r.json()
}

/// Sends `count` plain-text messages `"{prefix}{n}"`; returns their ids in send order.
async fn say_many(
    server: &TestServer,
    token: &str,
    conversation: &str,
    prefix: &str,
    count: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        ids.push(id_of(&server.say(token, conversation, &format!("{prefix}{n}")).await));
    }
    ids
}

async fn get_ok(server: &TestServer, path: &str, token: &str) -> Value {
    let r = server.get(path, token).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

async fn fetch_message(server: &TestServer, token: &str, id: &str) -> Value {
    get_ok(server, &message_path(id), token).await
}

fn id_of(item: &Value) -> String {
    item["id"].as_str().unwrap_or_else(|| panic!("no id in {item}")).to_owned()
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap_or_else(|| panic!("no items in {page}")).iter().map(id_of).collect()
}

fn contents_of(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {messages}"))
        .iter()
        .map(|m| m["blocks"][0]["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn assert_message_shape(m: &Value) {
    for field in MESSAGE_DTO_KEYS {
        assert!(m.get(field).is_some(), "MessageDto lacks `{field}`: {m}");
    }
}

fn assert_timestamp(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    let b = s.as_bytes();
    assert!(
        b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && s.ends_with('Z'),
        "not an ISO 8601 UTC timestamp: {s}"
    );
}

fn reverse(ids: &[String]) -> Vec<String> {
    ids.iter().rev().cloned().collect()
}

/// Pages through the whole history in one direction, checking the paging fields on the way.
async fn walk_history(
    server: &TestServer,
    token: &str,
    conversation: &str,
    direction: &str,
    limit: u32,
) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{}?direction={direction}&limit={limit}", messages_path(conversation));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode(c)));
        }
        let page = get_ok(server, &path, token).await;
        pages += 1;
        let ids = ids_of(&page);
        assert!(ids.len() <= limit as usize, "a page holds at most `limit` items: {page}");
        seen.extend(ids.iter().cloned());
        if page["hasMore"] == true {
            assert_eq!(ids.len(), limit as usize, "a page before the end is full: {page}");
            // The cursor is the last message of the page, so a client can also resume from any id.
            assert_eq!(page["nextCursor"].as_str(), ids.last().map(String::as_str), "{page}");
            cursor = Some(page["nextCursor"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(page["hasMore"], false, "{page}");
            assert!(page["nextCursor"].is_null(), "the last page has no cursor: {page}");
            return (seen, pages);
        }
        assert!(pages < 100, "paging does not end");
    }
}

/// A storage-key reference may come back with a (signed) `url` added by the server; drop it so a
/// round trip compares what the client sent.
fn without_added_urls(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            if map.contains_key("storageKey") {
                map.remove("url");
            }
            for value in map.values_mut() {
                *value = without_added_urls(value.take());
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = without_added_urls(item.take());
            }
        }
        _ => {}
    }
    v
}

fn media_path(conversation: &str, query: &str) -> String {
    format!("/api/conversations/{conversation}/media{query}")
}

/// Alice and Bob in one conversation; Carol exists but is not in it.
async fn alice_bob_and_outsider(server: &TestServer) -> (String, String, String, String) {
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let carol = server.participant("carol", "Carol").await;
    let conversation = server.conversation(&alice, &["bob"]).await;
    (alice, bob, carol, conversation)
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sending_answers_201_with_a_complete_message_dto() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;

    let r = server.post(&messages_path(&conversation), &alice, text_message("Xin chào!")).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")));
    let m = r.json();
    assert_message_shape(&m);
    assert_eq!(m["id"].as_str().unwrap().len(), 26, "a ULID: {m}");
    assert_eq!(m["conversationId"], conversation.as_str());
    assert_eq!(m["senderId"], "alice");
    assert_eq!(m["senderType"], "User");
    assert_eq!(
        m["blocks"],
        json!([{"$type": "text", "format": "Plain", "content": "Xin chào!", "plainText": null}])
    );
    assert_eq!(m["plainTextIndex"], "Xin chào!");
    assert_eq!(m["isEdited"], false);
    assert_eq!(m["isDeleted"], false);
    for empty in [
        "replyToMessageId",
        "quickReplies",
        "editedAt",
        "deletedAt",
        "reactionSummary",
        "mentions",
        "clientMessageId",
        "systemEvent",
    ] {
        assert!(m[empty].is_null(), "`{empty}` should be null: {m}");
    }
    assert_timestamp(&m["createdAt"]);
    assert_timestamp(&m["updatedAt"]);

    // What was answered is what is stored.
    assert_eq!(fetch_message(&server, &alice, &id_of(&m)).await, m);
}

#[tokio::test]
async fn all_fourteen_block_types_round_trip_with_omitted_nullable_fields_written_as_null() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;

    let sent = json!([
        {"$type": "text", "format": "Markdown", "content": "**Hello** _world_"},
        {"$type": "image", "source": {"storageKey": "uploads/a.jpg"}},
        {"$type": "video", "source": {"url": "https://cdn.example.com/v.mp4"}},
        {"$type": "audio", "source": {"storageKey": "uploads/a.ogg"}},
        {"$type": "file", "source": {"storageKey": "uploads/r.pdf"}, "fileName": "r.pdf"},
        {"$type": "linkPreview", "url": "https://example.com/post"},
        {"$type": "embed", "url": "https://example.com/embed"},
        {"$type": "location", "latitude": 10.7769, "longitude": 106.7009},
        {"$type": "contact", "displayName": "Nguyễn An"},
        {"$type": "choice", "prompt": "Size?", "options": [{"label": "Small", "value": "s"}], "mode": "Single"},
        {"$type": "card", "title": "Order #7", "buttons": [{"label": "Open", "action": "Url"}]},
        {"$type": "carousel", "cards": [{"$type": "card", "title": "One"}, {"$type": "card", "title": "Two"}]},
        {"$type": "divider"},
        {"$type": "custom", "type": "order"}
    ]);
    let expected = json!([
        {"$type": "text", "format": "Markdown", "content": "**Hello** _world_", "plainText": null},
        {"$type": "image", "source": {"storageKey": "uploads/a.jpg"}, "thumbnail": null, "altText": null,
         "width": null, "height": null, "caption": null, "fileSizeBytes": null},
        {"$type": "video", "source": {"url": "https://cdn.example.com/v.mp4"}, "thumbnail": null,
         "caption": null, "durationSeconds": null, "mimeType": null, "fileSizeBytes": null},
        {"$type": "audio", "source": {"storageKey": "uploads/a.ogg"}, "durationSeconds": null,
         "mimeType": null, "transcript": null, "fileSizeBytes": null},
        {"$type": "file", "source": {"storageKey": "uploads/r.pdf"}, "fileName": "r.pdf", "mimeType": null,
         "fileSizeBytes": null},
        {"$type": "linkPreview", "url": "https://example.com/post", "title": null, "description": null,
         "image": null, "siteName": null},
        {"$type": "embed", "url": "https://example.com/embed", "html": null, "width": null, "height": null},
        {"$type": "location", "latitude": 10.7769, "longitude": 106.7009, "name": null, "address": null},
        {"$type": "contact", "displayName": "Nguyễn An", "phone": null, "email": null, "organization": null},
        {"$type": "choice", "prompt": "Size?", "options": [{"label": "Small", "value": "s", "selected": false}],
         "mode": "Single", "submitted": false},
        {"$type": "card", "title": "Order #7", "subtitle": null, "image": null, "fields": null,
         "buttons": [{"label": "Open", "action": "Url", "value": null, "style": "Default"}]},
        {"$type": "carousel", "cards": [
            {"$type": "card", "title": "One", "subtitle": null, "image": null, "fields": null, "buttons": null},
            {"$type": "card", "title": "Two", "subtitle": null, "image": null, "fields": null, "buttons": null}
        ]},
        {"$type": "divider"},
        {"$type": "custom", "type": "order", "data": null}
    ]);

    let m = send(&server, &alice, &conversation, json!({"blocks": sent})).await;
    assert_eq!(without_added_urls(m["blocks"].clone()), expected);
    // The other participant reads the same blocks, by id and in history.
    let read = fetch_message(&server, &bob, &id_of(&m)).await;
    assert_eq!(without_added_urls(read["blocks"].clone()), expected);
    let history = get_ok(&server, &messages_path(&conversation), &bob).await;
    assert_eq!(without_added_urls(history["items"][0]["blocks"].clone()), expected);
}

#[tokio::test]
async fn fully_populated_blocks_come_back_unchanged() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;

    let blocks = json!([
        {"$type": "text", "format": "Html", "content": "<p>Hi <b>there</b></p>", "plainText": "Hi there"},
        {"$type": "image", "source": {"storageKey": "uploads/cat.jpg"}, "thumbnail": {"storageKey": "uploads/cat.t.jpg"},
         "altText": "a cat", "width": 1920, "height": 1080, "caption": "Cat", "fileSizeBytes": 204800},
        {"$type": "video", "source": {"url": "https://cdn.example.com/v.mp4"},
         "thumbnail": {"url": "https://cdn.example.com/v.jpg"}, "caption": "Clip", "durationSeconds": 12.5,
         "mimeType": "video/mp4", "fileSizeBytes": 4096},
        {"$type": "audio", "source": {"url": "https://cdn.example.com/a.mp3"}, "durationSeconds": 3.25,
         "mimeType": "audio/mpeg", "transcript": "hello", "fileSizeBytes": 999},
        {"$type": "file", "source": {"url": "https://files.example.com/report.pdf"}, "fileName": "report.pdf",
         "mimeType": "application/pdf", "fileSizeBytes": 1048576},
        {"$type": "linkPreview", "url": "https://example.com/post", "title": "Post", "description": "A post",
         "image": {"url": "https://example.com/og.png"}, "siteName": "Example"},
        {"$type": "embed", "url": "https://example.com/e", "html": "<iframe src=\"https://example.com/e\"></iframe>",
         "width": 640, "height": 360},
        {"$type": "location", "latitude": -33.8688, "longitude": 151.2093, "name": "Sydney", "address": "NSW"},
        {"$type": "contact", "displayName": "An", "phone": "+84 90 000 0000", "email": "an@example.com",
         "organization": "Tomato"},
        {"$type": "choice", "prompt": "Pick", "options": [
            {"label": "A", "value": "a", "selected": true}, {"label": "B", "value": "b", "selected": false}
         ], "mode": "Multiple", "submitted": true},
        {"$type": "card", "title": "T", "subtitle": "S", "image": {"url": "https://example.com/c.png"},
         "fields": [{"label": "Total", "value": "7"}],
         "buttons": [{"label": "Call", "action": "Call", "value": "+840", "style": "Danger"}]},
        {"$type": "carousel", "cards": [
            {"$type": "card", "title": "1", "subtitle": null, "image": null, "fields": null,
             "buttons": [{"label": "Go", "action": "Postback", "value": "go", "style": "Primary"}]}
        ]},
        {"$type": "divider"},
        {"$type": "custom", "type": "order", "data": {"id": 7, "items": ["x", "y"], "paid": true}}
    ]);

    let m = send(&server, &alice, &conversation, json!({"blocks": blocks})).await;
    assert_eq!(without_added_urls(m["blocks"].clone()), blocks);
    let read = fetch_message(&server, &bob, &id_of(&m)).await;
    assert_eq!(without_added_urls(read["blocks"].clone()), blocks);
}

#[tokio::test]
async fn an_external_media_url_is_stored_and_returned_as_given() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let url = "https://cdn.example.com/photos/2026/a%20b.jpg?w=640&sig=xyz";

    let m = send(
        &server,
        &alice,
        &conversation,
        json!({"blocks": [{"$type": "image", "source": {"url": url}, "thumbnail": {"url": url}}]}),
    )
    .await;
    assert_eq!(m["blocks"][0]["source"], json!({"url": url}));
    assert_eq!(m["blocks"][0]["thumbnail"], json!({"url": url}));
    let read = fetch_message(&server, &bob, &id_of(&m)).await;
    assert_eq!(read["blocks"][0]["source"], json!({"url": url}));
}

#[tokio::test]
async fn plain_text_index_is_derived_from_the_blocks() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let index_of = |blocks: Value| {
        let server = &server;
        let alice = &alice;
        let conversation = &conversation;
        async move { send(server, alice, conversation, json!({"blocks": blocks})).await["plainTextIndex"].clone() }
    };

    // Text content when no plainText is given; the given plainText wins over markup.
    assert_eq!(
        index_of(json!([{"$type": "text", "format": "Plain", "content": "hello there"}])).await,
        "hello there"
    );
    assert_eq!(
        index_of(
            json!([{"$type": "text", "format": "Markdown", "content": "**bold**", "plainText": "bold"}])
        )
        .await,
        "bold"
    );
    // HTML is indexed without its tags.
    let html =
        index_of(json!([{"$type": "text", "format": "Html", "content": "<p>Hi <b>you</b></p>"}])).await;
    assert_eq!(html, "Hi you");
    // Captions and file names are searchable too; every part on its own line.
    assert_eq!(
        index_of(json!([
            {"$type": "text", "format": "Plain", "content": "see this"},
            {"$type": "image", "source": {"storageKey": "k/a.jpg"}, "caption": "a cat"},
            {"$type": "file", "source": {"storageKey": "k/r.pdf"}, "fileName": "report.pdf"}
        ]))
        .await,
        "see this\na cat\nreport.pdf"
    );
    // Nothing textual: no index.
    assert!(index_of(json!([{"$type": "divider"}])).await.is_null());
}

#[tokio::test]
async fn a_reply_names_a_message_of_the_same_conversation() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let elsewhere = server.conversation(&alice, &[]).await;
    let original = id_of(&server.say(&bob, &conversation, "question?").await);
    let foreign = id_of(&server.say(&alice, &elsewhere, "other room").await);

    let mut body = text_message("answer");
    body["replyToMessageId"] = json!(original);
    let reply = send(&server, &alice, &conversation, body).await;
    assert_eq!(reply["replyToMessageId"], original.as_str());

    // A message of another conversation, or one that does not exist, is not a reply target.
    for target in [foreign.as_str(), "01JZZZZZZZZZZZZZZZZZZZZZZZ"] {
        let mut body = text_message("answer");
        body["replyToMessageId"] = json!(target);
        let p = server.post(&messages_path(&conversation), &alice, body).await.problem(400, "Validation");
        assert_eq!(p["errors"][0]["code"], "replyToMessageId", "{p}");
    }
    // Neither attempt was stored.
    let history = get_ok(&server, &messages_path(&conversation), &alice).await;
    assert_eq!(ids_of(&history).len(), 2);
}

#[tokio::test]
async fn mentions_quick_replies_and_client_message_id_are_stored() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;

    let body = json!({
        "blocks": [{"$type": "text", "format": "Plain", "content": "@Bob and @all, pick one"}],
        "mentions": [
            {"type": "User", "targetId": "bob", "displayName": "Bob", "offset": 0, "length": 4},
            {"type": "All", "displayName": "all"}
        ],
        "quickReplies": [
            {"label": "Yes", "action": "SendText", "value": "yes", "icon": "https://example.com/y.png"},
            {"label": "Docs", "action": "Url", "value": "https://example.com"},
            {"label": "Later", "action": "Postback"}
        ],
        "clientMessageId": "local-uuid-1234"
    });
    let m = send(&server, &alice, &conversation, body).await;
    let mentions = json!([
        {"type": "User", "targetId": "bob", "displayName": "Bob", "offset": 0, "length": 4},
        {"type": "All", "targetId": null, "displayName": "all", "offset": null, "length": null}
    ]);
    let quick_replies = json!([
        {"label": "Yes", "action": "SendText", "value": "yes", "icon": "https://example.com/y.png"},
        {"label": "Docs", "action": "Url", "value": "https://example.com", "icon": null},
        {"label": "Later", "action": "Postback", "value": null, "icon": null}
    ]);
    assert_eq!(m["mentions"], mentions);
    assert_eq!(m["quickReplies"], quick_replies);
    assert_eq!(m["clientMessageId"], "local-uuid-1234");

    let read = fetch_message(&server, &bob, &id_of(&m)).await;
    assert_eq!(read["mentions"], mentions);
    assert_eq!(read["quickReplies"], quick_replies);
    assert_eq!(read["clientMessageId"], "local-uuid-1234");
}

#[tokio::test]
async fn a_non_participant_may_not_send() {
    let server = TestServer::start();
    let (_alice, _bob, carol, conversation) = alice_bob_and_outsider(&server).await;

    server
        .post(&messages_path(&conversation), &carol, text_message("let me in"))
        .await
        .problem(403, "Forbidden");
}

#[tokio::test]
async fn sending_to_an_unknown_conversation_is_not_found() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;

    server
        .post(&messages_path("01JZZZZZZZZZZZZZZZZZZZZZZZ"), &alice, text_message("anyone?"))
        .await
        .problem(404, "NotFound");
}

#[tokio::test]
async fn a_body_that_does_not_fit_is_a_validation_error() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let path = messages_path(&conversation);

    for body in [
        json!({}),
        json!({"blocks": []}),
        json!({"blocks": [{"$type": "sticker", "id": "x"}]}),
        json!({"blocks": [{"$type": "text", "content": "no format"}]}),
        json!({"blocks": [{"$type": "text", "format": "Plain", "content": "   "}]}),
        json!({"blocks": [{"$type": "image", "source": {}}]}),
        json!({"blocks": [{"$type": "location", "latitude": 91.0, "longitude": 0.0}]}),
        json!({"blocks": [{"$type": "text", "format": "Plain", "content": "x"}], "clientMessageId": "x".repeat(129)}),
        json!({"blocks": [{"$type": "text", "format": "Plain", "content": "x"}],
               "mentions": [{"type": "User", "displayName": "nobody"}]}),
    ] {
        let r = server.post(&path, &alice, body.clone()).await;
        assert_eq!(r.status, 400, "{body} answered {}", r.text());
        r.problem(400, "Validation");
    }
    server.post_raw(&path, &alice, b"{not json").await.problem(400, "Validation");
    let history = get_ok(&server, &path, &alice).await;
    assert!(ids_of(&history).is_empty(), "nothing was stored: {history}");
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn history_is_newest_first_by_default() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let sent = say_many(&server, &alice, &conversation, "m", 5).await;

    let page = get_ok(&server, &messages_path(&conversation), &bob).await;
    assert_eq!(ids_of(&page), reverse(&sent));
    assert_eq!(page["hasMore"], false);
    assert!(page["nextCursor"].is_null());
    for m in page["items"].as_array().unwrap() {
        assert_message_shape(m);
    }
    // `direction=older` is the default spelled out.
    let older = get_ok(&server, &format!("{}?direction=older", messages_path(&conversation)), &bob).await;
    assert_eq!(ids_of(&older), reverse(&sent));
}

#[tokio::test]
async fn history_limit_cuts_the_newest_page_and_says_there_is_more() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let sent = say_many(&server, &alice, &conversation, "m", 5).await;

    let page = get_ok(&server, &format!("{}?limit=2", messages_path(&conversation)), &alice).await;
    assert_eq!(ids_of(&page), vec![sent[4].clone(), sent[3].clone()]);
    assert_eq!(page["hasMore"], true);
    assert_eq!(page["nextCursor"], sent[3].as_str());

    // Older than the cursor: what came before it, newest first.
    let path = format!("{}?limit=2&cursor={}", messages_path(&conversation), sent[3]);
    let next = get_ok(&server, &path, &alice).await;
    assert_eq!(ids_of(&next), vec![sent[2].clone(), sent[1].clone()]);
    assert_eq!(next["hasMore"], true);

    // Exactly `limit` left: no phantom further page.
    let path = format!("{}?limit=1&cursor={}", messages_path(&conversation), sent[1]);
    let last = get_ok(&server, &path, &alice).await;
    assert_eq!(ids_of(&last), vec![sent[0].clone()]);
    assert_eq!(last["hasMore"], false);
    assert!(last["nextCursor"].is_null());
}

#[tokio::test]
async fn history_pages_hold_50_messages_by_default() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let sent = say_many(&server, &alice, &conversation, "m", 51).await;

    let page = get_ok(&server, &messages_path(&conversation), &alice).await;
    assert_eq!(ids_of(&page), reverse(&sent[1..]));
    assert_eq!(page["hasMore"], true);
    assert_eq!(page["nextCursor"], sent[1].as_str());
}

#[tokio::test]
async fn history_newer_without_a_cursor_starts_at_the_oldest_message() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let sent = say_many(&server, &alice, &conversation, "m", 5).await;

    let page =
        get_ok(&server, &format!("{}?direction=newer&limit=3", messages_path(&conversation)), &alice).await;
    assert_eq!(ids_of(&page), sent[..3].to_vec());
    assert_eq!(page["hasMore"], true);
    assert_eq!(page["nextCursor"], sent[2].as_str());
}

#[tokio::test]
async fn history_newer_from_a_known_message_returns_exactly_what_came_after_it() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let before = say_many(&server, &alice, &conversation, "seen", 4).await;
    let last_seen = before.last().unwrap().clone();
    // What a client missed while disconnected.
    let mut missed = say_many(&server, &bob, &conversation, "missed", 3).await;
    missed.extend(say_many(&server, &alice, &conversation, "also", 2).await);

    let path = format!("{}?direction=newer&cursor={last_seen}", messages_path(&conversation));
    let page = get_ok(&server, &path, &alice).await;
    assert_eq!(ids_of(&page), missed, "oldest first, nothing before or at the cursor");
    assert_eq!(page["hasMore"], false);
    assert!(page["nextCursor"].is_null());

    // From the newest message there is nothing newer.
    let path = format!("{}?direction=newer&cursor={}", messages_path(&conversation), missed.last().unwrap());
    let empty = get_ok(&server, &path, &alice).await;
    assert!(ids_of(&empty).is_empty());
    assert_eq!(empty["hasMore"], false);
}

#[tokio::test]
async fn paging_older_visits_every_message_once_newest_first() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let mut sent = say_many(&server, &alice, &conversation, "a", 12).await;
    sent.extend(say_many(&server, &bob, &conversation, "b", 11).await);

    let (seen, pages) = walk_history(&server, &bob, &conversation, "older", 5).await;
    assert_eq!(seen, reverse(&sent));
    assert_eq!(pages, 5);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23, "no duplicates");
}

#[tokio::test]
async fn paging_newer_visits_every_message_once_oldest_first() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let mut sent = say_many(&server, &alice, &conversation, "a", 10).await;
    sent.extend(say_many(&server, &bob, &conversation, "b", 10).await);

    // 20 messages in pages of 4: five full pages, the fifth already saying there is no more.
    let (seen, pages) = walk_history(&server, &alice, &conversation, "newer", 4).await;
    assert_eq!(seen, sent);
    assert_eq!(pages, 5);
}

#[tokio::test]
async fn a_cursor_from_another_conversation_or_garbage_is_a_validation_error() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let elsewhere = server.conversation(&alice, &[]).await;
    say_many(&server, &alice, &conversation, "m", 2).await;
    let foreign = id_of(&server.say(&alice, &elsewhere, "other").await);

    for cursor in
        [foreign.as_str(), "garbage", "12345_01JZZZZZZZZZZZZZZZZZZZZZZZ", "01JZZZZZZZZZZZZZZZZZZZZZZZ"]
    {
        for direction in ["older", "newer"] {
            let path =
                format!("{}?direction={direction}&cursor={}", messages_path(&conversation), encode(cursor));
            let p = server.get(&path, &alice).await.problem(400, "Validation");
            assert_eq!(p["errors"][0]["code"], "cursor", "{cursor}: {p}");
        }
    }
}

#[tokio::test]
async fn history_rejects_a_bad_direction_or_limit() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    server.say(&alice, &conversation, "hi").await;

    for query in ["direction=sideways", "direction=", "limit=0", "limit=101", "limit=ten", "limit=-1"] {
        let r = server.get(&format!("{}?{query}", messages_path(&conversation)), &alice).await;
        assert_eq!(r.status, 400, "{query} answered {}", r.text());
        r.problem(400, "Validation");
    }
    let full = get_ok(&server, &format!("{}?limit=100", messages_path(&conversation)), &alice).await;
    assert_eq!(ids_of(&full).len(), 1);
}

#[tokio::test]
async fn membership_changes_appear_in_history_as_system_messages() {
    let server = TestServer::start();
    let (alice, _bob, carol, conversation) = alice_bob_and_outsider(&server).await;
    server.say(&alice, &conversation, "welcome soon").await;
    let r = server
        .post(
            &format!("/api/conversations/{conversation}/participants"),
            &alice,
            json!({"participantId": "carol"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());

    // Carol joins at the end of the log and sees the message that records her joining.
    let page = get_ok(&server, &messages_path(&conversation), &carol).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let system = &page["items"][0];
    assert_message_shape(system);
    assert_eq!(system["senderType"], "System");
    assert_eq!(system["blocks"], json!([]));
    assert_eq!(system["systemEvent"]["type"], "MemberAdded");
    assert_eq!(system["systemEvent"]["actorId"], "alice");
    assert_eq!(system["systemEvent"]["targetIds"], json!(["carol"]));
    assert!(system["systemEvent"].get("metadata").is_some(), "{system}");
    // Nobody edits or deletes what the server wrote.
    server
        .put(&message_path(&id_of(system)), &alice, text_message("rewrite"))
        .await
        .problem(403, "Forbidden");
    server.delete(&message_path(&id_of(system)), &carol).await.problem(403, "Forbidden");
}

#[tokio::test]
async fn history_is_forbidden_to_non_participants_and_missing_for_unknown_conversations() {
    let server = TestServer::start();
    let (alice, _bob, carol, conversation) = alice_bob_and_outsider(&server).await;
    server.say(&alice, &conversation, "private").await;

    server.get(&messages_path(&conversation), &carol).await.problem(403, "Forbidden");
    server.get(&messages_path("01JZZZZZZZZZZZZZZZZZZZZZZZ"), &alice).await.problem(404, "NotFound");
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

async fn search(server: &TestServer, token: &str, conversation: &str, q: &str) -> Value {
    let path = format!("{}/search?q={}", messages_path(conversation), encode(q));
    let found = get_ok(server, &path, token).await;
    assert!(found.is_array(), "search answers a plain array: {found}");
    found
}

#[tokio::test]
async fn search_matches_every_word_and_a_prefix_of_the_last_one() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    server.say(&alice, &conversation, "the quick brown fox").await;
    server.say(&bob, &conversation, "quick thinking").await;
    server.say(&alice, &conversation, "brown bread").await;

    // Newest first.
    assert_eq!(
        contents_of(&search(&server, &bob, &conversation, "quick").await),
        ["quick thinking", "the quick brown fox"]
    );
    assert_eq!(
        contents_of(&search(&server, &bob, &conversation, "QUICK").await).len(),
        2,
        "case-insensitive"
    );
    assert_eq!(
        contents_of(&search(&server, &bob, &conversation, "qui").await).len(),
        2,
        "last word as a prefix"
    );
    assert_eq!(contents_of(&search(&server, &bob, &conversation, "brown fo").await), ["the quick brown fox"]);
    assert_eq!(
        contents_of(&search(&server, &bob, &conversation, "fox quick").await),
        ["the quick brown fox"]
    );
    assert!(
        contents_of(&search(&server, &bob, &conversation, "quick bread").await).is_empty(),
        "all words required"
    );
    assert!(contents_of(&search(&server, &bob, &conversation, "zebra").await).is_empty());

    let found = search(&server, &bob, &conversation, "bread").await;
    assert_message_shape(&found[0]);
    assert_eq!(found[0]["senderId"], "alice");
}

#[tokio::test]
async fn search_ignores_diacritics() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    server.say(&alice, &conversation, "Xin chào các bạn").await;
    server.say(&bob, &conversation, "hen gap lai").await;

    assert_eq!(contents_of(&search(&server, &bob, &conversation, "chao").await), ["Xin chào các bạn"]);
    assert_eq!(contents_of(&search(&server, &bob, &conversation, "cac ban").await), ["Xin chào các bạn"]);
    assert_eq!(contents_of(&search(&server, &bob, &conversation, "chào").await), ["Xin chào các bạn"]);
    // And the other way round: a query with marks finds text written without them.
    assert_eq!(contents_of(&search(&server, &bob, &conversation, "hẹn gặp lại").await), ["hen gap lai"]);
}

#[tokio::test]
async fn search_leaves_out_deleted_messages_and_other_conversations() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let elsewhere = server.conversation(&alice, &["bob"]).await;
    let kept = id_of(&server.say(&alice, &conversation, "invoice 1 paid").await);
    let removed = id_of(&server.say(&alice, &conversation, "invoice 2 paid").await);
    server.say(&alice, &elsewhere, "invoice 3 paid").await;
    assert_eq!(server.delete(&message_path(&removed), &alice).await.status, 200);

    let found = search(&server, &bob, &conversation, "invoice").await;
    assert_eq!(ids_of(&json!({"items": found})), vec![kept.clone()]);

    // A recovered message is found again.
    assert_eq!(
        server.post(&format!("{}/recover", message_path(&removed)), &alice, json!({})).await.status,
        204
    );
    let found = search(&server, &bob, &conversation, "invoice").await;
    assert_eq!(ids_of(&json!({"items": found})), vec![removed, kept]);
}

#[tokio::test]
async fn search_finds_the_edited_text_not_the_original() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "meet at noon").await);

    let r = server.put(&message_path(&id), &alice, text_message("meet at midnight")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(search(&server, &alice, &conversation, "noon").await.as_array().unwrap().is_empty());
    assert_eq!(contents_of(&search(&server, &alice, &conversation, "midnight").await), ["meet at midnight"]);
}

#[tokio::test]
async fn search_queries_with_fts_operator_characters_are_answered_not_failed() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    server.say(&alice, &conversation, "a OR b and NEAR things: (x) ^y \"quoted\" -minus col:val").await;

    for q in [
        "\"",
        "\"unbalanced",
        "a\" OR b*",
        "*",
        "OR",
        "AND NOT",
        "NEAR(",
        "NEAR(a b, 2)",
        "(x",
        "^y",
        "-minus",
        "col:val",
        "{a b}",
        "plain_text:things",
        "a + b",
        "'; DROP TABLE messages; --",
    ] {
        let path = format!("{}/search?q={}", messages_path(&conversation), encode(q));
        let r = server.get(&path, &alice).await;
        assert_eq!(r.status, 200, "q={q:?} answered {}", r.text());
        assert!(r.json().is_array(), "q={q:?}: {}", r.text());
    }
    // Operator words are searched as words.
    assert_eq!(search(&server, &alice, &conversation, "NEAR things").await.as_array().unwrap().len(), 1);
    // The store survived every query.
    assert_eq!(search(&server, &alice, &conversation, "quoted").await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn search_answers_at_most_20_messages_by_default() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let sent = say_many(&server, &alice, &conversation, "match ", 21).await;

    let found = search(&server, &alice, &conversation, "match").await;
    assert_eq!(ids_of(&json!({"items": found})), reverse(&sent[1..]));
}

#[tokio::test]
async fn search_validates_its_query_and_limit_and_checks_membership() {
    let server = TestServer::start();
    let (alice, _bob, carol, conversation) = alice_bob_and_outsider(&server).await;
    for n in 0..4 {
        server.say(&alice, &conversation, &format!("report {n}")).await;
    }
    let base = format!("{}/search", messages_path(&conversation));

    let limited = get_ok(&server, &format!("{base}?q=report&limit=2"), &alice).await;
    assert_eq!(contents_of(&limited), ["report 3", "report 2"]);
    for query in ["", "?q=", "?q=%20%20", "?q=report&limit=0", "?q=report&limit=101"] {
        let r = server.get(&format!("{base}{query}"), &alice).await;
        assert_eq!(r.status, 400, "{query} answered {}", r.text());
        r.problem(400, "Validation");
    }
    server.get(&format!("{base}?q={}", "x".repeat(201)), &alice).await.problem(400, "Validation");
    server.get(&format!("{base}?q=report"), &carol).await.problem(403, "Forbidden");
}

// ---------------------------------------------------------------------------------------------
// One message: read and edit
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_message_is_read_by_id_by_participants_only() {
    let server = TestServer::start();
    let (alice, bob, carol, conversation) = alice_bob_and_outsider(&server).await;
    let sent = server.say(&alice, &conversation, "hello").await;
    let id = id_of(&sent);

    let read = fetch_message(&server, &bob, &id).await;
    assert_message_shape(&read);
    assert_eq!(read, sent);
    server.get(&message_path(&id), &carol).await.problem(403, "Forbidden");
    server.get(&message_path("01JZZZZZZZZZZZZZZZZZZZZZZZ"), &alice).await.problem(404, "NotFound");
}

#[tokio::test]
async fn the_sender_edits_a_message() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let sent = server.say(&alice, &conversation, "first draft").await;
    let id = id_of(&sent);

    let r = server
        .put(
            &message_path(&id),
            &alice,
            json!({"blocks": [{"$type": "text", "format": "Plain", "content": "final"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let edited = r.json();
    assert_message_shape(&edited);
    assert_eq!(edited["id"], id.as_str());
    assert_eq!(edited["isEdited"], true);
    assert_timestamp(&edited["editedAt"]);
    assert!(edited["editedAt"].as_str() >= sent["createdAt"].as_str());
    assert_eq!(edited["blocks"][0]["content"], "final");
    assert_eq!(edited["plainTextIndex"], "final");
    assert_eq!(edited["createdAt"], sent["createdAt"], "an edit keeps the message's place");

    let read = fetch_message(&server, &bob, &id).await;
    assert_eq!(read, edited);
    let history = get_ok(&server, &messages_path(&conversation), &bob).await;
    assert_eq!(history["items"][0], edited);
}

#[tokio::test]
async fn only_the_sender_may_edit() {
    let server = TestServer::start();
    let (alice, bob, carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "mine").await);

    server.put(&message_path(&id), &bob, text_message("hijacked")).await.problem(403, "Forbidden");
    server.put(&message_path(&id), &carol, text_message("hijacked")).await.problem(403, "Forbidden");
    server
        .put(&message_path("01JZZZZZZZZZZZZZZZZZZZZZZZ"), &alice, text_message("ghost"))
        .await
        .problem(404, "NotFound");
    server.put(&message_path(&id), &alice, json!({"blocks": []})).await.problem(400, "Validation");

    let read = fetch_message(&server, &alice, &id).await;
    assert_eq!(read["blocks"][0]["content"], "mine");
    assert_eq!(read["isEdited"], false);
    assert!(read["editedAt"].is_null());
}

#[tokio::test]
async fn an_edit_keeps_the_reply_when_absent_and_clears_it_when_null() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let elsewhere = server.conversation(&alice, &[]).await;
    let question = id_of(&server.say(&bob, &conversation, "question?").await);
    let other = id_of(&server.say(&bob, &conversation, "another question?").await);
    let foreign = id_of(&server.say(&alice, &elsewhere, "elsewhere").await);
    let mention =
        json!([{"type": "User", "targetId": "bob", "displayName": "Bob", "offset": 0, "length": 4}]);
    let mut body = text_message("@Bob answer");
    body["replyToMessageId"] = json!(question);
    body["mentions"] = mention.clone();
    let id = id_of(&send(&server, &alice, &conversation, body).await);

    // Absent: the reply reference and mentions stay.
    let kept = server.put(&message_path(&id), &alice, text_message("@Bob answer, edited")).await.json();
    assert_eq!(kept["replyToMessageId"], question.as_str(), "{kept}");
    assert_eq!(kept["mentions"], mention);

    // Another message of the conversation: the reference moves.
    let moved = server
        .put(
            &message_path(&id),
            &alice,
            json!({"blocks": text_message("x")["blocks"], "replyToMessageId": other}),
        )
        .await
        .json();
    assert_eq!(moved["replyToMessageId"], other.as_str(), "{moved}");

    // A message of another conversation: refused, nothing changes.
    let body = json!({"blocks": text_message("y")["blocks"], "replyToMessageId": foreign});
    server.put(&message_path(&id), &alice, body).await.problem(400, "Validation");
    assert_eq!(fetch_message(&server, &alice, &id).await["replyToMessageId"], other.as_str());

    // null: cleared.
    let body = json!({"blocks": text_message("z")["blocks"], "replyToMessageId": null, "mentions": []});
    let cleared = server.put(&message_path(&id), &alice, body).await.json();
    assert!(cleared["replyToMessageId"].is_null(), "{cleared}");
    assert_eq!(cleared["mentions"], json!([]));
    assert!(fetch_message(&server, &bob, &id).await["replyToMessageId"].is_null());
}

#[tokio::test]
async fn editing_a_deleted_message_is_a_conflict() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "oops").await);
    assert_eq!(server.delete(&message_path(&id), &alice).await.status, 200);

    server.put(&message_path(&id), &alice, text_message("revived?")).await.problem(409, "Conflict");
    let read = fetch_message(&server, &alice, &id).await;
    assert_eq!(read["isDeleted"], true);
    assert_eq!(read["isEdited"], false);
}

// ---------------------------------------------------------------------------------------------
// Delete and recover
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn delete_is_soft_and_answers_the_message_id_and_deletion_time() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let before = id_of(&server.say(&bob, &conversation, "before").await);
    let mut body = text_message("secret @Bob");
    body["mentions"] = json!([{"type": "User", "targetId": "bob", "displayName": "Bob"}]);
    body["quickReplies"] = json!([{"label": "Ok", "action": "SendText"}]);
    let id = id_of(&send(&server, &alice, &conversation, body).await);
    let after = id_of(&server.say(&bob, &conversation, "after").await);

    let r = server.delete(&message_path(&id), &alice).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    assert_eq!(answer["messageId"], id.as_str());
    assert_timestamp(&answer["deletedAt"]);

    // The message keeps its place in the log, marked deleted and without content.
    let history = get_ok(&server, &messages_path(&conversation), &bob).await;
    assert_eq!(ids_of(&history), vec![after, id.clone(), before]);
    let shown = &history["items"][1];
    assert_message_shape(shown);
    assert_eq!(shown["isDeleted"], true);
    assert_eq!(shown["deletedAt"], answer["deletedAt"]);
    assert_eq!(shown["blocks"], json!([]));
    assert!(shown["plainTextIndex"].is_null(), "{shown}");
    assert!(shown["mentions"].is_null(), "{shown}");
    assert!(shown["quickReplies"].is_null(), "{shown}");
    assert_eq!(&fetch_message(&server, &bob, &id).await, shown);
}

#[tokio::test]
async fn deleting_twice_answers_the_first_deletion_again() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "gone").await);

    let first = server.delete(&message_path(&id), &alice).await.json();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second = server.delete(&message_path(&id), &alice).await;
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.json(), first);
}

#[tokio::test]
async fn only_the_sender_may_delete() {
    let server = TestServer::start();
    let (alice, bob, carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "keep me").await);

    server.delete(&message_path(&id), &bob).await.problem(403, "Forbidden");
    server.delete(&message_path(&id), &carol).await.problem(403, "Forbidden");
    server.delete(&message_path("01JZZZZZZZZZZZZZZZZZZZZZZZ"), &alice).await.problem(404, "NotFound");
    let read = fetch_message(&server, &bob, &id).await;
    assert_eq!(read["isDeleted"], false);
    assert_eq!(read["blocks"][0]["content"], "keep me");
}

#[tokio::test]
async fn recover_brings_the_content_back() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let sent = server.say(&alice, &conversation, "undo me").await;
    let id = id_of(&sent);
    assert_eq!(server.delete(&message_path(&id), &alice).await.status, 200);

    // Another participant cannot undo the sender's delete.
    server.post(&format!("{}/recover", message_path(&id)), &bob, json!({})).await.problem(403, "Forbidden");

    let r = server.request("POST", &format!("{}/recover", message_path(&id)), Some(&alice), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    let read = fetch_message(&server, &bob, &id).await;
    assert_eq!(read["isDeleted"], false);
    assert!(read["deletedAt"].is_null());
    assert_eq!(read["blocks"], sent["blocks"]);
    assert_eq!(read["plainTextIndex"], "undo me");
}

#[tokio::test]
async fn recovering_a_message_that_is_not_deleted_is_a_conflict() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "alive").await);

    server.post(&format!("{}/recover", message_path(&id)), &alice, json!({})).await.problem(409, "Conflict");
    server
        .post("/api/messages/01JZZZZZZZZZZZZZZZZZZZZZZZ/recover", &alice, json!({}))
        .await
        .problem(404, "NotFound");
}

#[tokio::test]
async fn recovering_after_the_window_is_a_conflict() {
    let server = TestServer::start_with_config("[limits]\nrecover_window_ms = 2500\n");
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let quick = id_of(&server.say(&alice, &conversation, "quickly undone").await);
    let late = id_of(&server.say(&alice, &conversation, "undone too late").await);

    // Inside the window a recover works…
    assert_eq!(server.delete(&message_path(&quick), &alice).await.status, 200);
    assert_eq!(
        server.post(&format!("{}/recover", message_path(&quick)), &alice, json!({})).await.status,
        204
    );

    // …after it, it does not, and the message stays deleted.
    let deleted_at = server.delete(&message_path(&late), &alice).await.json()["deletedAt"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    let p = server
        .post(&format!("{}/recover", message_path(&late)), &alice, json!({}))
        .await
        .problem(409, "Conflict");
    assert_eq!(p["errors"][0]["code"], "Message.RecoverWindowExpired", "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains(deleted_at.as_str().unwrap()), "the detail says when it was deleted: {detail}");
    assert_eq!(fetch_message(&server, &alice, &late).await["isDeleted"], true);
}

#[tokio::test]
async fn the_expired_recover_detail_states_the_configured_window_truthfully() {
    let server = TestServer::start_with_config("[limits]\nrecover_window_ms = 2500\n");
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "too late").await);
    assert_eq!(server.delete(&message_path(&id), &alice).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;

    let p = server
        .post(&format!("{}/recover", message_path(&id)), &alice, json!({}))
        .await
        .problem(409, "Conflict");
    let detail = p["detail"].as_str().unwrap();
    // A 2.5 s window is not "0 minutes"; the detail must not tell the client recovery was never possible.
    assert!(!detail.contains(" 0 minutes"), "{detail}");
    assert!(
        ["2500 ms", "2500ms", "2.5 s", "2.5s", "2.5 seconds"].iter().any(|w| detail.contains(w)),
        "the detail names the 2.5 s window: {detail}"
    );
}

// ---------------------------------------------------------------------------------------------
// Reactions
// ---------------------------------------------------------------------------------------------

fn reactions_path(id: &str) -> String {
    format!("/api/messages/{id}/reactions")
}

fn group<'a>(message: &'a Value, emoji: &str) -> &'a Value {
    message["reactionSummary"]["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no reaction groups: {message}"))
        .iter()
        .find(|g| g["emoji"] == emoji)
        .unwrap_or_else(|| panic!("no {emoji} group: {message}"))
}

fn participant_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        group["participantIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn reacting_twice_with_the_same_emoji_is_a_conflict() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "nice").await);

    let r = server.post(&reactions_path(&id), &bob, json!({"emoji": "👍"})).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    server.post(&reactions_path(&id), &bob, json!({"emoji": "👍"})).await.problem(409, "Conflict");
    // The same emoji from someone else is a new reaction.
    assert_eq!(server.post(&reactions_path(&id), &alice, json!({"emoji": "👍"})).await.status, 204);
    assert_eq!(group(&fetch_message(&server, &alice, &id).await, "👍")["count"], 2);
}

#[tokio::test]
async fn the_reaction_summary_groups_reactions_by_emoji() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "party").await);
    assert!(fetch_message(&server, &alice, &id).await["reactionSummary"].is_null(), "no reactions: null");

    for (token, emoji) in [(&alice, "👍"), (&bob, "👍"), (&bob, "❤️"), (&bob, "🎉")] {
        assert_eq!(server.post(&reactions_path(&id), token, json!({"emoji": emoji})).await.status, 204);
    }

    let m = fetch_message(&server, &bob, &id).await;
    let summary = &m["reactionSummary"];
    assert_eq!(summary["totalCount"], 4, "{summary}");
    assert_eq!(summary["groups"].as_array().unwrap().len(), 3, "{summary}");
    assert_eq!(group(&m, "👍")["count"], 2);
    assert_eq!(participant_ids(group(&m, "👍")), ["alice", "bob"]);
    assert_eq!(group(&m, "❤️")["count"], 1);
    assert_eq!(participant_ids(group(&m, "❤️")), ["bob"]);
    assert_eq!(participant_ids(group(&m, "🎉")), ["bob"]);

    // History shows the same summary.
    let history = get_ok(&server, &messages_path(&conversation), &alice).await;
    assert_eq!(history["items"][0]["reactionSummary"], *summary);
}

#[tokio::test]
async fn removing_a_reaction_takes_the_percent_encoded_emoji() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "hello").await);
    for emoji in ["👍", "❤️"] {
        assert_eq!(server.post(&reactions_path(&id), &bob, json!({"emoji": emoji})).await.status, 204);
    }
    assert_eq!(server.post(&reactions_path(&id), &alice, json!({"emoji": "👍"})).await.status, 204);

    let r = server.delete(&format!("{}/{}", reactions_path(&id), encode("👍")), &bob).await;
    assert_eq!(r.status, 204, "{}", r.text());
    server.delete(&format!("{}/{}", reactions_path(&id), encode("👍")), &bob).await.problem(404, "NotFound");
    let m = fetch_message(&server, &bob, &id).await;
    assert_eq!(participant_ids(group(&m, "👍")), ["alice"], "only bob's reaction went");
    assert_eq!(m["reactionSummary"]["totalCount"], 2);

    // ❤️ is two code points (U+2764 U+FE0F); both must survive the round trip through the path.
    let r = server.delete(&format!("{}/{}", reactions_path(&id), encode("❤️")), &bob).await;
    assert_eq!(r.status, 204, "{}", r.text());
    server.delete(&format!("{}/{}", reactions_path(&id), encode("❤️")), &bob).await.problem(404, "NotFound");

    // Nobody can remove another participant's reaction.
    server.delete(&format!("{}/{}", reactions_path(&id), encode("👍")), &bob).await.problem(404, "NotFound");
    assert_eq!(server.delete(&format!("{}/{}", reactions_path(&id), encode("👍")), &alice).await.status, 204);
    assert!(fetch_message(&server, &alice, &id).await["reactionSummary"].is_null(), "back to no reactions");
}

#[tokio::test]
async fn compound_emoji_are_added_and_removed_intact() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "family news").await);
    // A ZWJ sequence, a flag (two regional indicators) and a skin-tone modifier.
    let emoji = ["👨‍👩‍👧‍👦", "🇻🇳", "👍🏽"];

    for e in emoji {
        assert_eq!(server.post(&reactions_path(&id), &bob, json!({"emoji": e})).await.status, 204, "{e}");
    }
    let m = fetch_message(&server, &alice, &id).await;
    for e in emoji {
        assert_eq!(participant_ids(group(&m, e)), ["bob"]);
    }
    for e in emoji {
        let r = server.delete(&format!("{}/{}", reactions_path(&id), encode(e)), &bob).await;
        assert_eq!(r.status, 204, "{e}: {}", r.text());
    }
    assert!(fetch_message(&server, &alice, &id).await["reactionSummary"].is_null());
}

#[tokio::test]
async fn concurrent_identical_reactions_are_counted_once() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "click fast").await);

    let path = reactions_path(&id);
    let statuses: Vec<u16> = futures::future::join_all(
        (0..8).map(|_| async { server.post(&path, &bob, json!({"emoji": "🔥"})).await.status }),
    )
    .await;
    assert_eq!(statuses.iter().filter(|s| **s == 204).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 7, "{statuses:?}");
    let m = fetch_message(&server, &alice, &id).await;
    assert_eq!(m["reactionSummary"]["totalCount"], 1);
    assert_eq!(participant_ids(group(&m, "🔥")), ["bob"]);
}

#[tokio::test]
async fn reactions_need_a_visible_undeleted_message_and_a_valid_emoji() {
    let server = TestServer::start();
    let (alice, bob, carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "react to me").await);

    server.post(&reactions_path(&id), &carol, json!({"emoji": "👍"})).await.problem(403, "Forbidden");
    server
        .post(&reactions_path("01JZZZZZZZZZZZZZZZZZZZZZZZ"), &bob, json!({"emoji": "👍"}))
        .await
        .problem(404, "NotFound");
    for body in [json!({}), json!({"emoji": ""}), json!({"emoji": "a b"}), json!({"emoji": 5})] {
        let r = server.post(&reactions_path(&id), &bob, body.clone()).await;
        assert_eq!(r.status, 400, "{body} answered {}", r.text());
        r.problem(400, "Validation");
    }

    assert_eq!(server.delete(&message_path(&id), &alice).await.status, 200);
    server.post(&reactions_path(&id), &bob, json!({"emoji": "👍"})).await.problem(409, "Conflict");
}

// ---------------------------------------------------------------------------------------------
// Media listing
// ---------------------------------------------------------------------------------------------

fn assert_media_shape(item: &Value) {
    for field in MEDIA_ITEM_FIELDS {
        assert!(item.get(field).is_some(), "ConversationMediaItemDto lacks `{field}`: {item}");
    }
}

/// Three messages holding every media block type, sent by Alice, Bob, Alice; returns their ids.
async fn send_media_messages(server: &TestServer, alice: &str, bob: &str, conversation: &str) -> [String; 3] {
    let photo = send(
        server,
        alice,
        conversation,
        json!({"blocks": [
            {"$type": "text", "format": "Plain", "content": "look"},
            {"$type": "image", "source": {"storageKey": "k/photo.jpg"}, "thumbnail": {"storageKey": "k/photo.t.jpg"},
             "altText": "a cat", "width": 640, "height": 480, "caption": "Cat", "fileSizeBytes": 1234}
        ]}),
    )
    .await;
    server.say(bob, conversation, "no media here").await;
    let files = send(
        server,
        bob,
        conversation,
        json!({"blocks": [
            {"$type": "file", "source": {"storageKey": "k/report.pdf"}, "fileName": "report.pdf",
             "mimeType": "application/pdf", "fileSizeBytes": 2048},
            {"$type": "audio", "source": {"storageKey": "k/voice.ogg"}, "durationSeconds": 3.5,
             "mimeType": "audio/ogg", "fileSizeBytes": 999}
        ]}),
    )
    .await;
    let links = send(
        server,
        alice,
        conversation,
        json!({"blocks": [
            {"$type": "linkPreview", "url": "https://example.com/post", "title": "Post", "description": "A post",
             "image": {"url": "https://example.com/og.png"}, "siteName": "Example"},
            {"$type": "video", "source": {"url": "https://cdn.example.com/clip.mp4"},
             "thumbnail": {"url": "https://cdn.example.com/clip.jpg"}, "caption": "Clip", "durationSeconds": 12.5,
             "mimeType": "video/mp4", "fileSizeBytes": 4096},
            {"$type": "divider"}
        ]}),
    )
    .await;
    [id_of(&photo), id_of(&files), id_of(&links)]
}

#[tokio::test]
async fn media_lists_attachments_and_links_newest_message_first() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let [photo, files, links] = send_media_messages(&server, &alice, &bob, &conversation).await;

    let page = get_ok(&server, &media_path(&conversation, ""), &bob).await;
    assert_eq!(page["hasMore"], false);
    assert!(page["nextCursor"].is_null());
    let items = page["items"].as_array().unwrap();
    let ids: Vec<String> = items.iter().map(id_of).collect();
    assert_eq!(
        ids,
        [
            format!("{links}#00"),
            format!("{links}#01"),
            format!("{files}#00"),
            format!("{files}#01"),
            format!("{photo}#01")
        ]
    );
    for item in items {
        assert_media_shape(item);
        assert_eq!(item["conversationId"], conversation.as_str());
        assert_timestamp(&item["createdAt"]);
    }
    let created_at = |id: &str| {
        let server = &server;
        let bob = &bob;
        let id = id.to_owned();
        async move { fetch_message(server, bob, &id).await["createdAt"].clone() }
    };

    let link = &items[0];
    assert_eq!(link["messageId"], links.as_str());
    assert_eq!(link["blockIndex"], 0);
    assert_eq!(link["senderId"], "alice");
    assert_eq!(link["senderType"], "User");
    assert_eq!(link["kind"], "Link");
    assert_eq!(link["blockType"], "LinkPreview");
    assert_eq!(link["createdAt"], created_at(&links).await);
    assert_eq!(link["url"], "https://example.com/post");
    assert!(link["storageKey"].is_null());
    assert_eq!(link["linkTitle"], "Post");
    assert_eq!(link["linkDescription"], "A post");
    assert_eq!(link["linkSiteName"], "Example");
    assert_eq!(link["linkImageUrl"], "https://example.com/og.png");
    assert!(link["linkImageStorageKey"].is_null());

    // A video at an outside address is a link.
    let video = &items[1];
    assert_eq!((video["kind"].as_str(), video["blockType"].as_str()), (Some("Link"), Some("Video")));
    assert_eq!(video["blockIndex"], 1);
    assert_eq!(video["url"], "https://cdn.example.com/clip.mp4");
    assert!(video["storageKey"].is_null());
    assert_eq!(video["caption"], "Clip");
    assert_eq!(video["durationSeconds"], 12.5);
    assert_eq!(video["mimeType"], "video/mp4");
    assert_eq!(video["fileSizeBytes"], 4096);
    assert_eq!(video["thumbnailUrl"], "https://cdn.example.com/clip.jpg");
    assert!(video["linkTitle"].is_null());

    let file = &items[2];
    assert_eq!((file["kind"].as_str(), file["blockType"].as_str()), (Some("Attachment"), Some("File")));
    assert_eq!(file["senderId"], "bob");
    assert_eq!(file["storageKey"], "k/report.pdf");
    assert!(file["url"].is_null());
    assert_eq!(file["fileName"], "report.pdf");
    assert_eq!(file["mimeType"], "application/pdf");
    assert_eq!(file["fileSizeBytes"], 2048);
    assert!(file["width"].is_null() && file["durationSeconds"].is_null() && file["caption"].is_null());

    let audio = &items[3];
    assert_eq!((audio["kind"].as_str(), audio["blockType"].as_str()), (Some("Attachment"), Some("Audio")));
    assert_eq!(audio["storageKey"], "k/voice.ogg");
    assert_eq!(audio["durationSeconds"], 3.5);
    assert_eq!(audio["mimeType"], "audio/ogg");
    assert_eq!(audio["fileSizeBytes"], 999);

    let image = &items[4];
    assert_eq!((image["kind"].as_str(), image["blockType"].as_str()), (Some("Attachment"), Some("Image")));
    assert_eq!(image["messageId"], photo.as_str());
    assert_eq!(image["blockIndex"], 1);
    assert_eq!(image["createdAt"], created_at(&photo).await);
    assert_eq!(image["storageKey"], "k/photo.jpg");
    assert_eq!((image["width"].as_u64(), image["height"].as_u64()), (Some(640), Some(480)));
    assert_eq!(image["caption"], "Cat");
    assert_eq!(image["altText"], "a cat");
    assert_eq!(image["fileSizeBytes"], 1234);
    assert_eq!(image["thumbnailStorageKey"], "k/photo.t.jpg");
    assert!(image["fileName"].is_null() && image["linkTitle"].is_null());
}

#[tokio::test]
async fn media_item_ids_pad_the_block_index_to_two_digits() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let mut blocks = vec![json!({"$type": "divider"}); 11];
    blocks.push(json!({"$type": "image", "source": {"storageKey": "k/late.jpg"}}));
    blocks.insert(
        3,
        json!({"$type": "file", "source": {"storageKey": "k/early.txt"}, "fileName": "early.txt"}),
    );
    let id = id_of(&send(&server, &alice, &conversation, json!({"blocks": blocks})).await);

    let page = get_ok(&server, &media_path(&conversation, ""), &alice).await;
    assert_eq!(ids_of(&page), [format!("{id}#03"), format!("{id}#12")]);
    assert_eq!(page["items"][1]["blockIndex"], 12);
}

#[tokio::test]
async fn media_kind_filters_attachments_or_links() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let [photo, files, links] = send_media_messages(&server, &alice, &bob, &conversation).await;

    let attachments = get_ok(&server, &media_path(&conversation, "?kind=attachment"), &alice).await;
    assert_eq!(ids_of(&attachments), [format!("{files}#00"), format!("{files}#01"), format!("{photo}#01")]);
    assert!(attachments["items"].as_array().unwrap().iter().all(|i| i["kind"] == "Attachment"));

    let links_only = get_ok(&server, &media_path(&conversation, "?kind=link"), &alice).await;
    assert_eq!(ids_of(&links_only), [format!("{links}#00"), format!("{links}#01")]);
    assert!(links_only["items"].as_array().unwrap().iter().all(|i| i["kind"] == "Link"));

    let all = get_ok(&server, &media_path(&conversation, "?kind=all"), &alice).await;
    assert_eq!(ids_of(&all).len(), 5);

    server.get(&media_path(&conversation, "?kind=photos"), &alice).await.problem(400, "Validation");
}

#[tokio::test]
async fn media_pages_through_every_item_once_with_the_cursor() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let mut expected = Vec::new();
    for n in 0..4 {
        let m = send(
            &server,
            &alice,
            &conversation,
            json!({"blocks": [
                {"$type": "image", "source": {"storageKey": format!("k/{n}a.jpg")}},
                {"$type": "image", "source": {"storageKey": format!("k/{n}b.jpg")}}
            ]}),
        )
        .await;
        expected.insert(0, format!("{}#01", id_of(&m)));
        expected.insert(0, format!("{}#00", id_of(&m)));
    }

    // Pages of 3 over 8 items: the cursor falls inside a message as well as between messages.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let query = match &cursor {
            None => "?limit=3".to_owned(),
            Some(c) => format!("?limit=3&cursor={}", encode(c)),
        };
        let page = get_ok(&server, &media_path(&conversation, &query), &alice).await;
        let ids = ids_of(&page);
        sizes.push(ids.len());
        seen.extend(ids);
        if page["hasMore"] == false {
            assert!(page["nextCursor"].is_null(), "{page}");
            break;
        }
        cursor = Some(page["nextCursor"].as_str().expect("a cursor while hasMore").to_owned());
        assert!(sizes.len() < 10, "paging does not end");
    }
    assert_eq!(seen, expected);
    assert_eq!(sizes, [3, 3, 2]);
}

#[tokio::test]
async fn media_pages_hold_50_items_by_default() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let images: Vec<Value> =
        (0..50).map(|n| json!({"$type": "image", "source": {"storageKey": format!("k/{n}.jpg")}})).collect();
    let older = id_of(&send(&server, &alice, &conversation, json!({"blocks": images})).await);
    let newer = id_of(
        &send(
            &server,
            &alice,
            &conversation,
            json!({"blocks": [{"$type": "image", "source": {"storageKey": "k/x.jpg"}}]}),
        )
        .await,
    );

    let page = get_ok(&server, &media_path(&conversation, ""), &alice).await;
    let ids = ids_of(&page);
    assert_eq!(ids.len(), 50);
    assert_eq!(ids[0], format!("{newer}#00"));
    assert_eq!(ids[49], format!("{older}#48"));
    assert_eq!(page["hasMore"], true);
    let rest = get_ok(
        &server,
        &media_path(&conversation, &format!("?cursor={}", encode(page["nextCursor"].as_str().unwrap()))),
        &alice,
    )
    .await;
    assert_eq!(ids_of(&rest), [format!("{older}#49")]);
    assert_eq!(rest["hasMore"], false);
}

#[tokio::test]
async fn media_rejects_a_limit_outside_1_to_100_and_a_bad_cursor() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    send(
        &server,
        &alice,
        &conversation,
        json!({"blocks": [{"$type": "image", "source": {"storageKey": "k/a.jpg"}}]}),
    )
    .await;

    for query in ["?limit=0", "?limit=101", "?limit=x", "?cursor=garbage", "?cursor=-1_0"] {
        let r = server.get(&media_path(&conversation, query), &alice).await;
        assert_eq!(r.status, 400, "{query} answered {}", r.text());
        r.problem(400, "Validation");
    }
    for query in ["?limit=1", "?limit=100"] {
        assert_eq!(ids_of(&get_ok(&server, &media_path(&conversation, query), &alice).await).len(), 1);
    }
}

#[tokio::test]
async fn media_of_deleted_messages_disappears_and_comes_back_on_recover() {
    let server = TestServer::start();
    let (alice, bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let [photo, files, links] = send_media_messages(&server, &alice, &bob, &conversation).await;

    assert_eq!(server.delete(&message_path(&files), &bob).await.status, 200);
    let page = get_ok(&server, &media_path(&conversation, ""), &alice).await;
    assert_eq!(ids_of(&page), [format!("{links}#00"), format!("{links}#01"), format!("{photo}#01")]);

    assert_eq!(server.post(&format!("{}/recover", message_path(&files)), &bob, json!({})).await.status, 204);
    let page = get_ok(&server, &media_path(&conversation, "?kind=attachment"), &alice).await;
    assert_eq!(ids_of(&page), [format!("{files}#00"), format!("{files}#01"), format!("{photo}#01")]);
}

#[tokio::test]
async fn editing_a_message_replaces_its_media() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(
        &send(
            &server,
            &alice,
            &conversation,
            json!({"blocks": [{"$type": "image", "source": {"storageKey": "k/a.jpg"}}]}),
        )
        .await,
    );

    let body = json!({"blocks": [
        {"$type": "text", "format": "Plain", "content": "now a link"},
        {"$type": "linkPreview", "url": "https://example.com"}
    ]});
    assert_eq!(server.put(&message_path(&id), &alice, body).await.status, 200);
    let page = get_ok(&server, &media_path(&conversation, ""), &alice).await;
    assert_eq!(ids_of(&page), [format!("{id}#01")]);
    assert_eq!(page["items"][0]["kind"], "Link");
}

#[tokio::test]
async fn a_participant_added_later_sees_media_and_history_only_from_joining() {
    let server = TestServer::start();
    let (alice, bob, carol, conversation) = alice_bob_and_outsider(&server).await;
    let image = |key: &str| json!({"blocks": [{"$type": "image", "source": {"storageKey": key}, "caption": "shared pic"}]});
    let early = id_of(&send(&server, &alice, &conversation, image("k/early.jpg")).await);

    let r = server
        .post(
            &format!("/api/conversations/{conversation}/participants"),
            &alice,
            json!({"participantId": "carol"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let late = id_of(&send(&server, &bob, &conversation, image("k/late.jpg")).await);

    let carol_sees = get_ok(&server, &media_path(&conversation, ""), &carol).await;
    assert_eq!(ids_of(&carol_sees), [format!("{late}#00")]);
    let alice_sees = get_ok(&server, &media_path(&conversation, ""), &alice).await;
    assert_eq!(ids_of(&alice_sees), [format!("{late}#00"), format!("{early}#00")]);

    // The same floor applies to history, search and reading by id.
    let history = get_ok(&server, &messages_path(&conversation), &carol).await;
    assert!(!ids_of(&history).contains(&early), "{history}");
    assert!(ids_of(&history).contains(&late), "{history}");
    let found = search(&server, &carol, &conversation, "shared").await;
    assert_eq!(ids_of(&json!({"items": found})), [late]);
    server.get(&message_path(&early), &carol).await.problem(404, "NotFound");
}

#[tokio::test]
async fn a_participant_added_later_cannot_reply_to_earlier_messages() {
    let server = TestServer::start();
    let (alice, _bob, carol, conversation) = alice_bob_and_outsider(&server).await;
    let early = id_of(&server.say(&alice, &conversation, "before carol").await);
    let r = server
        .post(
            &format!("/api/conversations/{conversation}/participants"),
            &alice,
            json!({"participantId": "carol"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());

    // A message Carol cannot see is not one she can reply to.
    let mut body = text_message("re: ?");
    body["replyToMessageId"] = json!(early);
    let p = server.post(&messages_path(&conversation), &carol, body).await.problem(400, "Validation");
    assert_eq!(p["errors"][0]["code"], "replyToMessageId", "{p}");
}

#[tokio::test]
async fn another_tenants_conversation_and_messages_do_not_exist() {
    let server = TestServer::start();
    let (alice, _bob, _carol, conversation) = alice_bob_and_outsider(&server).await;
    let id = id_of(&server.say(&alice, &conversation, "internal").await);
    // Same participant id, other tenant.
    let outsider = token_in("acme", "alice", "user");
    let r = server
        .post(
            "/api/participants",
            &outsider,
            json!({"id": "alice", "uniqueName": "alice", "fullName": "Other Alice"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    server.get(&message_path(&id), &outsider).await.problem(404, "NotFound");
    server.put(&message_path(&id), &outsider, text_message("x")).await.problem(404, "NotFound");
    server.delete(&message_path(&id), &outsider).await.problem(404, "NotFound");
    server.post(&reactions_path(&id), &outsider, json!({"emoji": "👍"})).await.problem(404, "NotFound");
    server.get(&messages_path(&conversation), &outsider).await.problem(404, "NotFound");
    server.post(&messages_path(&conversation), &outsider, text_message("x")).await.problem(404, "NotFound");
    server
        .get(&format!("{}/search?q=internal", messages_path(&conversation)), &outsider)
        .await
        .problem(404, "NotFound");
    server.get(&media_path(&conversation, ""), &outsider).await.problem(404, "NotFound");
    assert_eq!(fetch_message(&server, &alice, &id).await["blocks"][0]["content"], "internal");
}

#[tokio::test]
async fn media_is_forbidden_to_non_participants_and_missing_for_unknown_conversations() {
    let server = TestServer::start();
    let (alice, _bob, carol, conversation) = alice_bob_and_outsider(&server).await;

    server.get(&media_path(&conversation, ""), &carol).await.problem(403, "Forbidden");
    server.get(&media_path("01JZZZZZZZZZZZZZZZZZZZZZZZ", ""), &alice).await.problem(404, "NotFound");
    let empty = get_ok(&server, &media_path(&conversation, ""), &alice).await;
    assert_eq!(empty, json!({"items": [], "nextCursor": null, "hasMore": false}));
}
