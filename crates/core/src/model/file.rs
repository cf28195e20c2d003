//! Uploaded files: what is known of an object in file storage, and the grants to upload one.
//! The bytes live outside the core (a door's object storage); here are the facts about them.

use serde::{Deserialize, Serialize};

use crate::TenantId;
use crate::ids::{ParticipantId, new_id};
use crate::time::Timestamp;

/// An uploaded file (or a thumbnail made of one). Its `storage_key` names it everywhere: in
/// object storage, in `MediaReference.storageKey` and in `/api/files/{storageKey}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub storage_key: String,
    pub tenant: TenantId,
    /// Who uploaded it: the only participant who may delete it. A thumbnail belongs to the
    /// uploader of the file it shows.
    pub uploader_id: ParticipantId,
    pub file_name: String,
    /// A media type without parameters, lower-case (`image/png`).
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    pub created_at: Timestamp,
    /// The key of this file's thumbnail, once one was made.
    pub thumbnail_key: Option<String>,
    /// For a thumbnail: the key of the file it shows.
    pub thumbnail_of: Option<String>,
}

impl StoredFile {
    /// Images and videos get thumbnails; thumbnails do not.
    pub fn wants_thumbnail(&self) -> bool {
        self.thumbnail_of.is_none()
            && (self.content_type.starts_with("image/") || self.content_type.starts_with("video/"))
    }
}

/// Permission to upload one file: granted by `POST /api/files/upload-url`, used once by the
/// participant it was granted to, before it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadGrant {
    /// Names the grant in the upload URL. A ULID: 80 random bits, and useless to anyone but the
    /// participant it was granted to.
    pub id: String,
    /// The key the file will have.
    pub storage_key: String,
    pub tenant: TenantId,
    pub uploader_id: ParticipantId,
    pub file_name: String,
    pub content_type: String,
    /// The announced size: the upload must be exactly this long.
    pub size: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The key of a new upload: a fresh ULID, then the file name made safe for a path segment
/// (`01HX…/photo 1.jpg`). Unique by its ULID, readable by its name.
pub fn new_storage_key(file_name: &str) -> String {
    format!("{}/{}", new_id(), key_segment(file_name))
}

/// The key of a new thumbnail of `source`: `01HX…/photo-thumbnail.jpg`.
pub fn new_thumbnail_key(source: &StoredFile) -> String {
    let name = source.file_name.rsplit_once('.').map_or(source.file_name.as_str(), |(stem, _)| stem);
    format!("{}/{}-thumbnail.jpg", new_id(), key_segment(name))
}

/// A file name as one path segment: no separators, no control characters, not `.` or `..`,
/// at most 200 bytes (cut on a character boundary). Everything else, spaces and non-ASCII
/// letters included, is kept: keys are percent-encoded per segment in URLs.
fn key_segment(name: &str) -> String {
    let mut segment: String =
        name.trim().chars().map(|c| if c == '/' || c == '\\' || c.is_control() { '_' } else { c }).collect();
    if segment.len() > 200 {
        let mut end = 200;
        while !segment.is_char_boundary(end) {
            end -= 1;
        }
        segment.truncate(end);
    }
    if segment.is_empty() || segment.chars().all(|c| c == '.') {
        segment = "file".to_owned();
    }
    segment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_ulid_segment_and_one_safe_name_segment() {
        let key = new_storage_key("holiday photo #1.jpg");
        let (id, name) = key.split_once('/').unwrap();
        assert!(crate::ids::is_ulid(id));
        assert_eq!(name, "holiday photo #1.jpg");
        assert!(new_storage_key("../../etc/passwd").ends_with("/.._.._etc_passwd"));
        assert!(new_storage_key("..").ends_with("/file"));
        assert!(new_storage_key("a\u{0}b").ends_with("/a_b"));
        let long = new_storage_key(&"é".repeat(300));
        assert!(long.split_once('/').unwrap().1.len() <= 200);
    }

    #[test]
    fn thumbnails_are_named_after_their_source() {
        let source = StoredFile {
            storage_key: "K/cat.png".into(),
            tenant: "t".into(),
            uploader_id: "u".into(),
            file_name: "cat.png".into(),
            content_type: "image/png".into(),
            size: 1,
            created_at: Timestamp::from_unix_ms(0),
            thumbnail_key: None,
            thumbnail_of: None,
        };
        assert!(source.wants_thumbnail());
        assert!(new_thumbnail_key(&source).ends_with("/cat-thumbnail.jpg"));
        let pdf = StoredFile { content_type: "application/pdf".into(), ..source.clone() };
        assert!(!pdf.wants_thumbnail());
        let thumb = StoredFile { thumbnail_of: Some("K/cat.png".into()), ..source };
        assert!(!thumb.wants_thumbnail());
    }
}
