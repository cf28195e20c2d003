//! The events the core publishes for each change, and who they are addressed to. The real-time
//! doors render exactly these, so their content and audiences are checked here, on the real
//! store and bus.

use std::sync::Arc;
use std::time::Duration;

use chatgate_bus::InProcessBus;
use chatgate_core::event::EventKind;
use chatgate_core::model::{Block, Ticket, TicketCaller};
use chatgate_core::service::{
    ConversationPatch, NewConversation, NewTicket, ParticipantInput, SendMessage, TicketReply,
};
use chatgate_core::{Core, EventStream, Limits, ManualClock, Principal, Role, Timestamp};
use chatgate_store::{SqliteOptions, SqliteStore};
use futures::StreamExt;

struct World {
    core: Core,
    clock: Arc<ManualClock>,
    events: EventStream,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db"), &SqliteOptions::default()).await.unwrap();
    let bus = Arc::new(InProcessBus::default());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(1_700_000_000_000)));
    let core = Core::new(Arc::new(store), bus, clock.clone(), Limits::default());
    let events = core.subscribe();
    World { core, clock, events, _dir: dir }
}

fn user(id: &str) -> Principal {
    Principal::new("t", id, Role::User).with_name(id.to_uppercase())
}

impl World {
    async fn people(&self, ids: &[&str]) {
        for id in ids {
            let input = ParticipantInput {
                id: (*id).into(),
                unique_name: (*id).into(),
                full_name: format!("Full {id}"),
                avatar: None,
                gender: None,
            };
            self.core.upsert_participant(&user(id), input).await.unwrap();
        }
    }

    async fn next(&mut self) -> EventKind {
        let event = tokio::time::timeout(Duration::from_secs(5), self.events.next())
            .await
            .expect("an event")
            .expect("the bus is open");
        assert_eq!(event.tenant, "t");
        event.kind.clone()
    }

    async fn nothing_more(&mut self) {
        let more = tokio::time::timeout(Duration::from_millis(100), self.events.next()).await;
        assert!(more.is_err(), "unexpected event: {:?}", more.unwrap().map(|e| e.kind.name()));
    }
}

/// A ticket Ana opened, and its two sides: Ana and an admin, The Boss (also as a principal).
async fn ana_and_the_boss(w: &World) -> (Ticket, TicketCaller, TicketCaller, Principal) {
    let boss = Principal::new("t", "boss", Role::Admin).with_name("The Boss");
    let (ana, admin) = (TicketCaller::Signed(user("ana")), TicketCaller::Signed(boss.clone()));
    let input = NewTicket {
        title: "Broken".into(),
        message: "It does not work".into(),
        category: None,
        priority: None,
        attachments: Vec::new(),
    };
    let ticket = w.core.create_ticket(&ana, input).await.unwrap();
    (ticket, ana, admin, boss)
}

fn text(s: &str) -> SendMessage {
    SendMessage { blocks: vec![Block::plain_text(s)], ..Default::default() }
}

#[tokio::test]
async fn creating_and_sending_tell_every_participant() {
    let mut w = world().await;
    w.people(&["a", "b"]).await;
    let c = w
        .core
        .create_conversation(
            &user("a"),
            NewConversation {
                name: Some("Team".into()),
                participant_ids: vec!["b".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let EventKind::ConversationCreated(created) = w.next().await else { panic!("ConversationCreated first") };
    assert_eq!(created.notify, ["a", "b"]);
    assert_eq!(
        (created.conversation.name.as_deref(), created.conversation.participant_count),
        (Some("Team"), 2)
    );

    let id = c.conversation.id.clone();
    let sent = w.core.send_message(&user("a"), &id, text("hello")).await.unwrap();
    let EventKind::MessageCreated(m) = w.next().await else { panic!("MessageCreated") };
    assert_eq!(m.message.id, sent.message.id);
    assert_eq!((m.sender.id.as_str(), m.sender.name.as_str()), ("a", "Full a"));
    assert_eq!(m.recipients, ["a", "b"]);
    assert_eq!(m.conversation.name.as_deref(), Some("Team"));
    w.nothing_more().await;
}

#[tokio::test]
async fn membership_changes_reach_the_right_people() {
    let mut w = world().await;
    w.people(&["a", "b", "c"]).await;
    let conv = w
        .core
        .create_conversation(
            &user("a"),
            NewConversation { participant_ids: vec!["b".into()], ..Default::default() },
        )
        .await
        .unwrap();
    let id = conv.conversation.id;
    w.next().await;

    w.core.add_participant(&user("a"), &id, "c").await.unwrap();
    let EventKind::MessageCreated(system) = w.next().await else { panic!("MemberAdded system message") };
    let event = system.message.system_event.unwrap();
    assert_eq!((event.actor_id.as_deref(), event.target_ids), (Some("a"), vec!["c".to_owned()]));
    assert_eq!(system.people.len(), 2, "actor and target names travel with the event");
    let EventKind::ParticipantJoined(joined) = w.next().await else { panic!("ParticipantJoined") };
    assert_eq!(joined.notify, ["a", "b"], "only those already there");
    assert_eq!(joined.participant.name, "Full c");
    let EventKind::ConversationCreated(for_new) = w.next().await else { panic!("ConversationCreated") };
    assert_eq!(for_new.notify, ["c"], "the newcomer sees a new conversation");

    w.core.leave_conversation(&user("b"), &id).await.unwrap();
    let EventKind::MessageCreated(_) = w.next().await else { panic!("MemberLeft system message") };
    let EventKind::ParticipantLeft(left) = w.next().await else { panic!("ParticipantLeft") };
    assert_eq!(left.notify, ["a", "c", "b"], "those remaining and the one who left");
    w.nothing_more().await;
}

#[tokio::test]
async fn renames_pins_reactions_and_typing_are_events_too() {
    let mut w = world().await;
    w.people(&["a", "b"]).await;
    let conv = w
        .core
        .create_conversation(
            &user("a"),
            NewConversation { participant_ids: vec!["b".into()], ..Default::default() },
        )
        .await
        .unwrap();
    let id = conv.conversation.id;
    w.next().await;

    let patch = ConversationPatch { name: Some(Some("New".into())), avatar: None };
    w.core.update_conversation(&user("b"), &id, patch).await.unwrap();
    assert!(matches!(w.next().await, EventKind::MessageCreated(_)));
    let EventKind::ConversationUpdated(updated) = w.next().await else { panic!("ConversationUpdated") };
    assert_eq!(updated.conversation.name.as_deref(), Some("New"));

    w.core.pin_conversation(&user("a"), &id, true).await.unwrap();
    let EventKind::ConversationPinned(pin) = w.next().await else { panic!("ConversationPinned") };
    assert_eq!(pin.participant_id, "a");
    w.core.pin_conversation(&user("a"), &id, true).await.unwrap();
    w.nothing_more().await; // pinning twice changes nothing

    let m = w.core.send_message(&user("b"), &id, text("x")).await.unwrap().message;
    w.next().await;
    w.core.add_reaction(&user("a"), &m.id, "👍").await.unwrap();
    let EventKind::ReactionAdded(r) = w.next().await else { panic!("ReactionAdded") };
    assert_eq!((r.emoji.as_str(), r.participant.id.as_str()), ("👍", "a"));
    w.core.remove_reaction(&user("a"), &m.id, "👍").await.unwrap();
    assert!(matches!(w.next().await, EventKind::ReactionRemoved(_)));

    w.core.typing(&user("b"), &id, true).await.unwrap();
    let EventKind::TypingStarted(t) = w.next().await else { panic!("TypingStarted") };
    assert_eq!(t.participant.id, "b");
    assert!(w.core.typing(&user("stranger"), &id, true).await.is_err());
    w.nothing_more().await;
}

#[tokio::test]
async fn failed_changes_publish_nothing() {
    let mut w = world().await;
    w.people(&["a", "b"]).await;
    let conv = w.core.create_conversation(&user("a"), NewConversation::default()).await.unwrap();
    let id = conv.conversation.id;
    w.next().await;
    assert!(w.core.send_message(&user("b"), &id, text("not a member")).await.is_err());
    assert!(w.core.send_message(&user("a"), &id, SendMessage::default()).await.is_err());
    assert!(w.core.add_participant(&user("a"), &id, "nobody").await.is_err());
    w.nothing_more().await;
}

#[tokio::test]
async fn a_deleted_message_can_be_recovered_only_within_the_window() {
    let mut w = world().await;
    w.people(&["a"]).await;
    let id =
        w.core.create_conversation(&user("a"), NewConversation::default()).await.unwrap().conversation.id;
    let first = w.core.send_message(&user("a"), &id, text("one")).await.unwrap().message;
    let second = w.core.send_message(&user("a"), &id, text("two")).await.unwrap().message;

    w.core.delete_message(&user("a"), &first.id).await.unwrap();
    w.clock.advance_ms(9 * 60 * 1000);
    let recovered = w.core.recover_message(&user("a"), &first.id).await.unwrap();
    assert_eq!(recovered.plain_text.as_deref(), Some("one"));

    w.core.delete_message(&user("a"), &second.id).await.unwrap();
    w.clock.advance_ms(10 * 60 * 1000 + 1);
    let late = w.core.recover_message(&user("a"), &second.id).await.unwrap_err();
    assert_eq!(late.code, "Message.RecoverWindowExpired");
    // Events: created ×3, deleted, recovered, deleted — and no recovery for the late one.
    let names: Vec<&str> =
        [w.next().await, w.next().await, w.next().await, w.next().await, w.next().await, w.next().await]
            .iter()
            .map(|k| k.name())
            .collect();
    assert_eq!(
        names,
        [
            "ConversationCreated",
            "MessageCreated",
            "MessageCreated",
            "MessageDeleted",
            "MessageRecovered",
            "MessageDeleted"
        ]
    );
    w.nothing_more().await;
}

/// A reply that moves a ticket's status announces the ticket as it is now stored (status, time,
/// assignee and names), whoever wrote it.
#[tokio::test]
async fn a_ticket_reply_announces_the_ticket_as_stored() {
    let mut w = world().await;
    let (ticket, ana, admin, boss) = ana_and_the_boss(&w).await;
    w.core.assign_ticket(&boss, &ticket.id, Some("boss")).await.unwrap();
    // The assignee has no participant yet: the ticket names them by id until their first reply.
    assert_eq!(w.core.ticket(&ana, &ticket.id).await.unwrap().admin_name.as_deref(), Some("boss"));
    while tokio::time::timeout(Duration::from_millis(200), w.events.next()).await.is_ok() {}
    for (writer, text) in [(&admin, "Try again"), (&ana, "Still broken"), (&admin, "Fixed now")] {
        w.clock.advance_ms(60_000);
        let reply = TicketReply { message: text.into(), attachments: Vec::new() };
        w.core.reply_to_ticket(writer, &ticket.id, reply).await.unwrap();
        let announced = loop {
            if let EventKind::TicketChanged(e) = w.next().await {
                break e;
            }
        };
        let stored = w.core.ticket(&ana, &ticket.id).await.unwrap();
        assert_eq!(announced.ticket, stored, "after {text:?}");
        assert_ne!(announced.old_status, stored.facet.status);
        assert_eq!(stored.admin_name.as_deref(), Some("The Boss"));
    }
}

/// Writers of one conversation at once: their messages (and a rename's system message among
/// them) are published in the order they were stored, each once.
#[tokio::test]
async fn messages_sent_at_once_are_published_in_the_order_they_were_stored() {
    let mut w = world().await;
    let writers = ["a", "b", "c", "d", "e", "f"];
    w.people(&writers).await;
    let others: Vec<String> = writers[1..].iter().map(|s| s.to_string()).collect();
    let c = w
        .core
        .create_conversation(&user("a"), NewConversation { participant_ids: others, ..Default::default() })
        .await
        .unwrap();
    let id = c.conversation.id.clone();
    while tokio::time::timeout(Duration::from_millis(100), w.events.next()).await.is_ok() {}

    let sends = writers.iter().map(|who| {
        let (core, id) = (&w.core, id.clone());
        async move {
            for i in 0..20 {
                core.send_message(&user(who), &id, text(&format!("{who}{i}"))).await.unwrap();
            }
        }
    });
    let rename = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let patch = ConversationPatch { name: Some(Some("Renamed".into())), ..Default::default() };
        w.core.update_conversation(&user("a"), &id, patch).await.unwrap();
    };
    futures::future::join(futures::future::join_all(sends), rename).await;

    let mut seqs = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(300), w.events.next()).await {
        if let EventKind::MessageCreated(m) = &event.kind {
            seqs.push(m.message.seq);
        }
    }
    let first = seqs.first().copied().unwrap_or_default();
    let expected: Vec<i64> = (first..first + 121).collect();
    assert_eq!(seqs, expected, "120 messages and the rename's system message, in stored order");
}

/// Replies of both sides of a ticket at once: each status change is announced once, from the
/// status the reply found, in the order the replies were stored.
#[tokio::test]
async fn ticket_replies_at_once_announce_each_status_change_in_order() {
    let mut w = world().await;
    let (ticket, ana, admin, _) = ana_and_the_boss(&w).await;
    while tokio::time::timeout(Duration::from_millis(100), w.events.next()).await.is_ok() {}
    let replies = [&ana, &admin].map(|writer| {
        let (core, id) = (&w.core, ticket.id.clone());
        async move {
            for i in 0..15 {
                let reply = TicketReply { message: format!("reply {i}"), attachments: Vec::new() };
                core.reply_to_ticket(writer, &id, reply).await.unwrap();
            }
        }
    });
    futures::future::join_all(replies).await;

    // In bus order: each reply's side, and the changes announced after it.
    let mut sides = Vec::new();
    let mut changes = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(300), w.events.next()).await {
        match &event.kind {
            EventKind::MessageCreated(m) => sides.push((m.message.seq, m.message.sender_id == "ana")),
            EventKind::TicketChanged(e) => changes.push((sides.len(), e.old_status, e.ticket.facet.status)),
            _ => {}
        }
    }
    let seqs: Vec<i64> = sides.iter().map(|(seq, _)| *seq).collect();
    assert!(seqs.windows(2).all(|p| p[1] == p[0] + 1), "stored order: {seqs:?}");
    // A change follows exactly the replies whose side differs from the one before.
    let expected: Vec<usize> =
        (0..sides.len()).filter(|&i| i == 0 || sides[i].1 != sides[i - 1].1).map(|i| i + 1).collect();
    let announced: Vec<usize> = changes.iter().map(|(after, _, _)| *after).collect();
    assert_eq!(announced, expected);
    for pair in changes.windows(2) {
        assert_eq!(pair[1].1, pair[0].2, "each change starts where the one before ended");
    }
}
