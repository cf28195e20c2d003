// The channel area of the SQL store (included by each database module after shared.rs):
// channel accounts, their chats and the outbox of replies.

macro_rules! channel_account_columns {
    () => {
        "a.id, a.tenant, a.type, a.name, a.external_id, a.connector_key_hash, a.speaker_id, \
         a.session_state, a.qr_code, a.phone_number, a.display_name, a.disconnect_reason, \
         a.created_at, a.updated_at"
    };
}
macro_rules! channel_chat_columns {
    () => {
        "h.conversation_id, h.tenant, h.account_id, h.external_chat_id, h.name, h.is_group, \
         h.customer_id, h.unread_count, h.last_message_at, h.last_message_text, h.created_at"
    };
}
macro_rules! outbox_columns {
    () => {
        "o.id, o.tenant, o.account_id, o.seq, o.conversation_id, o.message_id, o.external_chat_id, \
         o.reply_to_external_id, o.sender_id, o.sender_name, o.text, o.blocks, o.created_at"
    };
}
/// What chat lists sort by.
macro_rules! chat_activity {
    () => {
        "COALESCE(h.last_message_at, h.created_at)"
    };
}

fn channel_account_from(row: &DbRow) -> StoreResult<ChannelAccount> {
    let channel_type: String = get(row, "type")?;
    let state: String = get(row, "session_state")?;
    Ok(ChannelAccount {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        channel_type: ChannelType::parse(&channel_type)
            .ok_or_else(|| StoreError::Backend(format!("unknown channel type `{channel_type}`")))?,
        name: get(row, "name")?,
        external_id: get(row, "external_id")?,
        connector_key_hash: get(row, "connector_key_hash")?,
        speaker_id: get(row, "speaker_id")?,
        session: ChannelSession {
            state: SessionState::parse(&state)
                .ok_or_else(|| StoreError::Backend(format!("unknown session state `{state}`")))?,
            qr_code: get(row, "qr_code")?,
            phone_number: get(row, "phone_number")?,
            display_name: get(row, "display_name")?,
            reason: get(row, "disconnect_reason")?,
        },
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn channel_chat_from(row: &DbRow) -> StoreResult<ChannelChat> {
    Ok(ChannelChat {
        conversation_id: get(row, "conversation_id")?,
        tenant: get(row, "tenant")?,
        account_id: get(row, "account_id")?,
        external_chat_id: get(row, "external_chat_id")?,
        name: get(row, "name")?,
        is_group: get(row, "is_group")?,
        customer_id: get(row, "customer_id")?,
        unread_count: get::<i64>(row, "unread_count")?.clamp(0, u32::MAX as i64) as u32,
        last_message_at: get_opt_ts(row, "last_message_at")?,
        last_message_text: get(row, "last_message_text")?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn outbox_entry_from(row: &DbRow) -> StoreResult<OutboxEntry> {
    let blocks: String = get(row, "blocks")?;
    Ok(OutboxEntry {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        account_id: get(row, "account_id")?,
        seq: get(row, "seq")?,
        conversation_id: get(row, "conversation_id")?,
        message_id: get(row, "message_id")?,
        external_chat_id: get(row, "external_chat_id")?,
        reply_to_external_id: get(row, "reply_to_external_id")?,
        sender_id: get(row, "sender_id")?,
        sender_name: get(row, "sender_name")?,
        text: get(row, "text")?,
        blocks: from_json("blocks", &blocks)?,
        created_at: get_ts(row, "created_at")?,
    })
}

async fn chat_in_tx(tx: &mut Tx, conversation_id: &str) -> StoreResult<Option<ChannelChat>> {
    let sql =
        concat!("SELECT ", channel_chat_columns!(), " FROM channel_chats h WHERE h.conversation_id = $1");
    let row = sqlx::query(sql).bind(conversation_id).fetch_optional(&mut **tx).await.map_err(db_err)?;
    row.as_ref().map(channel_chat_from).transpose()
}

/// A new message's effect on its chat's dashboard row.
async fn record_chat_change(tx: &mut Tx, conversation_id: &str, change: &ChatChange) -> StoreResult<()> {
    if change.shown {
        sqlx::query(
            "UPDATE channel_chats SET last_message_at = $2, last_message_text = $3, \
             unread_count = CASE WHEN $4 THEN 0 WHEN $5 THEN unread_count + 1 ELSE unread_count END, \
             name = COALESCE($6, name) WHERE conversation_id = $1",
        )
        .bind(conversation_id)
        .bind(change.last_message_at.unix_ms())
        .bind(&change.last_message_text)
        .bind(change.read)
        .bind(change.unread)
        .bind(&change.name)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    } else if let Some(name) = &change.name {
        sqlx::query("UPDATE channel_chats SET name = $2 WHERE conversation_id = $1")
            .bind(conversation_id)
            .bind(name)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

async fn insert_outbox_entry(tx: &mut Tx, e: &OutboxEntry) -> StoreResult<i64> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE channel_accounts SET outbox_seq = outbox_seq + 1 WHERE id = $1 RETURNING outbox_seq",
    )
    .bind(&e.account_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?;
    let seq = seq.ok_or_else(|| StoreError::NotFound(format!("channel account {}", e.account_id)))?;
    sqlx::query(
        "INSERT INTO channel_outbox (id, tenant, account_id, seq, conversation_id, message_id, \
         external_chat_id, reply_to_external_id, sender_id, sender_name, text, blocks, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&e.id)
    .bind(&e.tenant)
    .bind(&e.account_id)
    .bind(seq)
    .bind(&e.conversation_id)
    .bind(&e.message_id)
    .bind(&e.external_chat_id)
    .bind(&e.reply_to_external_id)
    .bind(&e.sender_id)
    .bind(&e.sender_name)
    .bind(&e.text)
    .bind(to_json(&e.blocks)?)
    .bind(e.created_at.unix_ms())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(seq)
}

impl SqlStore {
    async fn fetch_channel_chat(&self, conversation_id: &str) -> StoreResult<Option<ChannelChat>> {
        let sql =
            concat!("SELECT ", channel_chat_columns!(), " FROM channel_chats h WHERE h.conversation_id = $1");
        let row =
            sqlx::query(sql).bind(conversation_id).fetch_optional(&self.reader).await.map_err(db_err)?;
        row.as_ref().map(channel_chat_from).transpose()
    }

    async fn fetch_chat_by_external_id(
        &self,
        account_id: &str,
        external_chat_id: &str,
    ) -> StoreResult<Option<ChannelChat>> {
        let sql = concat!(
            "SELECT ",
            channel_chat_columns!(),
            " FROM channel_chats h WHERE h.account_id = $1 AND h.external_chat_id = $2"
        );
        let row = sqlx::query(sql)
            .bind(account_id)
            .bind(external_chat_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(channel_chat_from).transpose()
    }

    /// Creates the conversation, its members and its chat row, unless the chat exists.
    async fn insert_channel_chat(
        &self,
        chat: &ChannelChat,
        c: &Conversation,
        members: &[Membership],
    ) -> StoreResult<(ChannelChat, bool)> {
        let mut tx = self.begin().await?;
        let sql = concat!(
            "SELECT ",
            channel_chat_columns!(),
            " FROM channel_chats h WHERE h.account_id = $1 AND h.external_chat_id = $2"
        );
        let existing = sqlx::query(sql)
            .bind(&chat.account_id)
            .bind(&chat.external_chat_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if let Some(row) = existing {
            return Ok((channel_chat_from(&row)?, false));
        }
        insert_conversation_in_tx(&mut tx, c, members).await?;
        sqlx::query(
            "INSERT INTO channel_chats (conversation_id, tenant, account_id, external_chat_id, name, \
             is_group, customer_id, unread_count, last_message_at, last_message_text, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, NULL, $8)",
        )
        .bind(&c.id)
        .bind(&chat.tenant)
        .bind(&chat.account_id)
        .bind(&chat.external_chat_id)
        .bind(&chat.name)
        .bind(chat.is_group)
        .bind(&chat.customer_id)
        .bind(chat.created_at.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok((ChannelChat { conversation_id: c.id.clone(), ..chat.clone() }, true))
    }
}

#[async_trait]
impl ChannelStore for SqlStore {
    async fn create_channel_account(&self, a: &ChannelAccount, speaker: &Participant) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_participant(&mut tx, speaker, OnConflict::Fail).await?;
        sqlx::query(
            "INSERT INTO channel_accounts (id, tenant, type, name, external_id, connector_key_hash, \
             speaker_id, session_state, qr_code, phone_number, display_name, disconnect_reason, \
             outbox_seq, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14)",
        )
        .bind(&a.id)
        .bind(&a.tenant)
        .bind(a.channel_type.as_str())
        .bind(&a.name)
        .bind(&a.external_id)
        .bind(&a.connector_key_hash)
        .bind(&a.speaker_id)
        .bind(a.session.state.as_str())
        .bind(&a.session.qr_code)
        .bind(&a.session.phone_number)
        .bind(&a.session.display_name)
        .bind(&a.session.reason)
        .bind(a.created_at.unix_ms())
        .bind(a.updated_at.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn channel_account(&self, tenant: &str, id: &str) -> StoreResult<Option<ChannelAccount>> {
        let sql = concat!(
            "SELECT ",
            channel_account_columns!(),
            " FROM channel_accounts a WHERE a.tenant = $1 AND a.id = $2"
        );
        let row =
            sqlx::query(sql).bind(tenant).bind(id).fetch_optional(&self.reader).await.map_err(db_err)?;
        row.as_ref().map(channel_account_from).transpose()
    }

    async fn channel_account_by_key(&self, key_hash: &str) -> StoreResult<Option<ChannelAccount>> {
        let sql = concat!(
            "SELECT ",
            channel_account_columns!(),
            " FROM channel_accounts a WHERE a.connector_key_hash = $1"
        );
        let row = sqlx::query(sql).bind(key_hash).fetch_optional(&self.reader).await.map_err(db_err)?;
        row.as_ref().map(channel_account_from).transpose()
    }

    async fn channel_accounts(&self, tenant: &str, limit: u32) -> StoreResult<Vec<ChannelAccount>> {
        let sql = concat!(
            "SELECT ",
            channel_account_columns!(),
            " FROM channel_accounts a WHERE a.tenant = $1 ORDER BY a.created_at, a.id LIMIT $2"
        );
        let rows =
            sqlx::query(sql).bind(tenant).bind(limit as i64).fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(channel_account_from).collect()
    }

    async fn set_connector_key(
        &self,
        tenant: &str,
        id: &str,
        key_hash: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE channel_accounts SET connector_key_hash = $3, updated_at = $4 WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .bind(key_hash)
        .bind(at.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("channel account {id}")));
        }
        tx.commit().await.map_err(db_err)
    }

    async fn set_channel_session(
        &self,
        tenant: &str,
        id: &str,
        s: &ChannelSession,
        at: Timestamp,
    ) -> StoreResult<ChannelAccount> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE channel_accounts SET session_state = $3, qr_code = $4, phone_number = $5, \
             display_name = $6, disconnect_reason = $7, updated_at = $8 WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .bind(s.state.as_str())
        .bind(&s.qr_code)
        .bind(&s.phone_number)
        .bind(&s.display_name)
        .bind(&s.reason)
        .bind(at.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("channel account {id}")));
        }
        let sql = concat!("SELECT ", channel_account_columns!(), " FROM channel_accounts a WHERE a.id = $1");
        let row = sqlx::query(sql).bind(id).fetch_one(&mut *tx).await.map_err(db_err)?;
        let account = channel_account_from(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(account)
    }

    async fn open_channel_chat(
        &self,
        chat: &ChannelChat,
        conversation: &Conversation,
        members: &[Membership],
    ) -> StoreResult<(ChannelChat, bool)> {
        // Most messages arrive in a chat that exists: read it without taking the writer.
        if let Some(found) = self.fetch_chat_by_external_id(&chat.account_id, &chat.external_chat_id).await? {
            return Ok((found, false));
        }
        match self.insert_channel_chat(chat, conversation, members).await {
            // Another writer opened the same chat first (databases with concurrent writers).
            Err(StoreError::Conflict(_)) => self
                .fetch_chat_by_external_id(&chat.account_id, &chat.external_chat_id)
                .await?
                .map(|found| (found, false))
                .ok_or_else(|| StoreError::Backend("a channel chat conflicted and then vanished".to_owned())),
            other => other,
        }
    }

    async fn channel_chat(&self, conversation_id: &str) -> StoreResult<Option<ChannelChat>> {
        self.fetch_channel_chat(conversation_id).await
    }

    async fn channel_chats(&self, account_id: &str, query: &ChatQuery) -> StoreResult<Vec<ChannelChat>> {
        let mut q = QueryBuilder::<Db>::new(concat!(
            "SELECT ",
            channel_chat_columns!(),
            " FROM channel_chats h WHERE h.last_message_at IS NOT NULL AND h.account_id = "
        ));
        q.push_bind(account_id.to_owned());
        match query.kind {
            ChatKind::All => {}
            ChatKind::Group => {
                q.push(" AND h.is_group = ");
                q.push_bind(true);
            }
            ChatKind::Individual => {
                q.push(" AND h.is_group = ");
                q.push_bind(false);
            }
        }
        if let Some((activity_at, id)) = &query.after {
            // Keyset on (activity DESC, id DESC).
            q.push(concat!(" AND (", chat_activity!(), " < "));
            q.push_bind(activity_at.unix_ms());
            q.push(concat!(" OR (", chat_activity!(), " = "));
            q.push_bind(activity_at.unix_ms());
            q.push(" AND h.conversation_id < ");
            q.push_bind(id.clone());
            q.push("))");
        }
        q.push(concat!(" ORDER BY ", chat_activity!(), " DESC, h.conversation_id DESC LIMIT "));
        q.push_bind(query.limit as i64);
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(channel_chat_from).collect()
    }

    async fn append_channel_message(
        &self,
        m: &NewMessage,
        change: &ChatChange,
        outbox: Option<&OutboxEntry>,
    ) -> StoreResult<(Appended, Option<ChannelChat>)> {
        let conversation_id = m.conversation_id.clone();
        let (m, change, outbox) = (m.clone(), change.clone(), outbox.cloned());
        let (written, chat) = self
            .group
            .run(move |tx: &mut Tx| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let written = append_unless_present(tx, &m).await?;
                    if matches!(written, Written::Found(_)) {
                        return Ok((written, None));
                    }
                    record_chat_change(tx, &m.conversation_id, &change).await?;
                    if let Some(entry) = &outbox {
                        insert_outbox_entry(tx, entry).await?;
                    }
                    let chat = chat_in_tx(tx, &m.conversation_id).await?;
                    Ok((written, chat))
                })
            })
            .await?;
        let chat = match written {
            Written::Found(_) => self.fetch_channel_chat(&conversation_id).await?,
            Written::Created(_) => chat,
        };
        Ok((appended(&self.reader, written).await?, chat))
    }

    async fn mark_channel_chat_read(
        &self,
        conversation_id: &str,
    ) -> StoreResult<Option<(ChannelChat, bool)>> {
        // As frequent as messages (an agent reads each chat it answers): committed with them.
        let conversation_id = conversation_id.to_owned();
        self.group
            .run(move |tx: &mut Tx| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE channel_chats SET unread_count = 0 \
                         WHERE conversation_id = $1 AND unread_count <> 0",
                    )
                    .bind(&conversation_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                    let chat = chat_in_tx(tx, &conversation_id).await?;
                    Ok(chat.map(|c| (c, done.rows_affected() > 0)))
                })
            })
            .await
    }

    async fn outbox(&self, account_id: &str, after: i64, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let sql = concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM channel_outbox o WHERE o.account_id = $1 AND o.seq > $2 ORDER BY o.seq LIMIT $3"
        );
        let rows = sqlx::query(sql)
            .bind(account_id)
            .bind(after)
            .bind(limit as i64)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(outbox_entry_from).collect()
    }

    async fn ack_outbox(&self, account_id: &str, acks: &[OutboxAck]) -> StoreResult<u32> {
        // A connector acknowledges every reply it delivers: committed with the messages.
        let (account_id, acks) = (account_id.to_owned(), acks.to_vec());
        self.group
            .run(move |tx: &mut Tx| -> BoxFuture<'_, _> {
                Box::pin(async move { remove_acknowledged(tx, &account_id, &acks).await })
            })
            .await
    }
}

/// Removes the acknowledged entries of `account_id`'s outbox (and records the platform's id of
/// each message); returns how many were there.
async fn remove_acknowledged(tx: &mut Tx, account_id: &str, acks: &[OutboxAck]) -> StoreResult<u32> {
    let mut removed = 0;
    for ack in acks {
        let row: Option<(String, String)> = sqlx::query_as(
            "DELETE FROM channel_outbox WHERE account_id = $1 AND id = $2 \
             RETURNING message_id, conversation_id",
        )
        .bind(account_id)
        .bind(&ack.entry_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
        let Some((message_id, conversation_id)) = row else { continue };
        removed += 1;
        if let Some(external) = &ack.external {
            // The platform's echo of this message is then recognised as the same message;
            // if the echo was stored first, the message keeps no platform id.
            sqlx::query(
                "UPDATE messages SET external_id = $2, external = $3 WHERE id = $1 \
                 AND external_id IS NULL AND NOT EXISTS (SELECT 1 FROM messages x \
                 WHERE x.conversation_id = $4 AND x.external_id = $2)",
            )
            .bind(&message_id)
            .bind(&external.id)
            .bind(to_json(external)?)
            .bind(&conversation_id)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        }
    }
    Ok(removed)
}
