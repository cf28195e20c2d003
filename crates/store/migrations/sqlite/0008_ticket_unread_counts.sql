-- Unread counts of ticket sides, kept instead of counted: counting the other side's messages
-- after a read mark costs a row per unread message, on every reply and in every ticket list,
-- and a ticket nobody reads grows without end. The count is kept by the database itself, in the
-- transaction that inserts the message, whichever path inserted it; a read mark recounts only
-- what is left after it.

ALTER TABLE ticket_reads ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;

-- Every side of every ticket gets its row and its count as of now.
INSERT INTO ticket_reads (conversation_id, side, last_read_seq, read_at)
    SELECT c.id, s.side, 0, 0
    FROM conversations c, (SELECT 'user' AS side UNION ALL SELECT 'admin') s
    WHERE c.ticket_requester_id IS NOT NULL
ON CONFLICT (conversation_id, side) DO NOTHING;

UPDATE ticket_reads SET unread = (
    SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE m.conversation_id = ticket_reads.conversation_id
      AND m.sender_type <> 'System'
      AND m.seq > ticket_reads.last_read_seq
      AND CASE WHEN ticket_reads.side = 'admin' THEN m.sender_id = c.ticket_requester_id
               ELSE m.sender_id <> c.ticket_requester_id END
);

-- A ticket's new message is unread for the other side: the admins' when the requester wrote it,
-- the requester's otherwise. System messages count for nobody.
CREATE TRIGGER ticket_messages_unread AFTER INSERT ON messages
WHEN NEW.sender_type <> 'System'
BEGIN
    INSERT INTO ticket_reads (conversation_id, side, last_read_seq, read_at, unread)
        SELECT c.id, CASE WHEN NEW.sender_id = c.ticket_requester_id THEN 'admin' ELSE 'user' END, 0, 0, 1
        FROM conversations c
        WHERE c.id = NEW.conversation_id AND c.ticket_requester_id IS NOT NULL
    ON CONFLICT (conversation_id, side) DO UPDATE SET unread = unread + 1;
END;
