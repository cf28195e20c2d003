// The file area of the SQL store (included by each database module after shared.rs): upload
// grants, uploaded files and their thumbnails, and the thumbnails recorded on message blocks.

macro_rules! file_columns {
    () => {
        "storage_key, tenant, uploader_id, file_name, content_type, size, created_at, thumbnail_key, \
         thumbnail_of"
    };
}
macro_rules! grant_columns {
    () => {
        "id, storage_key, tenant, uploader_id, file_name, content_type, size, created_at, expires_at, \
         claimed_at, completed_at"
    };
}

fn size_from(row: &DbRow) -> StoreResult<u64> {
    let size: i64 = get(row, "size")?;
    u64::try_from(size).map_err(|_| StoreError::Backend(format!("negative file size {size}")))
}

fn stored_file_from(row: &DbRow) -> StoreResult<StoredFile> {
    Ok(StoredFile {
        storage_key: get(row, "storage_key")?,
        tenant: get(row, "tenant")?,
        uploader_id: get(row, "uploader_id")?,
        file_name: get(row, "file_name")?,
        content_type: get(row, "content_type")?,
        size: size_from(row)?,
        created_at: get_ts(row, "created_at")?,
        thumbnail_key: get(row, "thumbnail_key")?,
        thumbnail_of: get(row, "thumbnail_of")?,
    })
}

fn grant_from(row: &DbRow) -> StoreResult<(UploadGrant, GrantState)> {
    let state = if get::<Option<i64>>(row, "completed_at")?.is_some() {
        GrantState::Used
    } else if get::<Option<i64>>(row, "claimed_at")?.is_some() {
        GrantState::InUse
    } else {
        GrantState::Unused
    };
    let grant = UploadGrant {
        id: get(row, "id")?,
        storage_key: get(row, "storage_key")?,
        tenant: get(row, "tenant")?,
        uploader_id: get(row, "uploader_id")?,
        file_name: get(row, "file_name")?,
        content_type: get(row, "content_type")?,
        size: size_from(row)?,
        created_at: get_ts(row, "created_at")?,
        expires_at: get_ts(row, "expires_at")?,
    };
    Ok((grant, state))
}

/// A byte count as SQL stores it (a signed 64-bit integer).
fn sql_size(size: u64) -> StoreResult<i64> {
    i64::try_from(size).map_err(|_| StoreError::Backend(format!("file size {size} does not fit the store")))
}

async fn insert_file(tx: &mut Tx, f: &StoredFile) -> StoreResult<()> {
    sqlx::query(concat!(
        "INSERT INTO files (",
        file_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&f.storage_key)
    .bind(&f.tenant)
    .bind(&f.uploader_id)
    .bind(&f.file_name)
    .bind(&f.content_type)
    .bind(sql_size(f.size)?)
    .bind(f.created_at.unix_ms())
    .bind(&f.thumbnail_key)
    .bind(&f.thumbnail_of)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn file_in_tx(tx: &mut Tx, storage_key: &str) -> StoreResult<Option<StoredFile>> {
    let sql = concat!("SELECT ", file_columns!(), " FROM files WHERE storage_key = $1");
    let row = sqlx::query(sql).bind(storage_key).fetch_optional(&mut **tx).await.map_err(db_err)?;
    row.as_ref().map(stored_file_from).transpose()
}

async fn delete_file_row(tx: &mut Tx, storage_key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM files WHERE storage_key = $1")
        .bind(storage_key)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl FileStore for SqlStore {
    async fn insert_upload_grant(&self, g: &UploadGrant) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO upload_grants (",
            grant_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL)"
        ))
        .bind(&g.id)
        .bind(&g.storage_key)
        .bind(&g.tenant)
        .bind(&g.uploader_id)
        .bind(&g.file_name)
        .bind(&g.content_type)
        .bind(sql_size(g.size)?)
        .bind(g.created_at.unix_ms())
        .bind(g.expires_at.unix_ms())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn upload_grant(&self, id: &str) -> StoreResult<Option<(UploadGrant, GrantState)>> {
        let sql = concat!("SELECT ", grant_columns!(), " FROM upload_grants WHERE id = $1");
        // The writer: a grant claimed a moment ago must be seen as claimed.
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.writer).await.map_err(db_err)?;
        row.as_ref().map(grant_from).transpose()
    }

    async fn claim_upload_grant(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE upload_grants SET claimed_at = $2 \
             WHERE id = $1 AND claimed_at IS NULL AND completed_at IS NULL",
        )
        .bind(id)
        .bind(at.unix_ms())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_upload_grant(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE upload_grants SET claimed_at = NULL WHERE id = $1 AND completed_at IS NULL")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn complete_upload(&self, grant_id: &str, file: &StoredFile, at: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE upload_grants SET completed_at = $2 WHERE id = $1 AND completed_at IS NULL")
                .bind(grant_id)
                .bind(at.unix_ms())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("upload {grant_id} was completed already")));
        }
        insert_file(&mut tx, file).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn purge_upload_grants(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM upload_grants WHERE expires_at < $1")
            .bind(before.unix_ms())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn file(&self, storage_key: &str) -> StoreResult<Option<StoredFile>> {
        let sql = concat!("SELECT ", file_columns!(), " FROM files WHERE storage_key = $1");
        let row = sqlx::query(sql).bind(storage_key).fetch_optional(&self.reader).await.map_err(db_err)?;
        row.as_ref().map(stored_file_from).transpose()
    }

    async fn delete_file(&self, storage_key: &str) -> StoreResult<Vec<StoredFile>> {
        let mut tx = self.begin().await?;
        let Some(file) = file_in_tx(&mut tx, storage_key).await? else {
            return Ok(Vec::new());
        };
        delete_file_row(&mut tx, storage_key).await?;
        let mut removed = Vec::with_capacity(2);
        if let Some(thumbnail_key) = &file.thumbnail_key
            && let Some(thumbnail) = file_in_tx(&mut tx, thumbnail_key).await?
        {
            delete_file_row(&mut tx, thumbnail_key).await?;
            removed.push(thumbnail);
        }
        if let Some(source) = &file.thumbnail_of {
            sqlx::query(
                "UPDATE files SET thumbnail_key = NULL WHERE storage_key = $1 AND thumbnail_key = $2",
            )
            .bind(source)
            .bind(storage_key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        removed.insert(0, file);
        Ok(removed)
    }

    async fn insert_thumbnail(&self, source_key: &str, thumbnail: &StoredFile) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_file(&mut tx, thumbnail).await?;
        let done = sqlx::query("UPDATE files SET thumbnail_key = $2 WHERE storage_key = $1")
            .bind(source_key)
            .bind(&thumbnail.storage_key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!("file {source_key}")));
        }
        tx.commit().await.map_err(db_err)
    }

    async fn set_block_thumbnails(&self, message_id: &str, blocks: &[Block]) -> StoreResult<()> {
        let done = sqlx::query("UPDATE messages SET blocks = $2 WHERE id = $1")
            .bind(message_id)
            .bind(to_json(blocks)?)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!("message {message_id}")));
        }
        Ok(())
    }
}
