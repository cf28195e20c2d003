//! The contract every `Store` implementation keeps, checked against the real database. Each test
//! takes a fresh store from `stores()`; a PostgreSQL store joins that list.

use std::sync::Arc;

use chatgate_core::Timestamp;
use chatgate_core::model::*;
use chatgate_core::store::*;
use chatgate_store::{SqliteOptions, SqliteStore};

struct Fixture {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), &SqliteOptions::default()).await.unwrap();
    Fixture { store: Arc::new(store), _dir: dir }
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(1_700_000_000_000 + ms)
}

fn person(id: &str) -> Participant {
    Participant {
        tenant: "t".into(),
        id: id.into(),
        unique_name: id.into(),
        full_name: format!("Person {id}"),
        avatar: None,
        gender: None,
        kind: ParticipantKind::User,
        created_at: at(0),
        updated_at: at(0),
    }
}

async fn conversation(store: &dyn Store, id: &str, members: &[&str], created: i64) {
    let c = Conversation {
        id: id.into(),
        tenant: "t".into(),
        name: Some(format!("conv {id}")),
        avatar: None,
        owner_id: members[0].into(),
        created_at: at(created),
        updated_at: at(created),
        last_message_at: None,
        last_message_id: None,
        last_seq: 0,
        channel: None,
        ticket: None,
    };
    let m: Vec<Membership> = members
        .iter()
        .map(|p| Membership {
            conversation_id: id.into(),
            participant_id: (*p).into(),
            joined_at: at(created),
            left_at: None,
            is_active: true,
            is_pinned: false,
            pinned_at: None,
            joined_seq: 0,
        })
        .collect();
    store.create_conversation(&c, &m).await.unwrap();
}

fn message(conversation: &str, sender: &str, text: &str, ms: i64) -> NewMessage {
    let blocks = vec![Block::plain_text(text)];
    NewMessage {
        id: chatgate_core::ids::new_id(),
        conversation_id: conversation.into(),
        sender_id: sender.into(),
        sender_type: SenderType::User,
        plain_text: chatgate_core::validate::plain_text_of(&blocks),
        media: chatgate_core::validate::media_of(&blocks),
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

fn created(a: Appended) -> Message {
    match a {
        Appended::Created(m) => m,
        Appended::Duplicate(_) => panic!("expected a new message"),
    }
}

async fn stores() -> Vec<Fixture> {
    vec![sqlite().await]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_get_gap_free_sequence_numbers() {
    for f in stores().await {
        conversation(&*f.store, "c", &["a"], 0).await;
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = f.store.clone();
                tokio::spawn(async move {
                    created(store.append_message(&message("c", "a", &format!("m{i}"), i)).await.unwrap())
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap().seq);
        }
        seqs.sort();
        assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
        let details = f.store.conversation("c").await.unwrap().unwrap();
        assert_eq!(details.conversation.last_seq, 50);
    }
}

/// Appends that arrive together share commits: a failing one fails alone, the others are all
/// stored, and one clientMessageId sent many times at once is still one message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_committed_together_succeed_or_fail_one_by_one() {
    for f in stores().await {
        for c in ["c1", "c2", "c3"] {
            conversation(&*f.store, c, &["a"], 0).await;
        }
        let tasks: Vec<_> = (0..300)
            .map(|i| {
                let store = f.store.clone();
                tokio::spawn(async move {
                    let mut m = match i % 4 {
                        0 => message("missing", "a", "lost", i),
                        _ => message(["c1", "c2", "c3"][i as usize % 3], "a", &format!("m{i}"), i),
                    };
                    if i % 4 == 1 {
                        m.conversation_id = "c1".into();
                        m.client_message_id = Some("same".into());
                    }
                    (i, store.append_message(&m).await)
                })
            })
            .collect();
        let (mut failed, mut created_ids, mut duplicates) = (0, Vec::new(), Vec::new());
        for t in tasks {
            match t.await.unwrap() {
                (i, Err(StoreError::NotFound(_))) if i % 4 == 0 => failed += 1,
                (i, Ok(Appended::Created(m))) => created_ids.push((i, m.id)),
                (i, Ok(Appended::Duplicate(m))) if i % 4 == 1 => duplicates.push(m.id),
                (i, other) => panic!("append {i}: unexpected {other:?}"),
            }
        }
        assert_eq!(failed, 75);
        // Of the 75 sends of clientMessageId "same", one created the message and the rest found it.
        let same: Vec<_> = created_ids.iter().filter(|(i, _)| i % 4 == 1).map(|(_, id)| id.clone()).collect();
        assert_eq!(same.len(), 1);
        assert_eq!(duplicates.len(), 74);
        assert!(duplicates.iter().all(|id| *id == same[0]));
        let mut total = 0;
        for c in ["c1", "c2", "c3"] {
            let range =
                MessageRange { floor_seq: 0, from_seq: None, direction: Direction::Newer, limit: 1000 };
            let stored = f.store.messages(c, &range).await.unwrap();
            let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=stored.len() as i64).collect::<Vec<_>>(), "{c} is gap-free");
            total += stored.len();
        }
        assert_eq!(total, created_ids.len());
        assert_eq!(total, 150 + 1);
    }
}

#[tokio::test]
async fn a_known_client_message_id_returns_the_stored_message() {
    for f in stores().await {
        conversation(&*f.store, "c", &["a", "b"], 0).await;
        let mut first = message("c", "a", "hello", 1);
        first.client_message_id = Some("k1".into());
        let stored = created(f.store.append_message(&first).await.unwrap());
        let mut retry = message("c", "a", "hello again", 2);
        retry.client_message_id = Some("k1".into());
        match f.store.append_message(&retry).await.unwrap() {
            Appended::Duplicate(m) => assert_eq!(m, stored),
            Appended::Created(_) => panic!("a retry created a second message"),
        }
        let mut other_sender = message("c", "b", "hi", 3);
        other_sender.client_message_id = Some("k1".into());
        assert!(matches!(f.store.append_message(&other_sender).await.unwrap(), Appended::Created(_)));
    }
}

#[tokio::test]
async fn messages_page_both_ways_above_the_floor() {
    for f in stores().await {
        conversation(&*f.store, "c", &["a"], 0).await;
        for i in 1..=10 {
            f.store.append_message(&message("c", "a", &format!("m{i}"), i)).await.unwrap();
        }
        let seqs = |ms: Vec<Message>| ms.iter().map(|m| m.seq).collect::<Vec<_>>();
        let range = |floor, from, direction, limit| MessageRange {
            floor_seq: floor,
            from_seq: from,
            direction,
            limit,
        };
        let newest = f.store.messages("c", &range(0, None, Direction::Older, 3)).await.unwrap();
        assert_eq!(seqs(newest), [10, 9, 8]);
        let before = f.store.messages("c", &range(0, Some(8), Direction::Older, 3)).await.unwrap();
        assert_eq!(seqs(before), [7, 6, 5]);
        let after = f.store.messages("c", &range(0, Some(7), Direction::Newer, 2)).await.unwrap();
        assert_eq!(seqs(after), [8, 9]);
        let from_start = f.store.messages("c", &range(4, None, Direction::Newer, 3)).await.unwrap();
        assert_eq!(seqs(from_start), [5, 6, 7], "nothing at or below the floor");
        let floored = f.store.messages("c", &range(8, None, Direction::Older, 10)).await.unwrap();
        assert_eq!(seqs(floored), [10, 9]);
    }
}

#[tokio::test]
async fn joining_sees_from_the_end_of_the_log_and_leaving_deactivates() {
    for f in stores().await {
        f.store.upsert_participant(&person("a")).await.unwrap();
        f.store.upsert_participant(&person("b")).await.unwrap();
        conversation(&*f.store, "c", &["a"], 0).await;
        for i in 1..=3 {
            f.store.append_message(&message("c", "a", "before", i)).await.unwrap();
        }
        let mut added = message("c", "system", "", 10);
        added.sender_type = SenderType::System;
        let system = f.store.join_conversation("c", "b", at(10), &added).await.unwrap();
        assert_eq!(system.seq, 4);
        let b = f.store.membership("c", "b").await.unwrap().unwrap();
        assert_eq!((b.is_active, b.joined_seq, b.joined_at), (true, 3, at(10)));

        let mut left = message("c", "system", "", 11);
        left.sender_type = SenderType::System;
        f.store.leave_conversation("c", "b", at(11), &left).await.unwrap();
        let b = f.store.membership("c", "b").await.unwrap().unwrap();
        assert_eq!((b.is_active, b.left_at), (false, Some(at(11))));
        let mut again = message("c", "system", "", 12);
        again.sender_type = SenderType::System;
        assert!(matches!(
            f.store.leave_conversation("c", "b", at(12), &again).await,
            Err(StoreError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn the_conversation_list_puts_pinned_first_then_latest_activity() {
    for f in stores().await {
        conversation(&*f.store, "c1", &["a"], 1).await;
        conversation(&*f.store, "c2", &["a"], 2).await;
        conversation(&*f.store, "c3", &["a"], 3).await;
        conversation(&*f.store, "c4", &["b"], 4).await;
        f.store.append_message(&message("c1", "a", "latest", 100)).await.unwrap();
        f.store.set_pinned("c2", "a", Some(at(50))).await.unwrap();
        let all = f.store.list_conversations("t", "a", None, 10).await.unwrap();
        let ids: Vec<&str> = all.iter().map(|e| e.conversation.id.as_str()).collect();
        assert_eq!(ids, ["c2", "c1", "c3"]);
        assert_eq!(all[1].last_message.as_ref().unwrap().plain_text.as_deref(), Some("latest"));
        assert_eq!(all[0].participant_count, 1);

        // Keyset paging from each position gives the rest, in order.
        let after = |e: &ConversationListEntry| ListPosition {
            pinned: e.membership.is_pinned,
            activity_at: e.conversation.activity_at(),
            conversation_id: e.conversation.id.clone(),
        };
        let rest = f.store.list_conversations("t", "a", Some(&after(&all[0])), 10).await.unwrap();
        assert_eq!(rest.iter().map(|e| e.conversation.id.as_str()).collect::<Vec<_>>(), ["c1", "c3"]);
        let last = f.store.list_conversations("t", "a", Some(&after(&all[2])), 10).await.unwrap();
        assert!(last.is_empty());
        assert!(f.store.list_conversations("other", "a", None, 10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn full_text_search_ignores_diacritics_and_deleted_messages() {
    for f in stores().await {
        conversation(&*f.store, "c", &["a"], 0).await;
        conversation(&*f.store, "d", &["a"], 0).await;
        let hello =
            created(f.store.append_message(&message("c", "a", "Xin chào thế giới", 1)).await.unwrap());
        let gone = created(f.store.append_message(&message("c", "a", "chào lần nữa", 2)).await.unwrap());
        f.store.append_message(&message("d", "a", "chào từ nơi khác", 3)).await.unwrap();
        f.store.set_message_deleted(&gone.id, Some((at(4), "a".into())), at(4)).await.unwrap();
        let found = f.store.search_messages("c", 0, "chao the", 10).await.unwrap();
        assert_eq!(found.iter().map(|m| &m.id).collect::<Vec<_>>(), [&hello.id]);
        assert!(f.store.search_messages("c", 1, "chao", 10).await.unwrap().is_empty(), "floor applies");
        assert!(f.store.search_messages("c", 0, "\"*) OR", 10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn reactions_group_by_emoji_in_order_of_first_use() {
    for f in stores().await {
        conversation(&*f.store, "c", &["a", "b"], 0).await;
        let m = created(f.store.append_message(&message("c", "a", "x", 1)).await.unwrap());
        assert!(f.store.add_reaction(&m.id, "a", "👍", at(2)).await.unwrap());
        assert!(f.store.add_reaction(&m.id, "b", "❤️", at(3)).await.unwrap());
        assert!(f.store.add_reaction(&m.id, "b", "👍", at(4)).await.unwrap());
        assert!(!f.store.add_reaction(&m.id, "b", "👍", at(5)).await.unwrap());
        let stored = f.store.message(&m.id).await.unwrap().unwrap();
        assert_eq!(
            stored.reactions,
            [
                ReactionGroup {
                    emoji: "👍".into(), count: 2, participant_ids: vec!["a".into(), "b".into()]
                },
                ReactionGroup { emoji: "❤️".into(), count: 1, participant_ids: vec!["b".into()] },
            ]
        );
        assert!(f.store.remove_reaction(&m.id, "a", "👍").await.unwrap());
        assert!(!f.store.remove_reaction(&m.id, "a", "👍").await.unwrap());
    }
}

#[tokio::test]
async fn media_are_listed_newest_message_first_in_block_order() {
    for f in stores().await {
        conversation(&*f.store, "c", &["a"], 0).await;
        let image = |key: &str| {
            Block::Image(ImageBlock {
                source: MediaReference { storage_key: Some(key.into()), url: None },
                thumbnail: None,
                alt_text: None,
                width: None,
                height: None,
                caption: None,
                file_size_bytes: None,
            })
        };
        let mut first = message("c", "a", "", 1);
        first.blocks = vec![image("k1"), Block::plain_text("x"), image("k2")];
        first.media = chatgate_core::validate::media_of(&first.blocks);
        let first = created(f.store.append_message(&first).await.unwrap());
        let mut second = message("c", "a", "", 2);
        second.blocks = vec![image("k3")];
        second.media = chatgate_core::validate::media_of(&second.blocks);
        let second = created(f.store.append_message(&second).await.unwrap());
        let query = |after, kind| MediaQuery { floor_seq: 0, kind, after, limit: 10 };
        let all = f.store.media("c", &query(None, None)).await.unwrap();
        let order: Vec<(String, u32)> = all.iter().map(|e| (e.message.id.clone(), e.block_index)).collect();
        assert_eq!(order, [(second.id.clone(), 0), (first.id.clone(), 0), (first.id.clone(), 2)]);
        let rest = f.store.media("c", &query(Some((first.seq, 0)), None)).await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].block_index, 2);
        assert!(f.store.media("c", &query(None, Some(MediaKind::Link))).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn unique_names_are_unique_per_tenant() {
    for f in stores().await {
        f.store.upsert_participant(&person("a")).await.unwrap();
        let mut clash = person("b");
        clash.unique_name = "a".into();
        assert!(matches!(f.store.upsert_participant(&clash).await, Err(StoreError::Conflict(_))));
        clash.tenant = "other".into();
        f.store.upsert_participant(&clash).await.unwrap();
        let mut renamed = person("a");
        renamed.full_name = "Renamed".into();
        renamed.updated_at = at(9);
        let stored = f.store.upsert_participant(&renamed).await.unwrap();
        assert_eq!(
            (stored.full_name.as_str(), stored.created_at, stored.updated_at),
            ("Renamed", at(0), at(9))
        );
    }
}

fn customer(id: &str, name: &str, channel: CustomerChannel, channel_id: &str) -> Customer {
    Customer {
        tenant: "t".into(),
        id: id.into(),
        name: name.into(),
        primary_channel: channel,
        identities: vec![CustomerIdentity { channel, channel_id: channel_id.into() }],
        email: None,
        phone: None,
        tags: vec!["vip".into()],
        notes: None,
        active: true,
        last_interaction_at: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_channel_identity_is_one_customer_even_when_asked_at_once() {
    for f in stores().await {
        let identity = CustomerIdentity { channel: CustomerChannel::Whatsapp, channel_id: "+7700".into() };
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let store = f.store.clone();
                let identity = identity.clone();
                tokio::spawn(async move {
                    let new = customer(&format!("c{i}"), "Ana", CustomerChannel::Whatsapp, "+7700");
                    store.customer_for_identity(&identity, &new).await.unwrap().id
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "every caller got the same customer: {ids:?}");
        let stored = f.store.customer("t", &ids[0]).await.unwrap().unwrap();
        assert_eq!(stored.identities, vec![identity]);
        // The customer speaks as a participant of the same id.
        let p = f.store.participant("t", &ids[0]).await.unwrap().unwrap();
        assert_eq!((p.kind, p.full_name.as_str()), (ParticipantKind::Customer, "Ana"));
        // The same channel id on another channel is another customer.
        let line = CustomerIdentity { channel: CustomerChannel::Line, channel_id: "+7700".into() };
        let other = f
            .store
            .customer_for_identity(&line, &customer("x", "Ana", CustomerChannel::Line, "+7700"))
            .await
            .unwrap();
        assert_ne!(other.id, ids[0]);
    }
}

#[tokio::test]
async fn customer_tokens_work_until_they_expire() {
    for f in stores().await {
        let c = customer("c1", "Ben", CustomerChannel::Web, "w1");
        f.store.create_customer(&c).await.unwrap();
        f.store.insert_customer_token(&c, CustomerChannel::Web, "hash-1", at(1_000), at(0)).await.unwrap();
        let (found, channel) = f.store.customer_by_token("hash-1", at(999)).await.unwrap().unwrap();
        assert_eq!((found.id.as_str(), channel), ("c1", CustomerChannel::Web));
        assert!(f.store.customer_by_token("hash-1", at(1_000)).await.unwrap().is_none(), "expired");
        assert!(f.store.customer_by_token("other", at(0)).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn customers_filter_and_page_with_a_total() {
    for f in stores().await {
        for (i, (name, channel)) in [
            ("Đức Anh", CustomerChannel::Sms),
            ("Duc Binh", CustomerChannel::Line),
            ("Mai", CustomerChannel::Sms),
        ]
        .into_iter()
        .enumerate()
        {
            let mut c = customer(&format!("c{i}"), name, channel, &format!("id{i}"));
            c.created_at = at(i as i64);
            c.active = i != 1;
            f.store.create_customer(&c).await.unwrap();
        }
        let q = |name: Option<&str>, channel, active, page, size| CustomerQuery {
            name: name.map(str::to_owned),
            channel,
            active,
            page,
            size,
        };
        let (page, total) = f.store.customers("t", &q(Some("duc"), None, None, 0, 1)).await.unwrap();
        assert_eq!((page.len(), total), (1, 2));
        assert_eq!(page[0].id, "c1", "newest first");
        let (page, _) = f.store.customers("t", &q(Some("duc"), None, None, 1, 1)).await.unwrap();
        assert_eq!(page[0].id, "c0");
        let (sms, total) =
            f.store.customers("t", &q(None, Some(CustomerChannel::Sms), Some(true), 0, 10)).await.unwrap();
        assert_eq!((sms.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), total), (vec!["c2", "c0"], 2));
        assert_eq!(f.store.customers("other", &q(None, None, None, 0, 10)).await.unwrap().1, 0);
    }
}
