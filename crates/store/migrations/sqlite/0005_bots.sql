-- Bots (seed 002 section 9): automated participants. The participant row (kind 'bot') holds the
-- name and avatar; this row holds how the bot is reached and whether it listens.

CREATE TABLE bots (
    id                        TEXT    PRIMARY KEY,
    tenant                    TEXT    NOT NULL,
    participant_id            TEXT    NOT NULL,
    description               TEXT,
    metadata                  TEXT,
    -- `kafkaTopic` in the API: fixed at creation
    topic                     TEXT    NOT NULL,
    is_active                 BOOLEAN NOT NULL,
    listen_all_group_messages BOOLEAN NOT NULL,
    created_by                TEXT    NOT NULL,
    webhook_url               TEXT,
    webhook_secret            TEXT    NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    deleted_at                INTEGER
);
CREATE UNIQUE INDEX bots_by_participant ON bots (tenant, participant_id);
-- A topic names one bot's deliveries within its tenant (a bus outlet prefixes the tenant).
CREATE UNIQUE INDEX bots_by_topic ON bots (tenant, topic) WHERE deleted_at IS NULL;
CREATE INDEX bots_listing ON bots (tenant, created_at) WHERE deleted_at IS NULL;
