-- The support desk (seed 001): how far each side of a ticket has read, and the indexes ticket
-- listings use. Tickets themselves are conversations with the ticket columns of 0003.

CREATE TABLE ticket_reads (
    conversation_id TEXT    NOT NULL REFERENCES conversations (id),
    -- 'user' (the requester) or 'admin' (the tenant's admins, together)
    side            TEXT    NOT NULL,
    -- the seq of the last message this side has read
    last_read_seq   INTEGER NOT NULL,
    read_at         INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, side)
);

-- A tenant's tickets, most recently changed first; and one requester's.
CREATE INDEX conversations_tickets_by_update
    ON conversations (tenant, updated_at, id) WHERE ticket_title IS NOT NULL;
CREATE INDEX conversations_tickets_by_requester
    ON conversations (tenant, ticket_requester_id, updated_at, id) WHERE ticket_title IS NOT NULL;
