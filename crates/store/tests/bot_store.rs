//! The bot area of the `Store` contract, against the real database.

use std::sync::Arc;

use chatgate_core::Timestamp;
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

fn participant(id: &str, kind: ParticipantKind) -> Participant {
    Participant {
        tenant: "t".into(),
        id: id.into(),
        unique_name: id.into(),
        full_name: format!("P {id}"),
        avatar: None,
        gender: None,
        kind,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn bot(id: &str, topic: &str, ms: i64) -> (Bot, Participant) {
    let p = participant(&format!("p-{id}"), ParticipantKind::Bot);
    let b = Bot {
        tenant: "t".into(),
        id: id.into(),
        participant_id: p.id.clone(),
        description: Some("d".into()),
        metadata: serde_json::from_str(r#"{"k": [1, 2]}"#).unwrap(),
        topic: topic.into(),
        is_active: true,
        listen_all_group_messages: false,
        created_by: "dev".into(),
        webhook_url: Some("http://127.0.0.1:1/hook".into()),
        webhook_secret: "secret".into(),
        created_at: at(ms),
        updated_at: at(ms),
        deleted_at: None,
    };
    (b, p)
}

async fn conversation(store: &dyn Store, id: &str, members: &[&str]) {
    // Built from JSON so that facets added to conversations later (absent: None) need no change here.
    let c: Conversation = serde_json::from_value(serde_json::json!({
        "id": id, "tenant": "t", "owner_id": members[0], "last_seq": 0,
        "created_at": at(0), "updated_at": at(0),
    }))
    .unwrap();
    let m: Vec<Membership> = members
        .iter()
        .map(|p| Membership {
            conversation_id: id.into(),
            participant_id: (*p).into(),
            joined_at: at(0),
            left_at: None,
            is_active: true,
            is_pinned: false,
            pinned_at: None,
            joined_seq: 0,
        })
        .collect();
    store.create_conversation(&c, &m).await.unwrap();
}

#[tokio::test]
async fn bots_are_created_with_their_participant_read_back_and_paged() {
    for f in stores().await {
        let s = &*f.store;
        for (i, id) in ["b1", "b2", "b3"].iter().enumerate() {
            let (b, p) = bot(id, &format!("topic-{id}"), i as i64);
            s.create_bot(&b, &p).await.unwrap();
        }
        let (b1, p1) = bot("b1", "topic-b1", 0);
        assert_eq!(s.bot("t", "b1").await.unwrap(), Some(b1.clone()));
        assert_eq!(s.bot("other-tenant", "b1").await.unwrap(), None);
        assert_eq!(s.bot_by_participant("t", &p1.id).await.unwrap().map(|b| b.id), Some("b1".into()));
        assert_eq!(s.participant("t", &p1.id).await.unwrap().unwrap().kind, ParticipantKind::Bot);

        let page = s.list_bots("t", 2, 2).await.unwrap();
        assert_eq!((page.items.len(), page.total), (1, 3));
        assert_eq!(page.items[0].id, "b3");

        // A topic or a unique name used twice is a conflict, and nothing is half-created.
        let (mut again, mut p) = bot("b4", "topic-b1", 9);
        p.id = "p-b4".into();
        again.participant_id = p.id.clone();
        assert!(
            matches!(s.create_bot(&again, &p).await, Err(StoreError::Conflict(m)) if m.contains("topic"))
        );
        assert_eq!(s.participant("t", "p-b4").await.unwrap(), None);

        // A deleted bot leaves the listing and frees its topic.
        let mut gone = b1.clone();
        gone.deleted_at = Some(at(50));
        gone.is_active = false;
        s.update_bot(&gone, None).await.unwrap();
        assert_eq!(s.list_bots("t", 0, 10).await.unwrap().total, 2);
        assert!(s.bot("t", "b1").await.unwrap().unwrap().is_deleted());
        s.create_bot(&again, &p).await.unwrap();
    }
}

#[tokio::test]
async fn updates_change_the_bot_and_its_participant_together() {
    for f in stores().await {
        let s = &*f.store;
        let (mut b, mut p) = bot("b", "topic", 0);
        s.create_bot(&b, &p).await.unwrap();
        s.upsert_participant(&participant("taken", ParticipantKind::User)).await.unwrap();

        b.description = None;
        b.listen_all_group_messages = true;
        b.webhook_url = None;
        p.full_name = "Renamed".into();
        s.update_bot(&b, Some(&p)).await.unwrap();
        assert_eq!(s.bot("t", "b").await.unwrap(), Some(b.clone()));
        assert_eq!(s.participant("t", &p.id).await.unwrap().unwrap().full_name, "Renamed");

        p.unique_name = "taken".into();
        b.description = Some("not written".into());
        assert!(matches!(s.update_bot(&b, Some(&p)).await, Err(StoreError::Conflict(_))));
        assert_eq!(s.bot("t", "b").await.unwrap().unwrap().description, None, "one transaction");
    }
}

#[tokio::test]
async fn the_bots_hearing_a_conversation_are_active_members_and_listeners() {
    for f in stores().await {
        let s = &*f.store;
        let (member, pm) = bot("member", "t-member", 0);
        let (outsider, po) = bot("outsider", "t-outsider", 1);
        let (mut listener, pl) = bot("listener", "t-listener", 2);
        listener.listen_all_group_messages = true;
        let (mut asleep, pa) = bot("asleep", "t-asleep", 3);
        asleep.is_active = false;
        for (b, p) in [(&member, &pm), (&outsider, &po), (&listener, &pl), (&asleep, &pa)] {
            s.create_bot(b, p).await.unwrap();
        }
        s.upsert_participant(&participant("ana", ParticipantKind::User)).await.unwrap();
        conversation(s, "c", &["ana", &pm.id, &pa.id]).await;

        let mut hearing: Vec<String> =
            s.bots_hearing("t", "c").await.unwrap().into_iter().map(|b| b.id).collect();
        hearing.sort();
        assert_eq!(hearing, ["listener", "member"]);
        assert!(s.bots_hearing("other-tenant", "c").await.unwrap().is_empty());

        let leave = NewMessage {
            id: chatgate_core::ids::new_id(),
            conversation_id: "c".into(),
            sender_id: pm.id.clone(),
            sender_type: SenderType::System,
            blocks: vec![Block::plain_text("left")],
            plain_text: None,
            reply_to_message_id: None,
            quick_replies: None,
            mentions: None,
            client_message_id: None,
            system_event: None,
            external: None,
            created_at: at(10),
            media: Vec::new(),
        };
        s.leave_conversation("c", &pm.id, at(10), &leave).await.unwrap();
        let hearing: Vec<String> =
            s.bots_hearing("t", "c").await.unwrap().into_iter().map(|b| b.id).collect();
        assert_eq!(hearing, ["listener"], "a bot that left hears nothing more");
    }
}
