//! The store's file area: upload grants, what is known of uploaded files and their thumbnails,
//! and the thumbnails recorded on messages. The bytes themselves are not here.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{Block, StoredFile, UploadGrant};
use crate::time::Timestamp;

#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    async fn insert_upload_grant(&self, grant: &UploadGrant) -> StoreResult<()>;
    /// The grant, with whether it is being used now and whether it was used.
    async fn upload_grant(&self, id: &str) -> StoreResult<Option<(UploadGrant, GrantState)>>;
    /// Marks the grant in use, unless it is in use or used already: `false` then. Atomic, so
    /// two uploads to one URL never both proceed.
    async fn claim_upload_grant(&self, id: &str, at: Timestamp) -> StoreResult<bool>;
    /// Makes a claimed, unused grant usable again (the upload failed and may be retried).
    async fn release_upload_grant(&self, id: &str) -> StoreResult<()>;
    /// Records the uploaded file and marks its grant used, in one transaction.
    async fn complete_upload(&self, grant_id: &str, file: &StoredFile, at: Timestamp) -> StoreResult<()>;
    /// Forgets grants that expired before `before`; returns how many.
    async fn purge_upload_grants(&self, before: Timestamp) -> StoreResult<u64>;

    async fn file(&self, storage_key: &str) -> StoreResult<Option<StoredFile>>;
    /// Removes the file and its thumbnail; returns what was removed (nothing if it did not exist).
    async fn delete_file(&self, storage_key: &str) -> StoreResult<Vec<StoredFile>>;
    /// Records `thumbnail` as the thumbnail of `source_key`, in one transaction.
    async fn insert_thumbnail(&self, source_key: &str, thumbnail: &StoredFile) -> StoreResult<()>;
    /// Replaces a message's blocks with the same blocks carrying their new thumbnails. Nothing
    /// else of the message changes: a thumbnail is not an edit.
    async fn set_block_thumbnails(&self, message_id: &str, blocks: &[Block]) -> StoreResult<()>;
}

/// Where an upload grant stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantState {
    Unused,
    /// An upload is streaming to it now.
    InUse,
    Used,
}
