// The support area of the SQL store (included by each database module after shared.rs).
// Tickets are conversations with the ticket columns set; `ticket_reads` keeps how far each side
// of a ticket has read (migration 0006) and how many of the other side's messages it has not
// (0008: kept by a trigger as messages are inserted, recounted when a read mark moves).

/// A ticket row: the conversation, and the requester's and assigned admin's names (the guest
/// name for a guest without a participant row, the admin's id for an admin without one).
macro_rules! ticket_columns {
    () => {
        concat!(
            conversation_columns!(),
            ", COALESCE(pu.full_name, c.ticket_guest_name) AS user_name, \
             COALESCE(pa.full_name, c.ticket_assigned_admin_id) AS admin_name"
        )
    };
}
macro_rules! ticket_joins {
    () => {
        " FROM conversations c \
         LEFT JOIN participants pu ON pu.tenant = c.tenant AND pu.id = c.ticket_requester_id \
         LEFT JOIN participants pa ON pa.tenant = c.tenant AND pa.id = c.ticket_assigned_admin_id "
    };
}
/// A side's unread count on a ticket (0 before it has a row): SQL for ticket `$ticket`, side
/// `$side`, each a column, parameter or quoted literal.
macro_rules! unread_of {
    ($ticket:literal, $side:literal) => {
        concat!(
            "COALESCE((SELECT r.unread FROM ticket_reads r WHERE r.conversation_id = ",
            $ticket,
            " AND r.side = ",
            $side,
            "), 0)"
        )
    };
}

/// Unread messages of ticket `c` for each side: the other side's messages after the read mark.
const ADMINS_UNREAD: &str = concat!(", ", unread_of!("c.id", "'admin'"), " AS unread_count");
const USERS_UNREAD: &str = concat!(", ", unread_of!("c.id", "'user'"), " AS unread_count");

fn ticket_from_row(row: &DbRow, with_unread: bool) -> StoreResult<Option<Ticket>> {
    let conversation = conversation_from(row)?;
    let Some(facet) = conversation.ticket else { return Ok(None) };
    let unread_count = if with_unread { Some(get::<i64>(row, "unread_count")?.max(0) as u64) } else { None };
    Ok(Some(Ticket {
        id: conversation.id,
        tenant: conversation.tenant,
        facet,
        created_at: conversation.created_at,
        updated_at: conversation.updated_at,
        user_name: get(row, "user_name")?,
        admin_name: get(row, "admin_name")?,
        unread_count,
    }))
}

/// Moves a side's read mark forward (never back) and recounts what the side has not read after
/// it — the other side's messages, usually none, so the count reads few rows: `$1` ticket,
/// `$2` side, `$3` seq, `$4` time.
macro_rules! raise_read_mark_sql {
    () => {
        "INSERT INTO ticket_reads (conversation_id, side, last_read_seq, read_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (conversation_id, side) DO UPDATE SET \
         last_read_seq = CASE WHEN excluded.last_read_seq > ticket_reads.last_read_seq \
         THEN excluded.last_read_seq ELSE ticket_reads.last_read_seq END, read_at = excluded.read_at; \
         UPDATE ticket_reads SET unread = (SELECT COUNT(*) FROM messages m \
         JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.conversation_id = $1 AND m.sender_type <> 'System' AND m.seq > ticket_reads.last_read_seq \
         AND CASE WHEN $2 = 'admin' THEN m.sender_id = c.ticket_requester_id \
         ELSE m.sender_id <> c.ticket_requester_id END) \
         WHERE conversation_id = $1 AND side = $2"
    };
}

async fn raise_read_mark(
    tx: &mut Tx,
    id: &str,
    side: TicketSide,
    seq: i64,
    at: Timestamp,
) -> StoreResult<()> {
    sqlx::query(raise_read_mark_sql!())
        .bind(id)
        .bind(side.as_str())
        .bind(seq)
        .bind(at.unix_ms())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl TicketStore for SqlStore {
    async fn create_ticket(
        &self,
        conversation: &Conversation,
        requester: &Membership,
        guest: Option<&Participant>,
        first: &NewMessage,
    ) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        if let Some(guest) = guest {
            insert_participant(&mut tx, guest, OnConflict::Ignore).await?;
        }
        insert_conversation_in_tx(&mut tx, conversation, std::slice::from_ref(requester)).await?;
        let message = append_in_tx(&mut tx, first).await?;
        raise_read_mark(&mut tx, &conversation.id, TicketSide::User, message.seq, message.created_at).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(message)
    }

    async fn ticket(&self, id: &str) -> StoreResult<Option<Ticket>> {
        let sql = concat!("SELECT ", ticket_columns!(), ticket_joins!(), "WHERE c.id = $1");
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.reader).await.map_err(db_err)?;
        match row {
            Some(row) => ticket_from_row(&row, false),
            None => Ok(None),
        }
    }

    async fn tickets(&self, query: &TicketQuery) -> StoreResult<Vec<Ticket>> {
        let mut q = QueryBuilder::<Db>::new(concat!("SELECT ", ticket_columns!()));
        q.push(match query.unread_for {
            TicketSide::Admin => ADMINS_UNREAD,
            TicketSide::User => USERS_UNREAD,
        });
        q.push(concat!(ticket_joins!(), "WHERE c.ticket_title IS NOT NULL AND c.tenant = "));
        q.push_bind(query.tenant.clone());
        if let Some(requester) = &query.requester_id {
            q.push(" AND c.ticket_requester_id = ").push_bind(requester.clone());
        }
        if let Some(status) = query.status {
            q.push(" AND c.ticket_status = ").push_bind(status.as_str());
        }
        if let Some(category) = query.category {
            q.push(" AND c.ticket_category = ").push_bind(category.as_str());
        }
        if let Some(priority) = query.priority {
            q.push(" AND c.ticket_priority = ").push_bind(priority.as_str());
        }
        if let Some(assignee) = &query.assignee_id {
            q.push(" AND c.ticket_assigned_admin_id = ").push_bind(assignee.clone());
        }
        if let Some((at, id)) = &query.after {
            q.push(" AND (c.updated_at < ").push_bind(at.unix_ms());
            q.push(" OR (c.updated_at = ").push_bind(at.unix_ms());
            q.push(" AND c.id < ").push_bind(id.clone()).push("))");
        }
        q.push(" ORDER BY c.updated_at DESC, c.id DESC LIMIT ").push_bind(query.limit as i64);
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        let mut tickets = Vec::with_capacity(rows.len());
        for row in &rows {
            tickets.extend(ticket_from_row(row, true)?);
        }
        Ok(tickets)
    }

    async fn update_ticket(&self, id: &str, facet: &TicketFacet, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE conversations SET ticket_title = $2, ticket_category = $3, ticket_priority = $4, \
             ticket_status = $5, ticket_assigned_admin_id = $6, updated_at = $7 \
             WHERE id = $1 AND ticket_title IS NOT NULL",
        )
        .bind(id)
        .bind(&facet.title)
        .bind(facet.category.as_str())
        .bind(facet.priority.as_str())
        .bind(facet.status.as_str())
        .bind(&facet.assigned_admin_id)
        .bind(at.unix_ms())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("ticket {id}")));
        }
        Ok(())
    }

    async fn submit_ticket_message(
        &self,
        m: &NewMessage,
        side: TicketSide,
        status: TicketStatus,
    ) -> StoreResult<Submitted<TicketAppend>> {
        let m = m.clone();
        let committed = self
            .group
            .submit(move |tx: &mut Tx| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let written = append_unless_present(tx, &m).await?;
                    let Written::Created(message) = &written else { return Ok((written, None)) };
                    // In one round trip: the writer's count before (the insert counted the reply
                    // for the other side only), the status before, the new status, the writer's
                    // read mark, and the other side's count with the reply.
                    let sql = concat!(
                        "SELECT ", unread_of!("$1", "$2"), "; ",
                        "SELECT ticket_status FROM conversations WHERE id = $1; ",
                        "UPDATE conversations SET ticket_status = $5, updated_at = $4 WHERE id = $1; ",
                        raise_read_mark_sql!(),
                        "; SELECT ", unread_of!("$1", "$6")
                    );
                    let rows = sqlx::query(sql)
                        .bind(&m.conversation_id)
                        .bind(side.as_str())
                        .bind(message.seq)
                        .bind(m.created_at.unix_ms())
                        .bind(status.as_str())
                        .bind(side.other().as_str())
                        .fetch_all(&mut **tx)
                        .await
                        .map_err(db_err)?;
                    let [writer, old_status, reader] = &rows[..] else {
                        return Err(StoreError::Backend(format!("a ticket reply read {} rows, not 3", rows.len())));
                    };
                    let count = |row: &DbRow| row.try_get::<i64, _>(0).map(|n| n.max(0) as u64).map_err(db_err);
                    let old_status: String = old_status.try_get(0).map_err(db_err)?;
                    let old_status = TicketStatus::parse(&old_status)
                        .ok_or_else(|| StoreError::Backend(format!("unknown ticket status {old_status}")))?;
                    Ok((written, Some((old_status, count(writer)?, count(reader)?))))
                })
            })
            .await?;
        let reader = self.reader.clone();
        Ok(Box::pin(async move {
            let (written, changed) = committed.await?;
            let appended = appended(&reader, written).await?;
            let (old_status, writer_unread, reader_unread) = changed.unwrap_or((status, 0, 0));
            Ok(TicketAppend { appended, old_status, writer_unread, reader_unread })
        }))
    }

    async fn ticket_messages(&self, id: &str, offset: u64, limit: u32) -> StoreResult<Vec<Message>> {
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages m WHERE m.conversation_id = $1 \
             AND m.sender_type <> 'System' ORDER BY m.seq DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sql)
            .bind(id)
            .bind(limit as i64)
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        self.complete_messages(rows).await
    }

    async fn mark_ticket_read(&self, id: &str, side: TicketSide, seq: i64, at: Timestamp) -> StoreResult<()> {
        // As frequent as messages (a reader marks what it sees): committed with them.
        let id = id.to_owned();
        self.group
            .run(move |tx: &mut Tx| -> BoxFuture<'_, _> {
                Box::pin(async move { raise_read_mark(tx, &id, side, seq, at).await })
            })
            .await
    }

    async fn ticket_unread(&self, id: &str, side: TicketSide) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(concat!("SELECT ", unread_of!("$1", "$2")))
            .bind(id)
            .bind(side.as_str())
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(count.max(0) as u64)
    }
}
