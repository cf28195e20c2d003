//! The invariants that must survive a crash: an acknowledged message is durable, a retried send
//! is idempotent, and a conversation's messages come back in one total order.

mod common;

use common::*;
use serde_json::{Value, json};

async fn all_messages(server: &TestServer, token: &str, conversation: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/api/conversations/{conversation}/messages?direction=newer&limit=100"),
            Some(c) => {
                format!("/api/conversations/{conversation}/messages?direction=newer&limit=100&cursor={c}")
            }
        };
        let page = server.get(&path, token).await.json();
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        if page["hasMore"] != true {
            return out;
        }
        cursor = Some(page["nextCursor"].as_str().unwrap().to_owned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_messages_survive_sigkill_in_order() {
    let mut server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let conversation = server.conversation(&alice, &["bob"]).await;

    // A burst of concurrent senders; remember exactly what was acknowledged.
    let server_ref = &server;
    let mut acked: Vec<(String, String)> = Vec::new();
    let results = futures::future::join_all((0..8).map(|writer| {
        let t = if writer % 2 == 0 { alice.clone() } else { bob.clone() };
        let conversation = conversation.clone();
        async move {
            let mut mine = Vec::new();
            for n in 0..25 {
                let text = format!("w{writer}-n{n}");
                let r = server_ref
                    .post(&format!("/api/conversations/{conversation}/messages"), &t, text_message(&text))
                    .await;
                if r.status == 201 {
                    mine.push((r.json()["id"].as_str().unwrap().to_owned(), text));
                }
            }
            mine
        }
    }))
    .await;
    for r in results {
        acked.extend(r);
    }
    assert_eq!(acked.len(), 200, "every send should have been acknowledged");

    server.kill9();
    let data_dir = server.data_dir.clone();
    let restarted =
        TestServer::start_in(&data_dir, &["--rate-limit-per-ip", "0", "--rate-limit-per-user", "0"]);
    let stored = all_messages(&restarted, &alice, &conversation).await;

    for (id, text) in &acked {
        let found = stored.iter().find(|m| m["id"] == id.as_str());
        let found = found.unwrap_or_else(|| panic!("acknowledged message {id} ({text}) was lost"));
        assert_eq!(found["blocks"][0]["content"], text.as_str());
    }
    // One total order: the same order every time, and each writer's messages in send order.
    let ids: Vec<&str> = stored.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let again = all_messages(&restarted, &bob, &conversation).await;
    assert_eq!(ids, again.iter().map(|m| m["id"].as_str().unwrap()).collect::<Vec<_>>());
    for writer in 0..8 {
        let prefix = format!("w{writer}-");
        let seen: Vec<usize> = stored
            .iter()
            .filter_map(|m| m["blocks"][0]["content"].as_str())
            .filter_map(|t| t.strip_prefix(&prefix))
            .map(|n| n.trim_start_matches('n').parse().unwrap())
            .collect();
        assert_eq!(seen, (0..25).collect::<Vec<_>>(), "writer {writer}'s messages out of order");
    }
    // Newest-first paging returns the exact reverse.
    let newest =
        restarted.get(&format!("/api/conversations/{conversation}/messages?limit=100"), &alice).await.json();
    let newest_ids: Vec<&str> =
        newest["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(newest_ids, ids.iter().rev().take(100).copied().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_retried_send_returns_the_first_message_even_after_a_crash() {
    let mut server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let conversation = server.conversation(&alice, &[]).await;
    let send = json!({
        "blocks": [{"$type": "text", "format": "Plain", "content": "once"}],
        "clientMessageId": "local-uuid-1"
    });
    let path = format!("/api/conversations/{conversation}/messages");
    let first = server.post(&path, &alice, send.clone()).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = server.post(&path, &alice, send.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["id"], first.json()["id"]);

    server.kill9();
    let restarted = TestServer::start_in(&server.data_dir.clone(), &[]);
    let after = restarted.post(&path, &alice, send).await;
    assert_eq!(after.json()["id"], first.json()["id"]);
    let history = restarted.get(&path, &alice).await.json();
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_same_client_message_id_from_another_sender_is_another_message() {
    let server = TestServer::start();
    let alice = server.participant("alice", "Alice").await;
    let bob = server.participant("bob", "Bob").await;
    let conversation = server.conversation(&alice, &["bob"]).await;
    let path = format!("/api/conversations/{conversation}/messages");
    let send = json!({"blocks": [{"$type": "divider"}], "clientMessageId": "same"});
    let a = server.post(&path, &alice, send.clone()).await.json();
    let b = server.post(&path, &bob, send).await.json();
    assert_ne!(a["id"], b["id"]);
}
