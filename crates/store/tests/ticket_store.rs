//! The support area of the `Store` contract, against the real database: opening tickets, replies
//! with their status, read marks and unread counts per side, and listings.

use std::sync::Arc;

use chatgate_core::Timestamp;
use chatgate_core::ids::new_id;
use chatgate_core::model::*;
use chatgate_core::store::*;
use chatgate_store::{SqliteOptions, SqliteStore};

struct Fixture {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn stores() -> Vec<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), &SqliteOptions::default()).await.unwrap();
    vec![Fixture { store: Arc::new(store), _dir: dir }]
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(1_700_000_000_000 + ms)
}

fn message(conversation: &str, sender: &str, text: &str, ms: i64) -> NewMessage {
    let blocks = vec![Block::plain_text(text)];
    NewMessage {
        id: new_id(),
        conversation_id: conversation.into(),
        sender_id: sender.into(),
        sender_type: SenderType::User,
        plain_text: Some(text.into()),
        media: Vec::new(),
        blocks,
        reply_to_message_id: None,
        quick_replies: None,
        mentions: None,
        client_message_id: None,
        system_event: None,
        external: None,
        created_at: at(ms),
    }
}

/// Opens a ticket for `requester` at `ms`; returns its id.
async fn open(store: &dyn Store, tenant: &str, requester: &str, category: TicketCategory, ms: i64) -> String {
    let id = new_id();
    let facet = TicketFacet {
        title: format!("Ticket {ms}"),
        category,
        priority: TicketPriority::High,
        status: TicketStatus::Open,
        requester_id: requester.into(),
        assigned_admin_id: None,
        guest_name: None,
        guest_email: None,
    };
    let conversation = Conversation {
        id: id.clone(),
        tenant: tenant.into(),
        name: Some(facet.title.clone()),
        avatar: None,
        owner_id: requester.into(),
        created_at: at(ms),
        updated_at: at(ms),
        last_message_at: None,
        last_message_id: None,
        last_seq: 0,
        channel: None,
        ticket: Some(facet),
    };
    let member = Membership {
        conversation_id: id.clone(),
        participant_id: requester.into(),
        joined_at: at(ms),
        left_at: None,
        is_active: true,
        is_pinned: false,
        pinned_at: None,
        joined_seq: 0,
    };
    let first = store
        .create_ticket(&conversation, &member, None, &message(&id, requester, "help", ms))
        .await
        .unwrap();
    assert_eq!(first.seq, 1);
    id
}

async fn reply(store: &dyn Store, id: &str, sender: &str, side: TicketSide, ms: i64) -> Message {
    let status = side.status_after_reply();
    match store.append_ticket_message(&message(id, sender, "reply", ms), side, status).await.unwrap().appended
    {
        Appended::Created(m) => m,
        Appended::Duplicate(m) => panic!("duplicate {m:?}"),
    }
}

fn query(tenant: &str) -> TicketQuery {
    TicketQuery {
        tenant: tenant.into(),
        requester_id: None,
        status: None,
        category: None,
        priority: None,
        assignee_id: None,
        after: None,
        limit: 50,
        unread_for: TicketSide::Admin,
    }
}

#[tokio::test]
async fn a_ticket_is_its_conversation_with_its_requester_as_member_and_its_description_first() {
    for f in stores().await {
        let s = f.store.as_ref();
        let guest = Participant {
            tenant: "t".into(),
            id: "guest-abc".into(),
            unique_name: "guest-abc".into(),
            full_name: "Jo".into(),
            avatar: None,
            gender: None,
            kind: ParticipantKind::Guest,
            created_at: at(0),
            updated_at: at(0),
        };
        let id = new_id();
        let facet = TicketFacet {
            title: "Guest".into(),
            category: TicketCategory::General,
            priority: TicketPriority::Low,
            status: TicketStatus::Open,
            requester_id: guest.id.clone(),
            assigned_admin_id: None,
            guest_name: Some("Jo".into()),
            guest_email: Some("jo@example.com".into()),
        };
        let conversation = Conversation {
            id: id.clone(),
            tenant: "t".into(),
            name: Some("Guest".into()),
            avatar: None,
            owner_id: guest.id.clone(),
            created_at: at(0),
            updated_at: at(0),
            last_message_at: None,
            last_message_id: None,
            last_seq: 0,
            channel: None,
            ticket: Some(facet.clone()),
        };
        let member = Membership {
            conversation_id: id.clone(),
            participant_id: guest.id.clone(),
            joined_at: at(0),
            left_at: None,
            is_active: true,
            is_pinned: false,
            pinned_at: None,
            joined_seq: 0,
        };
        s.create_ticket(&conversation, &member, Some(&guest), &message(&id, &guest.id, "hi", 0))
            .await
            .unwrap();
        let stored = s.ticket(&id).await.unwrap().unwrap();
        assert_eq!(stored.facet, facet);
        assert_eq!(stored.user_name.as_deref(), Some("Jo"));
        assert_eq!(stored.admin_name, None);
        assert_eq!(s.participant("t", "guest-abc").await.unwrap().unwrap().kind, ParticipantKind::Guest);
        assert_eq!(s.active_member_ids(&id).await.unwrap(), ["guest-abc"]);
        let details = s.conversation(&id).await.unwrap().unwrap();
        assert_eq!(details.conversation.last_seq, 1);
        // The requester has read their own description; the admins have not.
        assert_eq!(s.ticket_unread(&id, TicketSide::User).await.unwrap(), 0);
        assert_eq!(s.ticket_unread(&id, TicketSide::Admin).await.unwrap(), 1);
        // A plain conversation is no ticket.
        assert!(s.ticket("nope").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn replies_set_the_status_and_read_marks_count_the_other_sides_messages() {
    for f in stores().await {
        let s = f.store.as_ref();
        let id = open(s, "t", "ana", TicketCategory::Technical, 0).await;
        let first = reply(s, &id, "boss", TicketSide::Admin, 10).await;
        let t = s.ticket(&id).await.unwrap().unwrap();
        assert_eq!(t.facet.status, TicketStatus::WaitingForUser);
        assert_eq!(t.updated_at, at(10));
        assert_eq!(s.ticket_unread(&id, TicketSide::Admin).await.unwrap(), 0, "writing read it");
        reply(s, &id, "boss2", TicketSide::Admin, 20).await;
        assert_eq!(s.ticket_unread(&id, TicketSide::User).await.unwrap(), 2);

        s.mark_ticket_read(&id, TicketSide::User, first.seq, at(30)).await.unwrap();
        assert_eq!(s.ticket_unread(&id, TicketSide::User).await.unwrap(), 1);
        // A read mark never moves back.
        s.mark_ticket_read(&id, TicketSide::User, 1, at(31)).await.unwrap();
        assert_eq!(s.ticket_unread(&id, TicketSide::User).await.unwrap(), 1);

        reply(s, &id, "ana", TicketSide::User, 40).await;
        assert_eq!(s.ticket(&id).await.unwrap().unwrap().facet.status, TicketStatus::WaitingForAdmin);
        assert_eq!(s.ticket_unread(&id, TicketSide::User).await.unwrap(), 0);
        assert_eq!(s.ticket_unread(&id, TicketSide::Admin).await.unwrap(), 1);

        // A retried reply with the same clientMessageId is the first one, and changes nothing.
        let mut retried = message(&id, "ana", "once", 50);
        retried.client_message_id = Some("c1".into());
        let Appended::Created(once) = s
            .append_ticket_message(&retried, TicketSide::User, TicketStatus::WaitingForAdmin)
            .await
            .unwrap()
            .appended
        else {
            panic!("first append is new")
        };
        retried.id = new_id();
        let again =
            s.append_ticket_message(&retried, TicketSide::User, TicketStatus::WaitingForAdmin).await.unwrap();
        assert_eq!(again.appended, Appended::Duplicate(once.clone()));
        assert_eq!((again.writer_unread, again.reader_unread), (0, 0), "a duplicate changes no count");

        // History pages skip system messages, newest first.
        let page = s.ticket_messages(&id, 0, 2).await.unwrap();
        assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [once.seq, once.seq - 1]);
        let rest = s.ticket_messages(&id, 2, 10).await.unwrap();
        assert_eq!(rest.last().unwrap().seq, 1);
    }
}

#[tokio::test]
async fn listings_filter_page_and_count_unread_per_side() {
    for f in stores().await {
        let s = f.store.as_ref();
        let a = open(s, "t", "ana", TicketCategory::Billing, 0).await;
        let b = open(s, "t", "ben", TicketCategory::Technical, 10).await;
        let c = open(s, "t", "ana", TicketCategory::Technical, 20).await;
        open(s, "other", "ana", TicketCategory::Billing, 30).await;
        reply(s, &a, "boss", TicketSide::Admin, 40).await;

        let all = s.tickets(&query("t")).await.unwrap();
        assert_eq!(
            all.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            [&a, &c, &b],
            "latest change first"
        );
        assert_eq!(all.iter().map(|t| t.unread_count).collect::<Vec<_>>(), [Some(0), Some(1), Some(1)]);

        let anas = s
            .tickets(&TicketQuery {
                requester_id: Some("ana".into()),
                unread_for: TicketSide::User,
                ..query("t")
            })
            .await
            .unwrap();
        assert_eq!(
            anas.iter().map(|t| (t.id.as_str(), t.unread_count)).collect::<Vec<_>>(),
            [(a.as_str(), Some(1)), (c.as_str(), Some(0))]
        );

        let technical = s
            .tickets(&TicketQuery { category: Some(TicketCategory::Technical), ..query("t") })
            .await
            .unwrap();
        assert_eq!(technical.len(), 2);
        let waiting = s
            .tickets(&TicketQuery { status: Some(TicketStatus::WaitingForUser), ..query("t") })
            .await
            .unwrap();
        assert_eq!(waiting.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), [&a]);

        let mut facet = s.ticket(&b).await.unwrap().unwrap().facet;
        facet.assigned_admin_id = Some("boss".into());
        s.update_ticket(&b, &facet, at(50)).await.unwrap();
        let assigned =
            s.tickets(&TicketQuery { assignee_id: Some("boss".into()), ..query("t") }).await.unwrap();
        assert_eq!(assigned.len(), 1);
        assert_eq!(
            assigned[0].admin_name.as_deref(),
            Some("boss"),
            "an admin without a participant is named by id"
        );
        assert!(matches!(s.update_ticket("nope", &facet, at(60)).await, Err(StoreError::NotFound(_))));

        let page1 = s.tickets(&TicketQuery { limit: 2, ..query("t") }).await.unwrap();
        let last = page1.last().unwrap();
        let page2 = s
            .tickets(&TicketQuery { after: Some((last.updated_at, last.id.clone())), ..query("t") })
            .await
            .unwrap();
        let ids: Vec<String> = page1.iter().chain(&page2).map(|t| t.id.clone()).collect();
        assert_eq!(ids, [b.clone(), a.clone(), c.clone()]);
    }
}

#[tokio::test]
async fn every_message_of_a_ticket_counts_as_unread_for_the_other_side_whichever_way_it_was_stored() {
    for f in stores().await {
        let s = f.store.as_ref();
        let id = open(s, "t", "ana", TicketCategory::General, 0).await;
        // A bot's streamed reply is stored as a plain append; it counts for the requester.
        s.append_message(&message(&id, "bot-1", "streamed", 10)).await.unwrap();
        let mut system = message(&id, "system", "renamed", 20);
        system.sender_type = SenderType::System;
        s.append_message(&system).await.unwrap();
        assert_eq!(
            s.ticket_unread(&id, TicketSide::User).await.unwrap(),
            1,
            "system messages count for nobody"
        );
        s.append_message(&message(&id, "ana", "more", 30)).await.unwrap();
        assert_eq!(s.ticket_unread(&id, TicketSide::Admin).await.unwrap(), 2);

        // A reply says what it changed: the writer had 2 unread, the other side now has 2.
        let replied = s
            .append_ticket_message(
                &message(&id, "boss", "hello", 40),
                TicketSide::Admin,
                TicketStatus::WaitingForUser,
            )
            .await
            .unwrap();
        assert_eq!((replied.writer_unread, replied.reader_unread), (2, 2));
        assert_eq!(s.ticket_unread(&id, TicketSide::Admin).await.unwrap(), 0);
        // Many unread, then a read mark in the middle: what is left after it.
        for i in 0..49 {
            reply(s, &id, "boss", TicketSide::Admin, 100 + i).await;
        }
        assert_eq!(s.ticket_unread(&id, TicketSide::User).await.unwrap(), 51);
        assert_eq!(s.ticket_unread(&id, TicketSide::Admin).await.unwrap(), 0);
        let page = s.ticket_messages(&id, 10, 1).await.unwrap();
        s.mark_ticket_read(&id, TicketSide::User, page[0].seq, at(200)).await.unwrap();
        assert_eq!(s.ticket_unread(&id, TicketSide::User).await.unwrap(), 10);
        let listed = s.tickets(&TicketQuery { unread_for: TicketSide::User, ..query("t") }).await.unwrap();
        assert_eq!(listed[0].unread_count, Some(10));
        // A plain conversation keeps no counts.
        assert_eq!(s.ticket_unread("not-a-ticket", TicketSide::User).await.unwrap(), 0);
    }
}
