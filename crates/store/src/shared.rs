// The body of every SQL store, written once in portable SQL (`$1` placeholders, no dialect
// functions) and compiled once per database: `sqlite.rs` (and `postgres.rs`) define `Db`, the
// store struct `SqlStore` with its `writer` and `reader` pools, and the few queries that differ
// (`describe_store`, `search_messages_fts`), then `include!` this file. Each inclusion is
// type-checked against its own concrete database, which sqlx's generic bounds make impractical
// to express once.

use async_trait::async_trait;
use chatgate_core::Timestamp;
use chatgate_core::ids::ParticipantId;
use chatgate_core::model::*;
use chatgate_core::principal::Role;
use chatgate_core::store::*;
use chatgate_core::text::search_key;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{QueryBuilder, Row};

type DbRow = <Db as sqlx::Database>::Row;
type Tx = sqlx::Transaction<'static, Db>;

// Column lists as macros so that queries are `concat!`-ed string literals, built at compile time.
macro_rules! participant_columns {
    () => {
        "tenant, id, unique_name, full_name, avatar, gender, kind, created_at, updated_at"
    };
}
macro_rules! conversation_columns {
    () => {
        "c.id, c.tenant, c.name, c.avatar, c.owner_id, c.created_at, c.updated_at, \
         c.last_message_at, c.last_message_id, c.last_seq, c.channel, c.channel_customer_id, \
         c.channel_account_id, c.channel_external_chat_id, c.ticket_title, c.ticket_category, \
         c.ticket_priority, c.ticket_status, c.ticket_requester_id, c.ticket_assigned_admin_id, \
         c.ticket_guest_name, c.ticket_guest_email"
    };
}
macro_rules! membership_columns {
    () => {
        "me.conversation_id, me.participant_id, me.joined_at, me.left_at, me.is_active, \
         me.is_pinned, me.pinned_at, me.joined_seq"
    };
}
macro_rules! message_columns {
    () => {
        "m.id, m.conversation_id, m.seq, m.sender_id, m.sender_type, m.blocks, m.plain_text, \
         m.reply_to_message_id, m.quick_replies, m.mentions, m.client_message_id, \
         m.system_event, m.external, m.created_at, m.updated_at, m.edited_at, m.deleted_at, \
         m.deleted_by"
    };
}
/// What a participant's conversation list is ordered by.
macro_rules! activity {
    () => {
        "COALESCE(c.last_message_at, c.created_at)"
    };
}
/// The conversation-list row: conversation, the reader's membership, active participant count.
macro_rules! list_select {
    () => {
        concat!(
            "SELECT ", conversation_columns!(), ", ", membership_columns!(),
            ", (SELECT COUNT(*) FROM memberships x WHERE x.conversation_id = c.id \
             AND x.is_active = TRUE) AS participant_count \
             FROM memberships me JOIN conversations c ON c.id = me.conversation_id "
        )
    };
}

fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_owned())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))
}

fn opt_json<T: Serialize>(value: &Option<T>) -> StoreResult<Option<String>> {
    value.as_ref().map(to_json).transpose()
}

fn from_json<T: DeserializeOwned>(column: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Backend(format!("column `{column}` holds unreadable JSON: {e}")))
}

fn get<'r, T>(row: &'r DbRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
{
    row.try_get(column).map_err(db_err)
}

fn get_json<T: DeserializeOwned>(row: &DbRow, column: &str) -> StoreResult<Option<T>> {
    get::<Option<String>>(row, column)?.map(|s| from_json(column, &s)).transpose()
}

fn get_ts(row: &DbRow, column: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_unix_ms(get::<i64>(row, column)?))
}

fn get_opt_ts(row: &DbRow, column: &str) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, column)?.map(Timestamp::from_unix_ms))
}

fn participant_from(row: &DbRow) -> StoreResult<Participant> {
    let kind: String = get(row, "kind")?;
    Ok(Participant {
        tenant: get(row, "tenant")?,
        id: get(row, "id")?,
        unique_name: get(row, "unique_name")?,
        full_name: get(row, "full_name")?,
        avatar: get_json(row, "avatar")?,
        gender: get(row, "gender")?,
        kind: ParticipantKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown participant kind `{kind}`")))?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn conversation_from(row: &DbRow) -> StoreResult<Conversation> {
    Ok(Conversation {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        name: get(row, "name")?,
        avatar: get_json(row, "avatar")?,
        owner_id: get(row, "owner_id")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        last_message_at: get_opt_ts(row, "last_message_at")?,
        last_message_id: get(row, "last_message_id")?,
        last_seq: get(row, "last_seq")?,
        channel: match get::<Option<String>>(row, "channel")? {
            None => None,
            Some(channel) => Some(ChannelFacet {
                channel,
                customer_id: get(row, "channel_customer_id")?,
                account_id: get(row, "channel_account_id")?,
                external_chat_id: get(row, "channel_external_chat_id")?,
            }),
        },
        ticket: ticket_from(row)?,
    })
}

fn ticket_from(row: &DbRow) -> StoreResult<Option<TicketFacet>> {
    let Some(title) = get::<Option<String>>(row, "ticket_title")? else { return Ok(None) };
    fn parse<T>(row: &DbRow, column: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
        let text: String = get::<Option<String>>(row, column)?.unwrap_or_default();
        parse(&text).ok_or_else(|| StoreError::Backend(format!("column `{column}` holds `{text}`")))
    }
    Ok(Some(TicketFacet {
        title,
        category: parse(row, "ticket_category", TicketCategory::parse)?,
        priority: parse(row, "ticket_priority", TicketPriority::parse)?,
        status: parse(row, "ticket_status", TicketStatus::parse)?,
        requester_id: get::<Option<String>>(row, "ticket_requester_id")?.unwrap_or_default(),
        assigned_admin_id: get(row, "ticket_assigned_admin_id")?,
        guest_name: get(row, "ticket_guest_name")?,
        guest_email: get(row, "ticket_guest_email")?,
    }))
}

fn membership_from(row: &DbRow) -> StoreResult<Membership> {
    Ok(Membership {
        conversation_id: get(row, "conversation_id")?,
        participant_id: get(row, "participant_id")?,
        joined_at: get_ts(row, "joined_at")?,
        left_at: get_opt_ts(row, "left_at")?,
        is_active: get(row, "is_active")?,
        is_pinned: get(row, "is_pinned")?,
        pinned_at: get_opt_ts(row, "pinned_at")?,
        joined_seq: get(row, "joined_seq")?,
    })
}

/// A message row, without its reactions (see `SqlStore::with_reactions`).
fn message_from(row: &DbRow) -> StoreResult<Message> {
    let sender_type: String = get(row, "sender_type")?;
    let blocks: String = get(row, "blocks")?;
    Ok(Message {
        id: get(row, "id")?,
        conversation_id: get(row, "conversation_id")?,
        seq: get(row, "seq")?,
        sender_id: get(row, "sender_id")?,
        sender_type: SenderType::parse(&sender_type)
            .ok_or_else(|| StoreError::Backend(format!("unknown sender type `{sender_type}`")))?,
        blocks: from_json("blocks", &blocks)?,
        plain_text: get(row, "plain_text")?,
        reply_to_message_id: get(row, "reply_to_message_id")?,
        quick_replies: get_json(row, "quick_replies")?,
        mentions: get_json(row, "mentions")?,
        client_message_id: get(row, "client_message_id")?,
        system_event: get_json(row, "system_event")?,
        external: get_json(row, "external")?,
        reactions: Vec::new(),
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        edited_at: get_opt_ts(row, "edited_at")?,
        deleted_at: get_opt_ts(row, "deleted_at")?,
        deleted_by: get(row, "deleted_by")?,
    })
}

fn list_entry_from(row: &DbRow) -> StoreResult<ConversationListEntry> {
    Ok(ConversationListEntry {
        conversation: conversation_from(row)?,
        membership: membership_from(row)?,
        participant_count: get::<i64>(row, "participant_count")? as u32,
        last_message: None,
    })
}

/// Appends inside an open transaction: takes the next `seq` (which locks the conversation row
/// until commit, so sequence numbers are gap-free and in commit order) and indexes the media.
async fn append_in_tx(tx: &mut Tx, m: &NewMessage) -> StoreResult<Message> {
    // Two statements in one query, so one round trip to the database: the conversation's next
    // seq, and the row that takes it (none when there is no such conversation). SQLite runs a
    // query's statements in turn; PostgreSQL would need one statement (a data-modifying CTE).
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = $12, last_message_id = $1 \
         WHERE id = $2; \
         INSERT INTO messages (id, conversation_id, seq, sender_id, sender_type, blocks, \
         plain_text, reply_to_message_id, quick_replies, mentions, client_message_id, \
         system_event, created_at, updated_at, external, external_id) \
         SELECT $1, $2, last_seq, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14 \
         FROM conversations WHERE id = $2 RETURNING seq",
    )
    .bind(&m.id)
    .bind(&m.conversation_id)
    .bind(&m.sender_id)
    .bind(m.sender_type.as_str())
    .bind(to_json(&m.blocks)?)
    .bind(&m.plain_text)
    .bind(&m.reply_to_message_id)
    .bind(opt_json(&m.quick_replies)?)
    .bind(opt_json(&m.mentions)?)
    .bind(&m.client_message_id)
    .bind(opt_json(&m.system_event)?)
    .bind(m.created_at.unix_ms())
    .bind(opt_json(&m.external)?)
    .bind(m.external.as_ref().map(|e| e.id.clone()))
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?;
    let seq = seq.ok_or_else(|| StoreError::NotFound(format!("conversation {}", m.conversation_id)))?;
    insert_media(tx, &m.conversation_id, seq, &m.id, &m.media).await?;
    Ok(Message {
        id: m.id.clone(),
        conversation_id: m.conversation_id.clone(),
        seq,
        sender_id: m.sender_id.clone(),
        sender_type: m.sender_type,
        blocks: m.blocks.clone(),
        plain_text: m.plain_text.clone(),
        reply_to_message_id: m.reply_to_message_id.clone(),
        quick_replies: m.quick_replies.clone(),
        mentions: m.mentions.clone(),
        client_message_id: m.client_message_id.clone(),
        system_event: m.system_event.clone(),
        external: m.external.clone(),
        reactions: Vec::new(),
        created_at: m.created_at,
        updated_at: m.created_at,
        edited_at: None,
        deleted_at: None,
        deleted_by: None,
    })
}

async fn insert_media(
    tx: &mut Tx,
    conversation_id: &str,
    seq: i64,
    message_id: &str,
    media: &[(u32, MediaKind)],
) -> StoreResult<()> {
    for (index, kind) in media {
        sqlx::query(
            "INSERT INTO message_media (conversation_id, seq, block_index, message_id, kind) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(conversation_id)
        .bind(seq)
        .bind(*index as i64)
        .bind(message_id)
        .bind(kind.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// What to do when a participant with the same `(tenant, id)` exists.
#[derive(Clone, Copy)]
enum OnConflict {
    Fail,
    Ignore,
    Update,
}

async fn insert_participant(tx: &mut Tx, p: &Participant, on_conflict: OnConflict) -> StoreResult<u64> {
    macro_rules! insert {
        ($tail:literal) => {
            concat!(
                "INSERT INTO participants (", participant_columns!(),
                ", search_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", $tail
            )
        };
    }
    let sql = match on_conflict {
        OnConflict::Fail => insert!(""),
        OnConflict::Ignore => insert!(" ON CONFLICT (tenant, id) DO NOTHING"),
        OnConflict::Update => insert!(
            " ON CONFLICT (tenant, id) DO UPDATE SET unique_name = excluded.unique_name, \
             full_name = excluded.full_name, avatar = excluded.avatar, \
             gender = excluded.gender, updated_at = excluded.updated_at, \
             search_name = excluded.search_name"
        ),
    };
    let done = sqlx::query(sql)
        .bind(&p.tenant)
        .bind(&p.id)
        .bind(&p.unique_name)
        .bind(&p.full_name)
        .bind(opt_json(&p.avatar)?)
        .bind(&p.gender)
        .bind(p.kind.as_str())
        .bind(p.created_at.unix_ms())
        .bind(p.updated_at.unix_ms())
        .bind(search_key(&format!("{} {}", p.full_name, p.unique_name)))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected())
}

/// Inserts a conversation (with whatever facets it has) and its memberships.
async fn insert_conversation_in_tx(tx: &mut Tx, c: &Conversation, members: &[Membership]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO conversations (id, tenant, name, avatar, owner_id, created_at, updated_at, \
         last_message_at, last_message_id, last_seq, search_name, channel, channel_customer_id, \
         channel_account_id, channel_external_chat_id, ticket_title, ticket_category, \
         ticket_priority, ticket_status, ticket_requester_id, ticket_assigned_admin_id, \
         ticket_guest_name, ticket_guest_email) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23)",
    )
    .bind(&c.id)
    .bind(&c.tenant)
    .bind(&c.name)
    .bind(opt_json(&c.avatar)?)
    .bind(&c.owner_id)
    .bind(c.created_at.unix_ms())
    .bind(c.updated_at.unix_ms())
    .bind(c.last_message_at.map(Timestamp::unix_ms))
    .bind(&c.last_message_id)
    .bind(c.last_seq)
    .bind(search_key(c.name.as_deref().unwrap_or_default()))
    .bind(c.channel.as_ref().map(|f| f.channel.clone()))
    .bind(c.channel.as_ref().and_then(|f| f.customer_id.clone()))
    .bind(c.channel.as_ref().and_then(|f| f.account_id.clone()))
    .bind(c.channel.as_ref().and_then(|f| f.external_chat_id.clone()))
    .bind(c.ticket.as_ref().map(|t| t.title.clone()))
    .bind(c.ticket.as_ref().map(|t| t.category.as_str()))
    .bind(c.ticket.as_ref().map(|t| t.priority.as_str()))
    .bind(c.ticket.as_ref().map(|t| t.status.as_str()))
    .bind(c.ticket.as_ref().map(|t| t.requester_id.clone()))
    .bind(c.ticket.as_ref().and_then(|t| t.assigned_admin_id.clone()))
    .bind(c.ticket.as_ref().and_then(|t| t.guest_name.clone()))
    .bind(c.ticket.as_ref().and_then(|t| t.guest_email.clone()))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    for m in members {
        sqlx::query(
            "INSERT INTO memberships (conversation_id, participant_id, joined_at, left_at, \
             is_active, is_pinned, pinned_at, joined_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&m.conversation_id)
        .bind(&m.participant_id)
        .bind(m.joined_at.unix_ms())
        .bind(m.left_at.map(Timestamp::unix_ms))
        .bind(m.is_active)
        .bind(m.is_pinned)
        .bind(m.pinned_at.map(Timestamp::unix_ms))
        .bind(m.joined_seq)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// The message of the conversation with this idempotency key (external id, else client message
/// id), if one is stored.
/// What an append found: the message already there (by external id or clientMessageId), or
/// the one it created.
enum Written {
    Found(Message),
    Created(Message),
}

async fn append_unless_present(tx: &mut Tx, m: &NewMessage) -> StoreResult<Written> {
    if let Some(found) = existing_message_in_tx(tx, m).await? {
        return Ok(Written::Found(found));
    }
    Ok(Written::Created(append_in_tx(tx, m).await?))
}

async fn existing_message_in_tx(tx: &mut Tx, m: &NewMessage) -> StoreResult<Option<Message>> {
    if let Some(external) = &m.external {
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages m WHERE m.conversation_id = $1 AND m.external_id = $2"
        );
        let row = sqlx::query(sql)
            .bind(&m.conversation_id)
            .bind(&external.id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err)?;
        if let Some(row) = row {
            return Ok(Some(message_from(&row)?));
        }
    }
    if let Some(client_id) = &m.client_message_id {
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages m WHERE m.conversation_id = $1 \
             AND m.sender_id = $2 AND m.client_message_id = $3"
        );
        let row = sqlx::query(sql)
            .bind(&m.conversation_id)
            .bind(&m.sender_id)
            .bind(client_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err)?;
        if let Some(row) = row {
            return Ok(Some(message_from(&row)?));
        }
    }
    Ok(None)
}

impl SqlStore {
    async fn begin(&self) -> StoreResult<Tx> {
        self.writer.begin().await.map_err(db_err)
    }

    async fn fetch_participant(&self, tenant: &str, id: &str) -> StoreResult<Option<Participant>> {
        let sql = concat!("SELECT ", participant_columns!(), " FROM participants WHERE tenant = $1 AND id = $2");
        let row = sqlx::query(sql)
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(participant_from).transpose()
    }

    /// Fills in the reactions of `messages`, grouped by emoji in the order of first use.
    async fn with_reactions(&self, messages: Vec<Message>) -> StoreResult<Vec<Message>> {
        with_reactions(&self.reader, messages).await
    }

    async fn messages_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Db>::new(concat!("SELECT ", message_columns!(), " FROM messages m WHERE m.id IN ("));
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(id.clone());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        self.complete_messages(rows).await
    }

    async fn complete_messages(&self, rows: Vec<DbRow>) -> StoreResult<Vec<Message>> {
        let messages = rows.iter().map(message_from).collect::<StoreResult<Vec<_>>>()?;
        self.with_reactions(messages).await
    }

    /// Fills in each entry's last message.
    async fn with_last_messages(
        &self,
        mut entries: Vec<ConversationListEntry>,
    ) -> StoreResult<Vec<ConversationListEntry>> {
        let ids: Vec<String> =
            entries.iter().filter_map(|e| e.conversation.last_message_id.clone()).collect();
        let mut messages = self.messages_by_ids(&ids).await?;
        for e in &mut entries {
            if let Some(id) = &e.conversation.last_message_id
                && let Some(pos) = messages.iter().position(|m| &m.id == id)
            {
                e.last_message = Some(messages.swap_remove(pos));
            }
        }
        Ok(entries)
    }

    async fn reread_message(&self, tx: &mut Tx, id: &str) -> StoreResult<Message> {
        let sql = concat!("SELECT ", message_columns!(), " FROM messages m WHERE m.id = $1");
        let row = sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await.map_err(db_err)?;
        row.as_ref()
            .map(message_from)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("message {id}")))
    }
}

#[async_trait]
impl Store for SqlStore {
    fn describe(&self) -> String {
        self.describe_store()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl ChatStore for SqlStore {
    async fn participant(&self, tenant: &str, id: &str) -> StoreResult<Option<Participant>> {
        self.fetch_participant(tenant, id).await
    }

    async fn participant_by_unique_name(
        &self,
        tenant: &str,
        unique_name: &str,
    ) -> StoreResult<Option<Participant>> {
        let sql = concat!("SELECT ", participant_columns!(), " FROM participants WHERE tenant = $1 AND unique_name = $2");
        let row = sqlx::query(sql)
            .bind(tenant)
            .bind(unique_name)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(participant_from).transpose()
    }

    async fn participants(&self, tenant: &str, ids: &[ParticipantId]) -> StoreResult<Vec<Participant>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Db>::new(concat!(
            "SELECT ", participant_columns!(), " FROM participants WHERE tenant = "
        ));
        q.push_bind(tenant.to_owned());
        q.push(" AND id IN (");
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(id.clone());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(participant_from).collect()
    }

    async fn upsert_participant(&self, p: &Participant) -> StoreResult<Participant> {
        let mut tx = self.begin().await?;
        insert_participant(&mut tx, p, OnConflict::Update).await?;
        tx.commit().await.map_err(db_err)?;
        self.fetch_participant(&p.tenant, &p.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("participant {}", p.id)))
    }

    async fn insert_participant_if_absent(&self, p: &Participant) -> StoreResult<Participant> {
        // Someone's first words make them a participant: in the next group's commit (with the
        // messages of that moment), not in one of its own that every append would queue behind.
        let new = p.clone();
        self.group
            .run(move |tx: &mut Tx| -> BoxFuture<'_, _> {
                Box::pin(async move { insert_participant(tx, &new, OnConflict::Ignore).await })
            })
            .await?;
        self.fetch_participant(&p.tenant, &p.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("participant {}", p.id)))
    }

    async fn credential(&self, tenant: &str, username: &str) -> StoreResult<Option<Credential>> {
        let row = sqlx::query(
            "SELECT tenant, username, password_hash, participant_id, role, created_at \
             FROM credentials WHERE tenant = $1 AND username = $2",
        )
        .bind(tenant)
        .bind(username)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let role: String = get(&row, "role")?;
        Ok(Some(Credential {
            tenant: get(&row, "tenant")?,
            username: get(&row, "username")?,
            password_hash: get(&row, "password_hash")?,
            participant_id: get(&row, "participant_id")?,
            role: role.parse::<Role>().map_err(StoreError::Backend)?,
            created_at: get_ts(&row, "created_at")?,
        }))
    }

    async fn credentials_named(&self, username: &str, limit: u32) -> StoreResult<Vec<Credential>> {
        let rows = sqlx::query(
            "SELECT tenant, username, password_hash, participant_id, role, created_at \
             FROM credentials WHERE username = $1 ORDER BY tenant LIMIT $2",
        )
        .bind(username)
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let role: String = get(row, "role")?;
                Ok(Credential {
                    tenant: get(row, "tenant")?,
                    username: get(row, "username")?,
                    password_hash: get(row, "password_hash")?,
                    participant_id: get(row, "participant_id")?,
                    role: role.parse::<Role>().map_err(StoreError::Backend)?,
                    created_at: get_ts(row, "created_at")?,
                })
            })
            .collect()
    }

    async fn insert_credential(&self, c: &Credential, p: &Participant) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_participant(&mut tx, p, OnConflict::Fail).await?;
        sqlx::query(
            "INSERT INTO credentials (tenant, username, password_hash, participant_id, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.tenant)
        .bind(&c.username)
        .bind(&c.password_hash)
        .bind(&c.participant_id)
        .bind(c.role.as_str())
        .bind(c.created_at.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn create_conversation(&self, c: &Conversation, members: &[Membership]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_conversation_in_tx(&mut tx, c, members).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn conversation(&self, id: &str) -> StoreResult<Option<ConversationDetails>> {
        let sql = concat!("SELECT ", conversation_columns!(), " FROM conversations c WHERE c.id = $1");
        let Some(row) = sqlx::query(sql).bind(id).fetch_optional(&self.reader).await.map_err(db_err)? else {
            return Ok(None);
        };
        let conversation = conversation_from(&row)?;
        let sql = concat!("SELECT ", membership_columns!(), " FROM memberships me WHERE me.conversation_id = $1 \
             ORDER BY me.joined_at, me.participant_id");
        let rows = sqlx::query(sql).bind(id).fetch_all(&self.reader).await.map_err(db_err)?;
        let members = rows.iter().map(membership_from).collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(ConversationDetails { conversation, members }))
    }

    async fn conversation_for(
        &self,
        id: &str,
        participant_id: &str,
    ) -> StoreResult<Option<(Conversation, Option<Membership>)>> {
        let sql = concat!(
            "SELECT ", conversation_columns!(), ", ", membership_columns!(),
            " FROM conversations c LEFT JOIN memberships me \
             ON me.conversation_id = c.id AND me.participant_id = $2 WHERE c.id = $1"
        );
        let row = sqlx::query(sql).bind(id).bind(participant_id).fetch_optional(&self.reader).await.map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let conversation = conversation_from(&row)?;
        let membership = match get::<Option<String>>(&row, "participant_id")? {
            Some(_) => Some(membership_from(&row)?),
            None => None,
        };
        Ok(Some((conversation, membership)))
    }

    async fn active_member_ids(&self, conversation_id: &str) -> StoreResult<Vec<ParticipantId>> {
        sqlx::query_scalar(
            "SELECT participant_id FROM memberships WHERE conversation_id = $1 AND is_active = TRUE \
             ORDER BY joined_at, participant_id",
        )
        .bind(conversation_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)
    }

    async fn membership(&self, conversation_id: &str, participant_id: &str) -> StoreResult<Option<Membership>> {
        let sql = concat!("SELECT ", membership_columns!(), " FROM memberships me \
             WHERE me.conversation_id = $1 AND me.participant_id = $2");
        let row = sqlx::query(sql)
            .bind(conversation_id)
            .bind(participant_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(membership_from).transpose()
    }

    async fn update_conversation(
        &self,
        u: &ConversationUpdate,
        system_messages: &[NewMessage],
    ) -> StoreResult<Vec<Message>> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE conversations SET name = $2, avatar = $3, updated_at = $4, search_name = $5 WHERE id = $1",
        )
        .bind(&u.conversation_id)
        .bind(&u.name)
        .bind(opt_json(&u.avatar)?)
        .bind(u.updated_at.unix_ms())
        .bind(search_key(u.name.as_deref().unwrap_or_default()))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("conversation {}", u.conversation_id)));
        }
        let mut written = Vec::with_capacity(system_messages.len());
        for m in system_messages {
            written.push(append_in_tx(&mut tx, m).await?);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(written)
    }

    async fn join_conversation(
        &self,
        conversation_id: &str,
        participant_id: &str,
        at: Timestamp,
        system_message: &NewMessage,
    ) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        let last_seq: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM conversations WHERE id = $1")
            .bind(conversation_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let last_seq = last_seq.ok_or_else(|| StoreError::NotFound(format!("conversation {conversation_id}")))?;
        sqlx::query(
            "INSERT INTO memberships (conversation_id, participant_id, joined_at, left_at, is_active, \
             is_pinned, pinned_at, joined_seq) VALUES ($1, $2, $3, NULL, TRUE, FALSE, NULL, $4) \
             ON CONFLICT (conversation_id, participant_id) DO UPDATE SET joined_at = excluded.joined_at, \
             left_at = NULL, is_active = TRUE, is_pinned = FALSE, pinned_at = NULL, \
             joined_seq = excluded.joined_seq",
        )
        .bind(conversation_id)
        .bind(participant_id)
        .bind(at.unix_ms())
        .bind(last_seq)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let message = append_in_tx(&mut tx, system_message).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(message)
    }

    async fn leave_conversation(
        &self,
        conversation_id: &str,
        participant_id: &str,
        at: Timestamp,
        system_message: &NewMessage,
    ) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE memberships SET is_active = FALSE, left_at = $3, is_pinned = FALSE, pinned_at = NULL \
             WHERE conversation_id = $1 AND participant_id = $2 AND is_active = TRUE",
        )
        .bind(conversation_id)
        .bind(participant_id)
        .bind(at.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "{participant_id} is not an active participant of {conversation_id}"
            )));
        }
        let message = append_in_tx(&mut tx, system_message).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(message)
    }

    async fn set_pinned(
        &self,
        conversation_id: &str,
        participant_id: &str,
        pinned_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE memberships SET is_pinned = $3, pinned_at = $4 \
             WHERE conversation_id = $1 AND participant_id = $2",
        )
        .bind(conversation_id)
        .bind(participant_id)
        .bind(pinned_at.is_some())
        .bind(pinned_at.map(Timestamp::unix_ms))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn list_conversations(
        &self,
        tenant: &str,
        participant_id: &str,
        after: Option<&ListPosition>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationListEntry>> {
        let mut q = QueryBuilder::<Db>::new(concat!(
            list_select!(),
            "WHERE me.is_active = TRUE AND me.participant_id = "
        ));
        q.push_bind(participant_id.to_owned());
        q.push(" AND c.tenant = ");
        q.push_bind(tenant.to_owned());
        if let Some(p) = after {
            // Keyset on (is_pinned DESC, activity DESC, id DESC).
            q.push(" AND (me.is_pinned < ");
            q.push_bind(p.pinned);
            q.push(" OR (me.is_pinned = ");
            q.push_bind(p.pinned);
            q.push(concat!(" AND (", activity!(), " < "));
            q.push_bind(p.activity_at.unix_ms());
            q.push(concat!(" OR (", activity!(), " = "));
            q.push_bind(p.activity_at.unix_ms());
            q.push(" AND c.id < ");
            q.push_bind(p.conversation_id.clone());
            q.push("))))");
        }
        q.push(concat!(" ORDER BY me.is_pinned DESC, ", activity!(), " DESC, c.id DESC LIMIT "));
        q.push_bind(limit as i64);
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        let entries = rows.iter().map(list_entry_from).collect::<StoreResult<Vec<_>>>()?;
        self.with_last_messages(entries).await
    }

    async fn search_conversations(
        &self,
        tenant: &str,
        participant_id: &str,
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<ConversationListEntry>> {
        let escaped: String = search_key(query)
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        let sql = concat!(
            list_select!(),
            "WHERE me.is_active = TRUE AND me.participant_id = $1 AND c.tenant = $2 AND ( \
               c.search_name LIKE $3 ESCAPE '\\' \
               OR EXISTS (SELECT 1 FROM memberships x JOIN participants p \
                          ON p.tenant = c.tenant AND p.id = x.participant_id \
                          WHERE x.conversation_id = c.id AND x.is_active = TRUE \
                          AND x.participant_id <> $1 \
                          AND p.search_name LIKE $3 ESCAPE '\\')) \
             ORDER BY ", activity!(), " DESC, c.id DESC LIMIT $4"
        );
        let rows = sqlx::query(sql)
            .bind(participant_id)
            .bind(tenant)
            .bind(pattern)
            .bind(limit as i64)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        let entries = rows.iter().map(list_entry_from).collect::<StoreResult<Vec<_>>>()?;
        self.with_last_messages(entries).await
    }

    async fn submit_message(&self, m: &NewMessage) -> StoreResult<Submitted<Appended>> {
        let m = m.clone();
        let committed = self
            .group
            .submit(move |tx: &mut Tx| -> BoxFuture<'_, _> { Box::pin(async move { append_unless_present(tx, &m).await }) })
            .await?;
        let reader = self.reader.clone();
        Ok(Box::pin(async move { appended(&reader, committed.await?).await }))
    }

    async fn message(&self, id: &str) -> StoreResult<Option<Message>> {
        let sql = concat!("SELECT ", message_columns!(), " FROM messages m WHERE m.id = $1");
        let rows = sqlx::query(sql).bind(id).fetch_all(&self.reader).await.map_err(db_err)?;
        Ok(self.complete_messages(rows).await?.into_iter().next())
    }

    async fn messages(&self, conversation_id: &str, r: &MessageRange) -> StoreResult<Vec<Message>> {
        let (sql, bound) = match r.direction {
            Direction::Older => (
                concat!(
                    "SELECT ", message_columns!(), " FROM messages m WHERE m.conversation_id = $1 \
                     AND m.seq > $2 AND m.seq < $3 ORDER BY m.seq DESC LIMIT $4"
                ),
                r.from_seq.unwrap_or(i64::MAX),
            ),
            Direction::Newer => (
                concat!(
                    "SELECT ", message_columns!(), " FROM messages m WHERE m.conversation_id = $1 \
                     AND m.seq > $2 AND m.seq > $3 ORDER BY m.seq ASC LIMIT $4"
                ),
                r.from_seq.unwrap_or(0),
            ),
        };
        let rows = sqlx::query(sql)
            .bind(conversation_id)
            .bind(r.floor_seq)
            .bind(bound)
            .bind(r.limit as i64)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        self.complete_messages(rows).await
    }

    async fn search_messages(
        &self,
        conversation_id: &str,
        floor_seq: i64,
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.search_messages_fts(conversation_id, floor_seq, query, limit).await
    }

    async fn edit_message(&self, e: &MessageEdit) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE messages SET blocks = $2, plain_text = $3, mentions = $4, reply_to_message_id = $5, \
             edited_at = $6, updated_at = $6 WHERE id = $1 RETURNING conversation_id, seq",
        )
        .bind(&e.message_id)
        .bind(to_json(&e.blocks)?)
        .bind(&e.plain_text)
        .bind(opt_json(&e.mentions)?)
        .bind(&e.reply_to_message_id)
        .bind(e.edited_at.unix_ms())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound(format!("message {}", e.message_id)))?;
        let conversation_id: String = get(&row, "conversation_id")?;
        let seq: i64 = get(&row, "seq")?;
        sqlx::query("DELETE FROM message_media WHERE message_id = $1")
            .bind(&e.message_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_media(&mut tx, &conversation_id, seq, &e.message_id, &e.media).await?;
        let message = self.reread_message(&mut tx, &e.message_id).await?;
        tx.commit().await.map_err(db_err)?;
        let mut found = self.with_reactions(vec![message]).await?;
        Ok(found.remove(0))
    }

    async fn set_message_deleted(
        &self,
        message_id: &str,
        deletion: Option<(Timestamp, ParticipantId)>,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        let (deleted_at, deleted_by) = match deletion {
            Some((when, by)) => (Some(when.unix_ms()), Some(by)),
            None => (None, None),
        };
        sqlx::query("UPDATE messages SET deleted_at = $2, deleted_by = $3, updated_at = $4 WHERE id = $1")
            .bind(message_id)
            .bind(deleted_at)
            .bind(deleted_by)
            .bind(at.unix_ms())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let message = self.reread_message(&mut tx, message_id).await?;
        tx.commit().await.map_err(db_err)?;
        let mut found = self.with_reactions(vec![message]).await?;
        Ok(found.remove(0))
    }

    async fn add_reaction(
        &self,
        message_id: &str,
        participant_id: &str,
        emoji: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "INSERT INTO reactions (message_id, participant_id, emoji, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(message_id)
        .bind(participant_id)
        .bind(emoji)
        .bind(at.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_reaction(&self, message_id: &str, participant_id: &str, emoji: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "DELETE FROM reactions WHERE message_id = $1 AND participant_id = $2 AND emoji = $3",
        )
        .bind(message_id)
        .bind(participant_id)
        .bind(emoji)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn media(&self, conversation_id: &str, query: &MediaQuery) -> StoreResult<Vec<MediaEntry>> {
        let mut q = QueryBuilder::<Db>::new(concat!(
            "SELECT ", message_columns!(), ", mm.block_index, mm.kind FROM message_media mm \
             JOIN messages m ON m.id = mm.message_id \
             WHERE m.deleted_at IS NULL AND mm.conversation_id = "
        ));
        q.push_bind(conversation_id.to_owned());
        q.push(" AND mm.seq > ");
        q.push_bind(query.floor_seq);
        if let Some(kind) = query.kind {
            q.push(" AND mm.kind = ");
            q.push_bind(kind.as_str());
        }
        if let Some((seq, index)) = query.after {
            // Keyset on (seq DESC, block_index ASC).
            q.push(" AND (mm.seq < ");
            q.push_bind(seq);
            q.push(" OR (mm.seq = ");
            q.push_bind(seq);
            q.push(" AND mm.block_index > ");
            q.push_bind(index as i64);
            q.push("))");
        }
        q.push(" ORDER BY mm.seq DESC, mm.block_index ASC LIMIT ");
        q.push_bind(query.limit as i64);
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        let mut entries = Vec::with_capacity(rows.len());
        let mut messages = Vec::new();
        for row in &rows {
            let kind: String = get(row, "kind")?;
            let index: i64 = get(row, "block_index")?;
            let message = message_from(row)?;
            entries.push((message.id.clone(), index as u32, MediaKind::parse(&kind)));
            if !messages.iter().any(|m: &Message| m.id == message.id) {
                messages.push(message);
            }
        }
        let messages = self.with_reactions(messages).await?;
        entries
            .into_iter()
            .map(|(id, block_index, kind)| {
                let message = messages.iter().find(|m| m.id == id).cloned();
                match (message, kind) {
                    (Some(message), Some(kind)) => Ok(MediaEntry { message, block_index, kind }),
                    _ => Err(StoreError::Backend(format!("media index of message {id} is inconsistent"))),
                }
            })
            .collect()
    }
}

/// What an append found or made, as the store answers it: a duplicate with its reactions.
async fn appended(reader: &sqlx::Pool<Db>, written: Written) -> StoreResult<Appended> {
    Ok(match written {
        Written::Created(message) => Appended::Created(message),
        Written::Found(message) => Appended::Duplicate(with_reactions(reader, vec![message]).await?.remove(0)),
    })
}

/// Fills in the reactions of `messages`, grouped by emoji in the order of first use.
async fn with_reactions(reader: &sqlx::Pool<Db>, mut messages: Vec<Message>) -> StoreResult<Vec<Message>> {
    if messages.is_empty() {
        return Ok(messages);
    }
    let mut q = QueryBuilder::<Db>::new(
        "SELECT message_id, participant_id, emoji FROM reactions WHERE message_id IN (",
    );
    let mut ids = q.separated(", ");
    for m in &messages {
        ids.push_bind(m.id.clone());
    }
    q.push(") ORDER BY created_at, participant_id");
    let rows = q.build().fetch_all(reader).await.map_err(db_err)?;
    for row in &rows {
        let message_id: String = get(row, "message_id")?;
        let participant_id: String = get(row, "participant_id")?;
        let emoji: String = get(row, "emoji")?;
        if let Some(m) = messages.iter_mut().find(|m| m.id == message_id) {
            match m.reactions.iter_mut().find(|g| g.emoji == emoji) {
                Some(g) => {
                    g.count += 1;
                    g.participant_ids.push(participant_id);
                }
                None => m.reactions.push(ReactionGroup {
                    emoji,
                    count: 1,
                    participant_ids: vec![participant_id],
                }),
            }
        }
    }
    Ok(messages)
}
