// The bot area of the SQL store (included by each database module after shared.rs).

macro_rules! bot_columns {
    () => {
        "b.id, b.tenant, b.participant_id, b.description, b.metadata, b.topic, b.is_active, \
         b.listen_all_group_messages, b.created_by, b.webhook_url, b.webhook_secret, b.created_at, \
         b.updated_at, b.deleted_at"
    };
}

fn bot_from(row: &DbRow) -> StoreResult<Bot> {
    Ok(Bot {
        tenant: get(row, "tenant")?,
        id: get(row, "id")?,
        participant_id: get(row, "participant_id")?,
        description: get(row, "description")?,
        metadata: get_json(row, "metadata")?,
        topic: get(row, "topic")?,
        is_active: get(row, "is_active")?,
        listen_all_group_messages: get(row, "listen_all_group_messages")?,
        created_by: get(row, "created_by")?,
        webhook_url: get(row, "webhook_url")?,
        webhook_secret: get(row, "webhook_secret")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        deleted_at: get_opt_ts(row, "deleted_at")?,
    })
}

impl SqlStore {
    async fn fetch_bot(&self, sql: &'static str, tenant: &str, key: &str) -> StoreResult<Option<Bot>> {
        let row =
            sqlx::query(sql).bind(tenant).bind(key).fetch_optional(&self.reader).await.map_err(db_err)?;
        row.as_ref().map(bot_from).transpose()
    }
}

#[async_trait]
impl BotStore for SqlStore {
    async fn create_bot(&self, bot: &Bot, participant: &Participant) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_participant(&mut tx, participant, OnConflict::Fail).await?;
        sqlx::query(
            "INSERT INTO bots (id, tenant, participant_id, description, metadata, topic, is_active, \
             listen_all_group_messages, created_by, webhook_url, webhook_secret, created_at, \
             updated_at, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&bot.id)
        .bind(&bot.tenant)
        .bind(&bot.participant_id)
        .bind(&bot.description)
        .bind(opt_json(&bot.metadata)?)
        .bind(&bot.topic)
        .bind(bot.is_active)
        .bind(bot.listen_all_group_messages)
        .bind(&bot.created_by)
        .bind(&bot.webhook_url)
        .bind(&bot.webhook_secret)
        .bind(bot.created_at.unix_ms())
        .bind(bot.updated_at.unix_ms())
        .bind(bot.deleted_at.map(Timestamp::unix_ms))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn bot(&self, tenant: &str, id: &str) -> StoreResult<Option<Bot>> {
        let sql = concat!("SELECT ", bot_columns!(), " FROM bots b WHERE b.tenant = $1 AND b.id = $2");
        self.fetch_bot(sql, tenant, id).await
    }

    async fn bot_by_participant(&self, tenant: &str, participant_id: &str) -> StoreResult<Option<Bot>> {
        let sql =
            concat!("SELECT ", bot_columns!(), " FROM bots b WHERE b.tenant = $1 AND b.participant_id = $2");
        self.fetch_bot(sql, tenant, participant_id).await
    }

    async fn list_bots(&self, tenant: &str, offset: u64, limit: u32) -> StoreResult<BotPage> {
        let sql = concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots b WHERE b.tenant = $1 AND b.deleted_at IS NULL \
             ORDER BY b.created_at, b.id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sql)
            .bind(tenant)
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM bots WHERE tenant = $1 AND deleted_at IS NULL")
                .bind(tenant)
                .fetch_one(&self.reader)
                .await
                .map_err(db_err)?;
        Ok(BotPage {
            items: rows.iter().map(bot_from).collect::<StoreResult<_>>()?,
            total: total.max(0) as u64,
        })
    }

    async fn update_bot(&self, bot: &Bot, participant: Option<&Participant>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if let Some(p) = participant {
            sqlx::query(
                "UPDATE participants SET unique_name = $3, full_name = $4, avatar = $5, \
                 updated_at = $6, search_name = $7 WHERE tenant = $1 AND id = $2",
            )
            .bind(&p.tenant)
            .bind(&p.id)
            .bind(&p.unique_name)
            .bind(&p.full_name)
            .bind(opt_json(&p.avatar)?)
            .bind(p.updated_at.unix_ms())
            .bind(search_key(&format!("{} {}", p.full_name, p.unique_name)))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let done = sqlx::query(
            "UPDATE bots SET description = $3, metadata = $4, is_active = $5, \
             listen_all_group_messages = $6, webhook_url = $7, webhook_secret = $8, updated_at = $9, \
             deleted_at = $10 WHERE tenant = $1 AND id = $2",
        )
        .bind(&bot.tenant)
        .bind(&bot.id)
        .bind(&bot.description)
        .bind(opt_json(&bot.metadata)?)
        .bind(bot.is_active)
        .bind(bot.listen_all_group_messages)
        .bind(&bot.webhook_url)
        .bind(&bot.webhook_secret)
        .bind(bot.updated_at.unix_ms())
        .bind(bot.deleted_at.map(Timestamp::unix_ms))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("bot {}", bot.id)));
        }
        tx.commit().await.map_err(db_err)
    }

    async fn bots_hearing(&self, tenant: &str, conversation_id: &str) -> StoreResult<Vec<Bot>> {
        let sql = concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots b WHERE b.tenant = $1 AND b.deleted_at IS NULL \
             AND b.is_active = TRUE AND (b.listen_all_group_messages = TRUE OR EXISTS (\
             SELECT 1 FROM memberships me WHERE me.conversation_id = $2 \
             AND me.participant_id = b.participant_id AND me.is_active = TRUE))"
        );
        let rows = sqlx::query(sql)
            .bind(tenant)
            .bind(conversation_id)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(bot_from).collect()
    }
}
