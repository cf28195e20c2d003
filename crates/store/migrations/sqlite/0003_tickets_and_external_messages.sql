-- The ticket facet of conversations (seed 001), and the outside-platform side of messages
-- (connectors: WhatsApp, Facebook…).

ALTER TABLE conversations ADD COLUMN ticket_title TEXT;
ALTER TABLE conversations ADD COLUMN ticket_category TEXT;
ALTER TABLE conversations ADD COLUMN ticket_priority TEXT;
ALTER TABLE conversations ADD COLUMN ticket_status TEXT;
ALTER TABLE conversations ADD COLUMN ticket_requester_id TEXT;
ALTER TABLE conversations ADD COLUMN ticket_assigned_admin_id TEXT;
ALTER TABLE conversations ADD COLUMN ticket_guest_name TEXT;
ALTER TABLE conversations ADD COLUMN ticket_guest_email TEXT;
CREATE INDEX conversations_tickets ON conversations (tenant, ticket_status) WHERE ticket_title IS NOT NULL;
CREATE INDEX conversations_by_channel_chat ON conversations (tenant, channel_account_id, channel_external_chat_id);

ALTER TABLE messages ADD COLUMN external TEXT;
ALTER TABLE messages ADD COLUMN external_id TEXT;
-- A platform's message is stored once per conversation, however often a connector sends it.
CREATE UNIQUE INDEX messages_external ON messages (conversation_id, external_id) WHERE external_id IS NOT NULL;
