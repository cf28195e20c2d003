// The customer area of the SQL store (included by each database module after shared.rs).

macro_rules! customer_columns {
    () => {
        "k.tenant, k.id, k.name, k.primary_channel, k.email, k.phone, k.tags, k.notes, k.active, \
         k.last_interaction_at, k.created_at, k.updated_at"
    };
}

fn customer_from(row: &DbRow) -> StoreResult<Customer> {
    let channel: String = get(row, "primary_channel")?;
    Ok(Customer {
        tenant: get(row, "tenant")?,
        id: get(row, "id")?,
        name: get(row, "name")?,
        primary_channel: CustomerChannel::parse(&channel)
            .ok_or_else(|| StoreError::Backend(format!("unknown customer channel `{channel}`")))?,
        identities: Vec::new(),
        email: get(row, "email")?,
        phone: get(row, "phone")?,
        tags: get_json(row, "tags")?.unwrap_or_default(),
        notes: get(row, "notes")?,
        active: get(row, "active")?,
        last_interaction_at: get_opt_ts(row, "last_interaction_at")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

/// The participant a customer speaks as.
fn customer_participant(c: &Customer) -> Participant {
    Participant {
        tenant: c.tenant.clone(),
        id: c.id.clone(),
        unique_name: format!("customer-{}", c.id),
        full_name: c.name.clone(),
        avatar: None,
        gender: None,
        kind: ParticipantKind::Customer,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

async fn insert_customer(tx: &mut Tx, c: &Customer) -> StoreResult<()> {
    insert_participant(tx, &customer_participant(c), OnConflict::Fail).await?;
    sqlx::query(
        "INSERT INTO customers (tenant, id, name, primary_channel, email, phone, tags, notes, active, \
         last_interaction_at, created_at, updated_at, search_name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&c.tenant)
    .bind(&c.id)
    .bind(&c.name)
    .bind(c.primary_channel.as_str())
    .bind(&c.email)
    .bind(&c.phone)
    .bind(to_json(&c.tags)?)
    .bind(&c.notes)
    .bind(c.active)
    .bind(c.last_interaction_at.map(Timestamp::unix_ms))
    .bind(c.created_at.unix_ms())
    .bind(c.updated_at.unix_ms())
    .bind(search_key(&c.name))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    for identity in &c.identities {
        sqlx::query("INSERT INTO customer_identities (tenant, channel, channel_id, customer_id) VALUES ($1, $2, $3, $4)")
            .bind(&c.tenant)
            .bind(identity.channel.as_str())
            .bind(&identity.channel_id)
            .bind(&c.id)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

impl SqlStore {
    /// Fills in the identities of `customers`.
    async fn with_identities(&self, mut customers: Vec<Customer>) -> StoreResult<Vec<Customer>> {
        let Some(first) = customers.first() else { return Ok(customers) };
        let mut q = QueryBuilder::<Db>::new(
            "SELECT customer_id, channel, channel_id FROM customer_identities WHERE tenant = ",
        );
        q.push_bind(first.tenant.clone());
        q.push(" AND customer_id IN (");
        let mut ids = q.separated(", ");
        for c in &customers {
            ids.push_bind(c.id.clone());
        }
        q.push(") ORDER BY channel, channel_id");
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        for row in &rows {
            let customer_id: String = get(row, "customer_id")?;
            let channel: String = get(row, "channel")?;
            let Some(channel) = CustomerChannel::parse(&channel) else { continue };
            if let Some(c) = customers.iter_mut().find(|c| c.id == customer_id) {
                c.identities.push(CustomerIdentity { channel, channel_id: get(row, "channel_id")? });
            }
        }
        Ok(customers)
    }

    async fn fetch_customer(&self, tenant: &str, id: &str) -> StoreResult<Option<Customer>> {
        let sql = concat!("SELECT ", customer_columns!(), " FROM customers k WHERE k.tenant = $1 AND k.id = $2");
        let row = sqlx::query(sql).bind(tenant).bind(id).fetch_optional(&self.reader).await.map_err(db_err)?;
        match row {
            None => Ok(None),
            Some(row) => Ok(self.with_identities(vec![customer_from(&row)?]).await?.pop()),
        }
    }
}

#[async_trait]
impl CustomerStore for SqlStore {
    async fn customer_for_identity(&self, identity: &CustomerIdentity, new: &Customer) -> StoreResult<Customer> {
        let mut tx = self.begin().await?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT customer_id FROM customer_identities WHERE tenant = $1 AND channel = $2 AND channel_id = $3",
        )
        .bind(&new.tenant)
        .bind(identity.channel.as_str())
        .bind(&identity.channel_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let id = match existing {
            Some(id) => id,
            None => {
                insert_customer(&mut tx, new).await?;
                new.id.clone()
            }
        };
        tx.commit().await.map_err(db_err)?;
        self.fetch_customer(&new.tenant, &id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("customer {id}")))
    }

    async fn create_customer(&self, customer: &Customer) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_customer(&mut tx, customer).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn customer(&self, tenant: &str, id: &str) -> StoreResult<Option<Customer>> {
        self.fetch_customer(tenant, id).await
    }

    async fn update_customer(&self, c: &Customer) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE customers SET name = $3, primary_channel = $4, email = $5, phone = $6, tags = $7, \
             notes = $8, active = $9, updated_at = $10, search_name = $11 WHERE tenant = $1 AND id = $2",
        )
        .bind(&c.tenant)
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.primary_channel.as_str())
        .bind(&c.email)
        .bind(&c.phone)
        .bind(to_json(&c.tags)?)
        .bind(&c.notes)
        .bind(c.active)
        .bind(c.updated_at.unix_ms())
        .bind(search_key(&c.name))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("customer {}", c.id)));
        }
        sqlx::query("UPDATE participants SET full_name = $3, updated_at = $4, search_name = $5 WHERE tenant = $1 AND id = $2")
            .bind(&c.tenant)
            .bind(&c.id)
            .bind(&c.name)
            .bind(c.updated_at.unix_ms())
            .bind(search_key(&format!("{} customer-{}", c.name, c.id)))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn customers(&self, tenant: &str, query: &CustomerQuery) -> StoreResult<(Vec<Customer>, u64)> {
        // The same filter twice: once to count, once for the page.
        let filter = |q: &mut QueryBuilder<Db>| {
            q.push(" WHERE k.tenant = ");
            q.push_bind(tenant.to_owned());
            if let Some(name) = &query.name {
                let escaped: String = search_key(name)
                    .chars()
                    .flat_map(|c| match c {
                        '%' | '_' | '\\' => vec!['\\', c],
                        c => vec![c],
                    })
                    .collect();
                q.push(" AND k.search_name LIKE ");
                q.push_bind(format!("%{escaped}%"));
                q.push(" ESCAPE '\\'");
            }
            if let Some(active) = query.active {
                q.push(" AND k.active = ");
                q.push_bind(active);
            }
            if let Some(channel) = query.channel {
                q.push(
                    " AND (k.primary_channel = ",
                );
                q.push_bind(channel.as_str());
                q.push(" OR EXISTS (SELECT 1 FROM customer_identities i WHERE i.tenant = k.tenant AND i.customer_id = k.id AND i.channel = ");
                q.push_bind(channel.as_str());
                q.push("))");
            }
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM customers k");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.reader).await.map_err(db_err)?;
        let mut page = QueryBuilder::<Db>::new(concat!("SELECT ", customer_columns!(), " FROM customers k"));
        filter(&mut page);
        page.push(" ORDER BY k.created_at DESC, k.id DESC LIMIT ");
        page.push_bind(query.size as i64);
        page.push(" OFFSET ");
        page.push_bind(query.page as i64 * query.size as i64);
        let rows = page.build().fetch_all(&self.reader).await.map_err(db_err)?;
        let customers = rows.iter().map(customer_from).collect::<StoreResult<Vec<_>>>()?;
        Ok((self.with_identities(customers).await?, total.max(0) as u64))
    }

    async fn touch_customer(&self, tenant: &str, id: &str, at: Timestamp) -> StoreResult<()> {
        // Once per customer message: committed with the messages of that moment.
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        self.group
            .run(move |tx: &mut Tx| -> BoxFuture<'_, _> {
                Box::pin(async move {
                    sqlx::query("UPDATE customers SET last_interaction_at = $3 WHERE tenant = $1 AND id = $2")
                        .bind(tenant)
                        .bind(id)
                        .bind(at.unix_ms())
                        .execute(&mut **tx)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                })
            })
            .await
    }

    async fn insert_customer_token(
        &self,
        customer: &Customer,
        channel: CustomerChannel,
        token_hash: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM customer_tokens WHERE expires_at < $1")
            .bind(now.unix_ms())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO customer_tokens (token_hash, tenant, customer_id, channel, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(&customer.tenant)
        .bind(&customer.id)
        .bind(channel.as_str())
        .bind(expires_at.unix_ms())
        .bind(now.unix_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn customer_by_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(Customer, CustomerChannel)>> {
        let found: Option<(String, String, String)> = sqlx::query_as(
            "SELECT tenant, customer_id, channel FROM customer_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.unix_ms())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        let Some((tenant, id, channel)) = found else { return Ok(None) };
        let channel = CustomerChannel::parse(&channel)
            .ok_or_else(|| StoreError::Backend(format!("unknown customer channel `{channel}`")))?;
        Ok(self.fetch_customer(&tenant, &id).await?.map(|c| (c, channel)))
    }

    async fn customer_conversations(&self, tenant: &str, customer_id: &str) -> StoreResult<Vec<Conversation>> {
        let sql = concat!(
            "SELECT ", conversation_columns!(), " FROM conversations c \
             WHERE c.tenant = $1 AND c.channel_customer_id = $2 \
             ORDER BY ", activity!(), " DESC, c.id DESC LIMIT 100"
        );
        let rows = sqlx::query(sql).bind(tenant).bind(customer_id).fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(conversation_from).collect()
    }
}
