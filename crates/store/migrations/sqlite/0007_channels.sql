-- Channel accounts and the connector bridge (DESIGN 4.9): accounts on outside platforms, the
-- chats that arrive through them, and the outbox of replies their connectors deliver.

CREATE TABLE channel_accounts (
    id                 TEXT    PRIMARY KEY,
    tenant             TEXT    NOT NULL,
    type               TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    external_id        TEXT,
    -- SHA-256 of the connector key; the key itself is shown once
    connector_key_hash TEXT    NOT NULL UNIQUE,
    -- the participant that speaks for the account (messages sent from the platform itself)
    speaker_id         TEXT    NOT NULL,
    session_state      TEXT    NOT NULL,
    qr_code            TEXT,
    phone_number       TEXT,
    display_name       TEXT,
    disconnect_reason  TEXT,
    -- the last outbox sequence number given out (entries are numbered per account)
    outbox_seq         INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX channel_accounts_by_tenant ON channel_accounts (tenant, created_at);
-- A page or number belongs to one account (and so one tenant) at a time.
CREATE UNIQUE INDEX channel_accounts_by_external_id ON channel_accounts (type, external_id)
    WHERE external_id IS NOT NULL;

-- One row per channel conversation of an account: what chat lists show.
CREATE TABLE channel_chats (
    conversation_id   TEXT    PRIMARY KEY,
    tenant            TEXT    NOT NULL,
    account_id        TEXT    NOT NULL,
    external_chat_id  TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    is_group          BOOLEAN NOT NULL,
    customer_id       TEXT,
    unread_count      INTEGER NOT NULL DEFAULT 0,
    -- the newest message dashboards show
    last_message_at   INTEGER,
    last_message_text TEXT,
    created_at        INTEGER NOT NULL
);
-- One outside chat is one conversation.
CREATE UNIQUE INDEX channel_chats_by_external_id ON channel_chats (account_id, external_chat_id);
CREATE INDEX channel_chats_listing ON channel_chats (account_id, last_message_at, conversation_id);

-- Replies waiting for the connector, removed when it acknowledges them.
CREATE TABLE channel_outbox (
    id                    TEXT    PRIMARY KEY,
    tenant                TEXT    NOT NULL,
    account_id            TEXT    NOT NULL,
    -- the entry's place in the account's outbox: 1, 2, 3… never reused
    seq                   INTEGER NOT NULL,
    conversation_id       TEXT    NOT NULL,
    message_id            TEXT    NOT NULL,
    external_chat_id      TEXT,
    reply_to_external_id  TEXT,
    sender_id             TEXT    NOT NULL,
    sender_name           TEXT    NOT NULL,
    text                  TEXT,
    blocks                TEXT    NOT NULL,
    created_at            INTEGER NOT NULL
);
CREATE UNIQUE INDEX channel_outbox_in_order ON channel_outbox (account_id, seq);

-- Password grants look a username up in every tenant.
CREATE INDEX credentials_by_username ON credentials (username);
