-- chatgate schema, SQLite edition. Instants are Unix milliseconds; structured values are JSON text.

CREATE TABLE participants (
    tenant      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    unique_name TEXT    NOT NULL,
    full_name   TEXT    NOT NULL,
    avatar      TEXT,
    gender      TEXT,
    kind        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- full and unique name folded by chatgate_core::text::search_key
    search_name TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX participants_unique_name ON participants (tenant, unique_name);

CREATE TABLE credentials (
    tenant         TEXT    NOT NULL,
    username       TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    participant_id TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant, username)
);

CREATE TABLE conversations (
    id              TEXT    PRIMARY KEY,
    tenant          TEXT    NOT NULL,
    name            TEXT,
    avatar          TEXT,
    owner_id        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_message_at INTEGER,
    last_message_id TEXT,
    last_seq        INTEGER NOT NULL DEFAULT 0,
    -- the name folded by chatgate_core::text::search_key
    search_name     TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE memberships (
    conversation_id TEXT    NOT NULL REFERENCES conversations (id),
    participant_id  TEXT    NOT NULL,
    joined_at       INTEGER NOT NULL,
    left_at         INTEGER,
    is_active       BOOLEAN NOT NULL,
    is_pinned       BOOLEAN NOT NULL DEFAULT FALSE,
    pinned_at       INTEGER,
    joined_seq      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, participant_id)
);
CREATE INDEX memberships_by_participant ON memberships (participant_id, is_active);

-- `pk` is an explicit INTEGER PRIMARY KEY so that VACUUM keeps it stable: the full-text index
-- refers to messages by it.
CREATE TABLE messages (
    pk                  INTEGER PRIMARY KEY,
    id                  TEXT    NOT NULL UNIQUE,
    conversation_id     TEXT    NOT NULL REFERENCES conversations (id),
    seq                 INTEGER NOT NULL,
    sender_id           TEXT    NOT NULL,
    sender_type         TEXT    NOT NULL,
    blocks              TEXT    NOT NULL,
    plain_text          TEXT,
    reply_to_message_id TEXT,
    quick_replies       TEXT,
    mentions            TEXT,
    client_message_id   TEXT,
    system_event        TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    edited_at           INTEGER,
    deleted_at          INTEGER,
    deleted_by          TEXT
);
CREATE UNIQUE INDEX messages_in_order ON messages (conversation_id, seq);
CREATE UNIQUE INDEX messages_idempotency
    ON messages (conversation_id, sender_id, client_message_id)
    WHERE client_message_id IS NOT NULL;

CREATE TABLE message_media (
    conversation_id TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    block_index     INTEGER NOT NULL,
    message_id      TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    PRIMARY KEY (conversation_id, seq, block_index)
);
CREATE INDEX message_media_by_message ON message_media (message_id);

CREATE TABLE reactions (
    message_id     TEXT    NOT NULL,
    participant_id TEXT    NOT NULL,
    emoji          TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (message_id, participant_id, emoji)
);

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    plain_text,
    content = 'messages',
    content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, plain_text) VALUES (new.pk, new.plain_text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, plain_text) VALUES ('delete', old.pk, old.plain_text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF plain_text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, plain_text) VALUES ('delete', old.pk, old.plain_text);
    INSERT INTO messages_fts (rowid, plain_text) VALUES (new.pk, new.plain_text);
END;
