-- Uploaded files (seed 002 section 8): grants to upload, and what is known of each stored object.
-- The bytes live in object storage under `storage_key`.

CREATE TABLE files (
    storage_key   TEXT    PRIMARY KEY,
    tenant        TEXT    NOT NULL,
    uploader_id   TEXT    NOT NULL,
    file_name     TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    -- the key of this file's thumbnail, once made
    thumbnail_key TEXT,
    -- for a thumbnail: the key of the file it shows
    thumbnail_of  TEXT
);

-- One row per upload URL handed out. `claimed_at` is set while an upload streams to it and
-- `completed_at` once it was used; expired rows are purged.
CREATE TABLE upload_grants (
    id           TEXT    PRIMARY KEY,
    storage_key  TEXT    NOT NULL UNIQUE,
    tenant       TEXT    NOT NULL,
    uploader_id  TEXT    NOT NULL,
    file_name    TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    claimed_at   INTEGER,
    completed_at INTEGER
);
CREATE INDEX upload_grants_by_expiry ON upload_grants (expires_at);
