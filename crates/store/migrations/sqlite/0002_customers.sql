-- Customers (seed 003) and the channel facet of conversations.

ALTER TABLE conversations ADD COLUMN channel TEXT;
ALTER TABLE conversations ADD COLUMN channel_customer_id TEXT;
ALTER TABLE conversations ADD COLUMN channel_account_id TEXT;
ALTER TABLE conversations ADD COLUMN channel_external_chat_id TEXT;
CREATE INDEX conversations_by_customer ON conversations (tenant, channel_customer_id);

CREATE TABLE customers (
    tenant              TEXT    NOT NULL,
    id                  TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    primary_channel     TEXT    NOT NULL,
    email               TEXT,
    phone               TEXT,
    tags                TEXT    NOT NULL,
    notes               TEXT,
    active              BOOLEAN NOT NULL,
    last_interaction_at INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    -- the name folded by chatgate_core::text::search_key
    search_name         TEXT    NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- One customer per (channel, channel id): identities are never merged automatically.
CREATE TABLE customer_identities (
    tenant      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (tenant, channel, channel_id)
);
CREATE INDEX customer_identities_by_customer ON customer_identities (tenant, customer_id);

-- Customer tokens are kept only as SHA-256 hashes.
CREATE TABLE customer_tokens (
    token_hash  TEXT    PRIMARY KEY,
    tenant      TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    -- the channel the token was issued for; the customer's conversations there
    channel     TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX customer_tokens_by_expiry ON customer_tokens (expires_at);
