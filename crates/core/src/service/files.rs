//! Files: granting uploads, recording what was uploaded, deleting, and recording thumbnails on
//! the messages that show the files. The bytes are moved and signed by a door; the core decides
//! who may, what is acceptable, and what is remembered.

use super::Core;
use crate::error::{CoreError, CoreResult};
use crate::event::{BlockThumbnail, EventKind, ThumbnailsEvent};
use crate::limits::Limits;
use crate::model::file::{new_storage_key, new_thumbnail_key};
use crate::model::{Block, MediaReference, StoredFile, UploadGrant};
use crate::policy;
use crate::principal::Principal;
use crate::store::GrantState;
use crate::validate::Check;

/// `POST /api/files/upload-url`: what the participant means to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRequest {
    pub file_name: String,
    pub content_type: String,
    pub file_size: u64,
}

/// A thumbnail a door made for one block of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MadeThumbnail {
    pub block_index: u32,
    /// The file the block shows; the thumbnail is recorded only if the block still shows it.
    pub source_key: String,
    pub thumbnail_key: String,
}

/// Grants older than this after their expiry are forgotten; until then a late upload is told
/// that its URL expired rather than that it never existed.
const EXPIRED_GRANTS_KEPT_MS: i64 = 60 * 60 * 1000;

impl Core {
    /// Grants one upload: checks the announced file and decides its storage key.
    pub async fn grant_upload(
        &self,
        principal: &Principal,
        request: UploadRequest,
    ) -> CoreResult<UploadGrant> {
        let content_type = check_upload(&request, &self.limits)?;
        let now = self.clock.now();
        let grant = UploadGrant {
            id: crate::ids::new_id(),
            storage_key: new_storage_key(&request.file_name),
            tenant: principal.tenant.clone(),
            uploader_id: principal.participant_id.clone(),
            file_name: request.file_name.trim().to_owned(),
            content_type,
            size: request.file_size,
            created_at: now,
            expires_at: now.plus_ms(self.limits.upload_url_ttl_ms),
        };
        self.store.insert_upload_grant(&grant).await?;
        Ok(grant)
    }

    /// Starts using an upload grant: only its participant, once, before it expires. The caller
    /// then streams the bytes and ends with [`Core::finish_upload`] or [`Core::abandon_upload`].
    pub async fn start_upload(&self, principal: &Principal, upload_id: &str) -> CoreResult<UploadGrant> {
        let (grant, state) =
            self.store.upload_grant(upload_id).await?.ok_or_else(|| policy::upload_not_found(upload_id))?;
        policy::may_use_upload_grant(principal, &grant)?;
        match state {
            GrantState::Used => {
                return Err(CoreError::conflict(
                    "Upload.AlreadyUsed",
                    "This upload URL was used already; ask for a new one",
                ));
            }
            GrantState::InUse => {
                return Err(CoreError::conflict("Upload.InProgress", "An upload to this URL is in progress"));
            }
            GrantState::Unused => {}
        }
        if self.clock.now() >= grant.expires_at {
            return Err(CoreError::conflict(
                "Upload.Expired",
                format!("This upload URL expired at {}; ask for a new one", grant.expires_at),
            ));
        }
        if !self.store.claim_upload_grant(upload_id, self.clock.now()).await? {
            return Err(CoreError::conflict("Upload.InProgress", "An upload to this URL is in progress"));
        }
        Ok(grant)
    }

    /// Records the uploaded file. `size` is what arrived; it must be what was announced.
    pub async fn finish_upload(&self, grant: &UploadGrant, size: u64) -> CoreResult<StoredFile> {
        if size != grant.size {
            self.abandon_upload(grant).await;
            return Err(CoreError::invalid(
                "file",
                format!("is {size} bytes, but the upload URL was granted for fileSize {}", grant.size),
            ));
        }
        let file = StoredFile {
            storage_key: grant.storage_key.clone(),
            tenant: grant.tenant.clone(),
            uploader_id: grant.uploader_id.clone(),
            file_name: grant.file_name.clone(),
            content_type: grant.content_type.clone(),
            size,
            created_at: self.clock.now(),
            thumbnail_key: None,
            thumbnail_of: None,
        };
        self.store.complete_upload(&grant.id, &file, file.created_at).await?;
        Ok(file)
    }

    /// The upload failed before it was recorded: the grant may be used again until it expires.
    pub async fn abandon_upload(&self, grant: &UploadGrant) {
        if let Err(e) = self.store.release_upload_grant(&grant.id).await {
            tracing::warn!(error = %e, upload = %grant.id, "upload grant not released; it stays unusable until it expires");
        }
    }

    /// Forgets upload grants that expired a while ago; returns how many.
    pub async fn purge_upload_grants(&self) -> CoreResult<u64> {
        let before = self.clock.now().plus_ms(-EXPIRED_GRANTS_KEPT_MS);
        Ok(self.store.purge_upload_grants(before).await?)
    }

    /// A file, for downloading. Downloads are not tied to a principal: who may fetch a file is
    /// decided by whoever holds its (signed) URL.
    pub async fn file(&self, storage_key: &str) -> CoreResult<StoredFile> {
        self.store.file(storage_key).await?.ok_or_else(|| policy::file_not_found(storage_key))
    }

    /// Deletes a file and its thumbnail; returns what was removed, so the door removes the bytes.
    pub async fn delete_file(&self, principal: &Principal, storage_key: &str) -> CoreResult<Vec<StoredFile>> {
        let file = self.file(storage_key).await?;
        policy::may_delete_file(principal, &file)?;
        let removed = self.store.delete_file(storage_key).await?;
        if removed.is_empty() {
            return Err(policy::file_not_found(storage_key));
        }
        Ok(removed)
    }

    /// The uploaded file a block of a message in `tenant` shows, if it should get a thumbnail.
    pub async fn thumbnail_source(&self, tenant: &str, storage_key: &str) -> CoreResult<Option<StoredFile>> {
        Ok(self.store.file(storage_key).await?.filter(|f| f.tenant == tenant && f.wants_thumbnail()))
    }

    /// The key a door stores a new thumbnail of `source` under, before [`Core::record_thumbnail`].
    pub fn thumbnail_key(&self, source: &StoredFile) -> String {
        new_thumbnail_key(source)
    }

    /// Records that the bytes at `thumbnail_key` (a JPEG of `size` bytes) are `source`'s
    /// thumbnail, so that every message showing `source` can use it.
    pub async fn record_thumbnail(
        &self,
        source: &StoredFile,
        thumbnail_key: &str,
        size: u64,
    ) -> CoreResult<StoredFile> {
        let thumbnail = StoredFile {
            storage_key: thumbnail_key.to_owned(),
            tenant: source.tenant.clone(),
            uploader_id: source.uploader_id.clone(),
            file_name: thumbnail_key.rsplit('/').next().unwrap_or("thumbnail.jpg").to_owned(),
            content_type: "image/jpeg".to_owned(),
            size,
            created_at: self.clock.now(),
            thumbnail_key: None,
            thumbnail_of: Some(source.storage_key.clone()),
        };
        self.store.insert_thumbnail(&source.storage_key, &thumbnail).await?;
        Ok(thumbnail)
    }

    /// Puts thumbnails on the image and video blocks of a stored message and tells the
    /// conversation (`MessageThumbnailsReady`). A block that no longer shows the file the
    /// thumbnail was made of (the message was edited or deleted meanwhile), or that has a
    /// thumbnail already, is left alone. Returns what was recorded.
    pub async fn attach_thumbnails(
        &self,
        tenant: &str,
        message_id: &str,
        made: &[MadeThumbnail],
    ) -> CoreResult<Vec<BlockThumbnail>> {
        let Some(message) = self.store.message(message_id).await? else {
            return Ok(Vec::new());
        };
        let _guard = self.lock(&message.conversation_id).await;
        // Read again under the lock: an edit may have landed since.
        let Some(mut message) = self.store.message(message_id).await? else {
            return Ok(Vec::new());
        };
        // Only the conversation's tenant is needed: no participant's membership is read.
        let Some((conversation, _)) = self.store.conversation_for(&message.conversation_id, "").await? else {
            return Ok(Vec::new());
        };
        if conversation.tenant != tenant || message.is_deleted() {
            return Ok(Vec::new());
        }
        let mut recorded = Vec::new();
        for m in made {
            let slot = match message.blocks.get_mut(m.block_index as usize) {
                Some(Block::Image(b)) => Some((&b.source, &mut b.thumbnail)),
                Some(Block::Video(b)) => Some((&b.source, &mut b.thumbnail)),
                _ => None,
            };
            if let Some((source, thumbnail)) = slot
                && source.storage_key.as_deref() == Some(m.source_key.as_str())
                && thumbnail.is_none()
            {
                let reference = MediaReference { storage_key: Some(m.thumbnail_key.clone()), url: None };
                *thumbnail = Some(reference.clone());
                recorded.push(BlockThumbnail { block_index: m.block_index, thumbnail: reference });
            }
        }
        if recorded.is_empty() {
            return Ok(recorded);
        }
        self.store.set_block_thumbnails(message_id, &message.blocks).await?;
        self.publish(
            tenant,
            EventKind::MessageThumbnailsReady(ThumbnailsEvent {
                conversation_id: message.conversation_id.clone(),
                message_id: message_id.to_owned(),
                thumbnails: recorded.clone(),
            }),
        )
        .await;
        Ok(recorded)
    }
}

/// The rules of an upload request; returns the content type as it is kept (lower-case,
/// without parameters).
fn check_upload(request: &UploadRequest, limits: &Limits) -> CoreResult<String> {
    let mut check = Check::new();
    let name = request.file_name.trim();
    if name.is_empty() {
        check.fail("fileName", "must not be empty");
    } else if name.chars().count() > limits.max_file_name_chars {
        check.fail("fileName", format!("must be at most {} characters", limits.max_file_name_chars));
    } else if name.chars().any(char::is_control) {
        check.fail("fileName", "must not contain control characters");
    }
    let content_type = media_type_essence(&request.content_type);
    match &content_type {
        None => check.fail("contentType", "must be a media type such as image/png"),
        Some(t) if !content_type_allowed(t, &limits.file_content_types) => check.fail(
            "contentType",
            format!("`{t}` is not accepted here (allowed: {})", limits.file_content_types.join(", ")),
        ),
        Some(_) => {}
    }
    if request.file_size == 0 {
        check.fail("fileSize", "must be at least 1 byte");
    } else if request.file_size > limits.max_file_bytes {
        check.fail("fileSize", format!("must be at most {} bytes", limits.max_file_bytes));
    }
    check.finish()?;
    Ok(content_type.unwrap_or_default())
}

/// `type/subtype` of a media type, lower-case and without parameters, if it is well formed
/// (RFC 9110 tokens on both sides of one `/`).
fn media_type_essence(value: &str) -> Option<String> {
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (token(kind) && token(subtype)).then_some(essence)
}

fn content_type_allowed(content_type: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|pattern| match pattern.strip_suffix('*') {
        Some(prefix) => content_type.starts_with(&prefix.to_ascii_lowercase()),
        None => content_type.eq_ignore_ascii_case(pattern),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, content_type: &str, size: u64) -> UploadRequest {
        UploadRequest { file_name: name.into(), content_type: content_type.into(), file_size: size }
    }

    #[test]
    fn accepts_listed_types_and_keeps_their_essence() {
        let limits = Limits::default();
        assert_eq!(check_upload(&request("a.png", "image/PNG", 10), &limits).unwrap(), "image/png");
        assert_eq!(
            check_upload(&request("v.mp4", "video/mp4; codecs=avc1", 10), &limits).unwrap(),
            "video/mp4"
        );
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(check_upload(&request("d.docx", docx, 10), &limits).unwrap(), docx);
    }

    #[test]
    fn refuses_what_a_browser_would_run_and_what_is_malformed() {
        let limits = Limits::default();
        for bad in ["text/html", "image/svg+xml", "application/javascript", "image", "/png", "a b/c", ""] {
            let err = check_upload(&request("x", bad, 10), &limits).unwrap_err();
            assert_eq!(err.errors[0].code, "contentType", "{bad}");
        }
    }

    #[test]
    fn sizes_and_names_have_limits() {
        let limits = Limits { max_file_bytes: 100, ..Limits::default() };
        let codes = |r: UploadRequest| -> Vec<String> {
            check_upload(&r, &limits).unwrap_err().errors.into_iter().map(|e| e.code).collect()
        };
        assert_eq!(codes(request("a.png", "image/png", 101)), ["fileSize"]);
        assert_eq!(codes(request("a.png", "image/png", 0)), ["fileSize"]);
        assert_eq!(codes(request(" ", "text/html", 0)), ["fileName", "contentType", "fileSize"]);
        assert_eq!(codes(request(&"n".repeat(256), "image/png", 1)), ["fileName"]);
        assert!(check_upload(&request("a.png", "image/png", 100), &limits).is_ok());
    }
}
