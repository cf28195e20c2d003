//! The file area of the store against the real database: upload grants are claimed by one
//! upload at a time and used once, files and their thumbnails are recorded and removed together.

use chatgate_core::Timestamp;
use chatgate_core::model::{StoredFile, UploadGrant};
use chatgate_core::store::{FileStore, GrantState};
use chatgate_store::{SqliteOptions, SqliteStore};

async fn store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), &SqliteOptions::default()).await.unwrap();
    (store, dir)
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(1_700_000_000_000 + ms)
}

fn grant(id: &str, expires: i64) -> UploadGrant {
    UploadGrant {
        id: id.into(),
        storage_key: format!("{id}/a.png"),
        tenant: "t".into(),
        uploader_id: "ana".into(),
        file_name: "a.png".into(),
        content_type: "image/png".into(),
        size: 3_000_000_000,
        created_at: at(0),
        expires_at: at(expires),
    }
}

fn file(key: &str) -> StoredFile {
    StoredFile {
        storage_key: key.into(),
        tenant: "t".into(),
        uploader_id: "ana".into(),
        file_name: "a.png".into(),
        content_type: "image/png".into(),
        size: 3_000_000_000,
        created_at: at(1),
        thumbnail_key: None,
        thumbnail_of: None,
    }
}

#[tokio::test]
async fn a_grant_is_claimed_by_one_upload_released_on_failure_and_used_once() {
    let (store, _dir) = store().await;
    store.insert_upload_grant(&grant("G", 1_000)).await.unwrap();
    let (read, state) = store.upload_grant("G").await.unwrap().unwrap();
    assert_eq!((read, state), (grant("G", 1_000), GrantState::Unused));

    assert!(store.claim_upload_grant("G", at(1)).await.unwrap());
    assert!(!store.claim_upload_grant("G", at(2)).await.unwrap(), "one upload at a time");
    assert_eq!(store.upload_grant("G").await.unwrap().unwrap().1, GrantState::InUse);
    store.release_upload_grant("G").await.unwrap();
    assert_eq!(store.upload_grant("G").await.unwrap().unwrap().1, GrantState::Unused);

    assert!(store.claim_upload_grant("G", at(3)).await.unwrap());
    store.complete_upload("G", &file("G/a.png"), at(4)).await.unwrap();
    assert_eq!(store.upload_grant("G").await.unwrap().unwrap().1, GrantState::Used);
    assert!(!store.claim_upload_grant("G", at(5)).await.unwrap(), "used once");
    store.release_upload_grant("G").await.unwrap();
    assert_eq!(
        store.upload_grant("G").await.unwrap().unwrap().1,
        GrantState::Used,
        "a used grant stays used"
    );
    assert!(store.complete_upload("G", &file("G/b.png"), at(6)).await.is_err());
    assert_eq!(store.file("G/a.png").await.unwrap(), Some(file("G/a.png")), "sizes above 2 GiB survive");
    assert_eq!(store.file("G/b.png").await.unwrap(), None);
}

#[tokio::test]
async fn expired_grants_are_purged() {
    let (store, _dir) = store().await;
    store.insert_upload_grant(&grant("OLD", 10)).await.unwrap();
    store.insert_upload_grant(&grant("NEW", 1_000)).await.unwrap();
    assert_eq!(store.purge_upload_grants(at(500)).await.unwrap(), 1);
    assert!(store.upload_grant("OLD").await.unwrap().is_none());
    assert!(store.upload_grant("NEW").await.unwrap().is_some());
}

#[tokio::test]
async fn a_file_and_its_thumbnail_are_recorded_and_removed_together() {
    let (store, _dir) = store().await;
    store.insert_upload_grant(&grant("S", 1_000)).await.unwrap();
    store.complete_upload("S", &file("S/a.png"), at(1)).await.unwrap();
    let thumbnail = StoredFile {
        storage_key: "T/a-thumbnail.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 100,
        thumbnail_of: Some("S/a.png".into()),
        ..file("T/a-thumbnail.jpg")
    };
    store.insert_thumbnail("S/a.png", &thumbnail).await.unwrap();
    assert_eq!(
        store.file("S/a.png").await.unwrap().unwrap().thumbnail_key.as_deref(),
        Some("T/a-thumbnail.jpg")
    );
    assert!(
        store
            .insert_thumbnail("missing", &StoredFile { storage_key: "T2".into(), ..thumbnail.clone() })
            .await
            .is_err()
    );
    assert!(store.file("T2").await.unwrap().is_none(), "nothing recorded for a missing source");

    let removed: Vec<String> =
        store.delete_file("S/a.png").await.unwrap().into_iter().map(|f| f.storage_key).collect();
    assert_eq!(removed, ["S/a.png", "T/a-thumbnail.jpg"]);
    assert!(store.file("T/a-thumbnail.jpg").await.unwrap().is_none());
    assert!(store.delete_file("S/a.png").await.unwrap().is_empty());
}
