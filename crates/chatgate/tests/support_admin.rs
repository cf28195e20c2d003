//! The support desk's admin REST API (`/api/admin/tickets`) against the real binary. Tickets are
//! opened the way clients open them, on `/support` — here over Engine.IO long polling, which is
//! plain HTTP — and their changes are watched there too.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, token, token_in};
use serde_json::{Value, json};

/// A `/support` socket over Engine.IO v4 long polling (`EIO=4&transport=polling`).
struct SupportSocket<'a> {
    server: &'a TestServer,
    sid: String,
    /// Events received and not yet taken, in order.
    events: Vec<(String, Value)>,
}

impl<'a> SupportSocket<'a> {
    async fn open(server: &'a TestServer, jwt: Option<&str>) -> SupportSocket<'a> {
        let open = server.request("GET", "/socket.io/?EIO=4&transport=polling", None, None, &[]).await;
        assert_eq!(open.status, 200, "engine.io open: {}", open.text());
        let text = open.text();
        let handshake: Value = serde_json::from_str(text.strip_prefix('0').expect("open packet")).unwrap();
        let sid = handshake["sid"].as_str().unwrap().to_owned();
        let mut socket = SupportSocket { server, sid, events: Vec::new() };
        let auth = match jwt {
            Some(t) => json!({"token": t}),
            None => json!({}),
        };
        socket.post(&format!("40/support,{auth}")).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let packets = socket.poll().await;
            if packets.iter().any(|p| p.starts_with("40/support,")) {
                break;
            }
            assert!(Instant::now() < deadline, "no namespace connect: {packets:?}");
        }
        socket
    }

    fn path(&self) -> String {
        format!("/socket.io/?EIO=4&transport=polling&sid={}", self.sid)
    }

    async fn post(&self, payload: &str) {
        let r = self.server.request("POST", &self.path(), None, Some(payload.as_bytes().to_vec()), &[]).await;
        assert_eq!(r.status, 200, "engine.io post: {}", r.text());
    }

    /// One long poll; events are kept, pings answered, other packets returned.
    async fn poll(&mut self) -> Vec<String> {
        let r = self.server.request("GET", &self.path(), None, None, &[]).await;
        assert_eq!(r.status, 200, "engine.io poll: {}", r.text());
        let mut others = Vec::new();
        for packet in r.text().split('\u{1e}') {
            if packet == "2" {
                self.post("3").await;
            } else if let Some(event) = packet.strip_prefix("42/support,") {
                let v: Value = serde_json::from_str(event).unwrap();
                self.events.push((v[0].as_str().unwrap().to_owned(), v[1].clone()));
            } else {
                others.push(packet.to_owned());
            }
        }
        others
    }

    async fn emit(&self, event: &str, payload: Value) {
        self.post(&format!("42/support,{}", json!([event, payload]))).await;
    }

    /// The first event named `name` that matches, polling up to five seconds.
    async fn next(&mut self, name: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(i) = self.events.iter().position(|(n, v)| n == name && matches(v)) {
                return self.events.remove(i).1;
            }
            assert!(Instant::now() < deadline, "no {name}; saw {:?}", self.events);
            self.poll().await;
        }
    }

    /// Opens a ticket and returns its NEW_TICKET.
    async fn open_ticket(&mut self, title: &str, category: &str, priority: &str) -> Value {
        self.emit(
            "CREATE_TICKET",
            json!({"title": title, "category": category, "priority": priority, "message": format!("About {title}")}),
        )
        .await;
        self.next("NEW_TICKET", |t| t["title"] == title).await
    }
}

async fn admin_named(server: &TestServer, id: &str, name: &str) -> String {
    let t = token(id, "admin");
    let r = server.post("/api/participants", &t, json!({"id": id, "uniqueName": id, "fullName": name})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    t
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn admins_list_the_tenants_tickets_by_latest_change_with_filters_and_pages() {
    let server = TestServer::start();
    let admin = admin_named(&server, "desk-admin", "Desk Admin").await;
    let mut ana = SupportSocket::open(&server, Some(&token("ana", "user"))).await;
    let mut ben = SupportSocket::open(&server, Some(&token("ben", "user"))).await;
    let billing = ana.open_ticket("Invoice", "BILLING", "LOW").await;
    let bug = ben.open_ticket("Crash", "BUG_REPORT", "URGENT").await;
    let login = ana.open_ticket("Login", "ACCOUNT", "URGENT").await;

    let all = server.get("/api/admin/tickets", &admin).await;
    assert_eq!(all.status, 200, "{}", all.text());
    let all = all.json();
    assert_eq!(ids(&all), [&login["id"], &bug["id"], &billing["id"]].map(|v| v.as_str().unwrap().to_owned()));
    let first = &all["items"][0];
    let mut keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "adminName",
            "assigneeId",
            "category",
            "createdAt",
            "guestEmail",
            "guestName",
            "id",
            "priority",
            "status",
            "title",
            "unreadCount",
            "updatedAt",
            "userId",
            "userName"
        ]
    );
    assert_eq!(first["status"], "OPEN");
    assert_eq!(first["userId"], "ana");
    assert_eq!(first["userName"], "ana", "the token's name");
    assert_eq!(first["unreadCount"], 1, "the description is unread by the admins");
    assert_eq!(first["assigneeId"], Value::Null);

    let urgent = server.get("/api/admin/tickets?priority=URGENT", &admin).await.json();
    assert_eq!(ids(&urgent).len(), 2);
    let bugs = server.get("/api/admin/tickets?category=bug_report", &admin).await.json();
    assert_eq!(ids(&bugs), [bug["id"].as_str().unwrap()]);
    let open = server.get("/api/admin/tickets?status=OPEN&priority=LOW", &admin).await.json();
    assert_eq!(ids(&open), [billing["id"].as_str().unwrap()]);

    // Pages follow each other without overlap.
    let page1 = server.get("/api/admin/tickets?limit=2", &admin).await.json();
    assert_eq!(page1["hasMore"], true);
    let cursor = page1["nextCursor"].as_str().unwrap();
    let page2 = server.get(&format!("/api/admin/tickets?limit=2&cursor={cursor}"), &admin).await.json();
    assert_eq!(page2["hasMore"], false);
    assert_eq!(page2["nextCursor"], Value::Null);
    assert_eq!([ids(&page1), ids(&page2)].concat(), ids(&all));

    // Bad filters name their parameter.
    let p = server.get("/api/admin/tickets?status=LOST", &admin).await.problem(400, "Validation");
    assert_eq!(p["errors"][0]["code"], "status");
    assert!(p["errors"][0]["description"].as_str().unwrap().contains("WAITING_FOR_ADMIN"));
    let p = server.get("/api/admin/tickets?cursor=nope", &admin).await.problem(400, "Validation");
    assert_eq!(p["errors"][0]["code"], "cursor");
    let p = server.get("/api/admin/tickets?limit=0", &admin).await.problem(400, "Validation");
    assert_eq!(p["errors"][0]["code"], "limit");
}

#[tokio::test]
async fn only_the_tenants_admins_manage_its_tickets() {
    let server = TestServer::start();
    let mut ana = SupportSocket::open(&server, Some(&token("ana", "user"))).await;
    let ticket = ana.open_ticket("Help", "GENERAL", "MEDIUM").await;
    let id = ticket["id"].as_str().unwrap();

    for role in ["user", "agent", "dev"] {
        let t = token("someone", role);
        server.get("/api/admin/tickets", &t).await.problem(403, "Forbidden");
        server
            .post(&format!("/api/admin/tickets/{id}/status"), &t, json!({"status": "CLOSED"}))
            .await
            .problem(403, "Forbidden");
    }
    let requester = token("ana", "user");
    server
        .post(&format!("/api/admin/tickets/{id}/assign"), &requester, json!({"adminId": "ana"}))
        .await
        .problem(403, "Forbidden");
    server.request("GET", "/api/admin/tickets", None, None, &[]).await.problem(401, "Unauthorized");

    // Another tenant's admin sees none of it.
    let foreign = token_in("other", "boss", "admin");
    let list = server.get("/api/admin/tickets", &foreign).await.json();
    assert_eq!(list["items"], json!([]));
    server.get(&format!("/api/admin/tickets/{id}"), &foreign).await.problem(404, "NotFound");
    server
        .post(&format!("/api/admin/tickets/{id}/status"), &foreign, json!({"status": "CLOSED"}))
        .await
        .problem(404, "NotFound");

    // Nothing changed.
    let admin = token("boss", "admin");
    assert_eq!(server.get(&format!("/api/admin/tickets/{id}"), &admin).await.json()["status"], "OPEN");
    server.get("/api/admin/tickets/01JRZ0000000000000000000AA", &admin).await.problem(404, "NotFound");
}

#[tokio::test]
async fn assigning_and_changing_status_are_announced_on_the_support_desk() {
    let server = TestServer::start();
    let admin = admin_named(&server, "lead", "Lead Admin").await;
    admin_named(&server, "helper", "Helper Admin").await;
    let mut ana = SupportSocket::open(&server, Some(&token("ana", "user"))).await;
    let ticket = ana.open_ticket("Broken", "TECHNICAL", "HIGH").await;
    let id = ticket["id"].as_str().unwrap();

    let r = server
        .post(&format!("/api/admin/tickets/{id}/status"), &admin, json!({"status": "IN_PROGRESS"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "IN_PROGRESS");
    let changed = ana.next("STATUS_CHANGED", |_| true).await;
    assert_eq!(changed, json!({"ticketId": id, "oldStatus": "OPEN", "currentStatus": "IN_PROGRESS"}));
    let updated = ana.next("TICKET_UPDATED", |_| true).await;
    assert_eq!(updated["id"], id);
    assert_eq!(updated["status"], "IN_PROGRESS");
    assert_eq!(updated["admin_name"], Value::Null);

    let r =
        server.post(&format!("/api/admin/tickets/{id}/assign"), &admin, json!({"adminId": "helper"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["assigneeId"], "helper");
    assert_eq!(r.json()["adminName"], "Helper Admin");
    let updated = ana.next("TICKET_UPDATED", |u| u["admin_id"] == "helper").await;
    assert_eq!(updated["admin_name"], "Helper Admin");
    assert_eq!(updated["status"], "IN_PROGRESS");
    let assigned = server.get("/api/admin/tickets?assigneeId=helper", &admin).await.json();
    assert_eq!(ids(&assigned), [id]);

    // The same status again changes nothing and announces nothing; null unassigns.
    let same = server
        .post(&format!("/api/admin/tickets/{id}/status"), &admin, json!({"status": "in_progress"}))
        .await;
    assert_eq!(same.status, 200);
    let r = server.post(&format!("/api/admin/tickets/{id}/assign"), &admin, json!({"adminId": null})).await;
    assert_eq!(r.json()["assigneeId"], Value::Null);
    let unassigned = ana.next("TICKET_UPDATED", |u| u["admin_id"].is_null()).await;
    assert_eq!(unassigned["status"], "IN_PROGRESS", "no STATUS_CHANGED came in between");
    assert!(ana.events.iter().all(|(n, _)| n != "STATUS_CHANGED"), "{:?}", ana.events);

    // Bad bodies name their field and change nothing.
    let p = server
        .post(&format!("/api/admin/tickets/{id}/status"), &admin, json!({"status": "DONE"}))
        .await
        .problem(400, "Validation");
    assert_eq!(p["errors"][0]["code"], "status");
    let p = server
        .post(&format!("/api/admin/tickets/{id}/status"), &admin, json!({}))
        .await
        .problem(400, "Validation");
    assert_eq!(p["errors"][0]["code"], "status");
    let p = server
        .post(&format!("/api/admin/tickets/{id}/assign"), &admin, json!({}))
        .await
        .problem(400, "Validation");
    assert_eq!(p["errors"][0]["code"], "adminId");
    let p = server
        .post(&format!("/api/admin/tickets/{id}/assign"), &admin, json!({"adminId": 7}))
        .await
        .problem(400, "Validation");
    assert_eq!(p["errors"][0]["code"], "adminId");
    server
        .post("/api/admin/tickets/01JRZ0000000000000000000AA/status", &admin, json!({"status": "CLOSED"}))
        .await
        .problem(404, "NotFound");
    assert_eq!(server.get(&format!("/api/admin/tickets/{id}"), &admin).await.json()["status"], "IN_PROGRESS");

    // A conversation that is not a ticket is no ticket.
    let plain = server.conversation(&token("ana", "user"), &[]).await;
    server
        .post(&format!("/api/admin/tickets/{plain}/status"), &admin, json!({"status": "CLOSED"}))
        .await
        .problem(404, "NotFound");
}

#[tokio::test]
async fn a_ticket_is_a_conversation_and_rest_replies_move_it_like_support_replies() {
    let server = TestServer::start();
    let admin = admin_named(&server, "lead", "Lead Admin").await;
    let user = token("ana", "user");
    let mut ana = SupportSocket::open(&server, Some(&user)).await;
    let ticket = ana.open_ticket("Slow", "TECHNICAL", "LOW").await;
    let id = ticket["id"].as_str().unwrap();

    // The requester sees it in the conversation list and its history over REST; the description
    // is its first message.
    let list = server.get("/api/conversations", &user).await.json();
    assert!(list["items"].as_array().unwrap().iter().any(|c| c["id"] == id), "{list}");
    let history =
        server.get(&format!("/api/conversations/{id}/messages?direction=newer"), &user).await.json();
    assert_eq!(history["items"][0]["blocks"][0]["content"], "About Slow");

    // An admin's REST reply reaches the requester on /support and hands the ticket to them.
    server.say(&admin, id, "Looking into it").await;
    let message = ana.next("NEW_MESSAGE", |m| m["messages"][0]["message"] == "Looking into it").await;
    assert_eq!(message["messages"][0]["admin_id"], "lead");
    assert_eq!(message["messages"][0]["admin_name"], "Lead Admin");
    assert_eq!(message["messages"][0]["current_status"], "WAITING_FOR_USER");
    let t = server.get(&format!("/api/admin/tickets/{id}"), &admin).await.json();
    assert_eq!(t["status"], "WAITING_FOR_USER");
    let listed = server.get("/api/admin/tickets", &admin).await.json();
    assert_eq!(listed["items"][0]["unreadCount"], 0, "writing read the description");

    // The requester's REST reply hands it back; the admins have one unread message again.
    server.say(&user, id, "Still slow").await;
    let listed = server.get("/api/admin/tickets", &admin).await.json();
    assert_eq!(listed["items"][0]["status"], "WAITING_FOR_ADMIN");
    assert_eq!(listed["items"][0]["unreadCount"], 1);

    // Others of the tenant are not let in, even when added to the conversation.
    let add = server
        .post(&format!("/api/conversations/{id}/participants"), &user, json!({"participantId": "carl"}))
        .await;
    assert!(add.status < 500, "{}", add.text());
    server
        .get(&format!("/api/conversations/{id}/messages"), &token("carl", "user"))
        .await
        .problem(403, "Forbidden");
    server
        .get(&format!("/api/conversations/{id}/messages"), &token("al", "agent"))
        .await
        .problem(403, "Forbidden");
}
