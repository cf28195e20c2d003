//! Where the bytes of uploaded files live: a local directory or an S3-compatible bucket, both
//! through `object_store`. Uploads stream through a bounded buffer (a multipart upload once they
//! outgrow it), downloads stream out; nothing holds a whole file unless asked to.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use tokio::io::AsyncWriteExt;

/// Where files are kept.
#[derive(Clone, Debug)]
pub enum StorageConfig {
    /// A directory on this machine (`<data-dir>/files` by default).
    Local {
        dir: PathBuf,
    },
    S3(S3Config),
}

/// An S3-compatible bucket. Unset fields come from the usual `AWS_*` variables (and the AWS
/// credential chain) as `object_store` reads them.
#[derive(Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    /// `http://127.0.0.1:9000` for MinIO, moto and the like; unset for AWS itself.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "…"))
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "…"))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no object at {0}")]
    NotFound(String),
    #[error("{0}")]
    Backend(String),
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => StorageError::NotFound(path),
            other => StorageError::Backend(other.to_string()),
        }
    }
}

/// Why an upload stream was not stored.
#[derive(Debug)]
pub enum WriteError {
    /// More bytes came than allowed; nothing was kept.
    TooLarge,
    /// The client's body failed (it hung up, or sent a malformed multipart part).
    Body(String),
    Storage(StorageError),
}

pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    description: String,
    /// Bytes buffered before an upload turns into a multipart upload, and the size of each part.
    part_bytes: usize,
}

impl ObjectStorage {
    pub fn open(config: &StorageConfig) -> Result<ObjectStorage, String> {
        match config {
            StorageConfig::Local { dir } => {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                let store = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| format!("cannot use {} for files: {e}", dir.display()))?;
                Ok(ObjectStorage {
                    store: Arc::new(store),
                    description: format!("local directory {}", dir.display()),
                    part_bytes: 1024 * 1024,
                })
            }
            StorageConfig::S3(s3) => {
                let mut builder =
                    AmazonS3Builder::from_env().with_bucket_name(&s3.bucket).with_retry(RetryConfig {
                        max_retries: 3,
                        retry_timeout: Duration::from_secs(30),
                        ..RetryConfig::default()
                    });
                if let Some(endpoint) = &s3.endpoint {
                    builder =
                        builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(region) = &s3.region {
                    builder = builder.with_region(region);
                }
                if let Some(id) = &s3.access_key_id {
                    builder = builder.with_access_key_id(id);
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(secret);
                }
                let store = builder.build().map_err(|e| format!("S3 bucket `{}`: {e}", s3.bucket))?;
                let at = s3.endpoint.as_deref().map(|e| format!(" at {e}")).unwrap_or_default();
                Ok(ObjectStorage {
                    store: Arc::new(store),
                    description: format!("s3://{}{at}", s3.bucket),
                    // S3's smallest multipart part (but the last) is 5 MiB.
                    part_bytes: 5 * 1024 * 1024,
                })
            }
        }
    }

    pub fn describe(&self) -> &str {
        &self.description
    }

    /// The object path of a storage key: one path part per `/`-separated segment, characters
    /// object stores dislike escaped. Keys come from the store's records, never straight from a
    /// request, so a key cannot point outside the storage root.
    fn path(storage_key: &str) -> Path {
        Path::from_iter(storage_key.split('/'))
    }

    /// Streams `body` into `storage_key`, refusing more than `limit` bytes; returns the bytes
    /// written. On any failure nothing stays stored. The body is borrowed, so the caller can
    /// read (and discard) what follows a refusal before answering.
    pub async fn write<S, E>(&self, storage_key: &str, body: &mut S, limit: u64) -> Result<u64, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: fmt::Display,
    {
        let mut writer =
            BufWriter::with_capacity(self.store.clone(), Self::path(storage_key), self.part_bytes)
                .with_max_concurrency(2);
        let mut written: u64 = 0;
        let failure = loop {
            match body.next().await {
                None => break None,
                Some(Err(e)) => break Some(WriteError::Body(e.to_string())),
                Some(Ok(chunk)) => {
                    written = written.saturating_add(chunk.len() as u64);
                    if written > limit {
                        break Some(WriteError::TooLarge);
                    }
                    if let Err(e) = writer.put(chunk).await {
                        break Some(WriteError::Storage(e.into()));
                    }
                }
            }
        };
        if let Some(failure) = failure {
            if let Err(e) = writer.abort().await {
                tracing::warn!(error = %e, key = storage_key, "abandoned upload not cleaned up");
            }
            return Err(failure);
        }
        writer.shutdown().await.map_err(|e| WriteError::Storage(StorageError::Backend(e.to_string())))?;
        Ok(written)
    }

    /// Stores a small object whole (thumbnails).
    pub async fn put(&self, storage_key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store.put(&Self::path(storage_key), PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// The object's bytes, or the bytes in `range`, as they arrive.
    pub async fn read(
        &self,
        storage_key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, StorageError>>, StorageError> {
        let options = GetOptions::new().with_range(range);
        let result = self.store.get_opts(&Self::path(storage_key), options).await?;
        Ok(result.into_stream().map_err(StorageError::from).boxed())
    }

    /// The whole object, if it is at most `max` bytes.
    pub async fn read_all(&self, storage_key: &str, max: u64) -> Result<Bytes, StorageError> {
        let mut stream = self.read(storage_key, None).await?;
        let mut bytes = bytes::BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if (bytes.len() + chunk.len()) as u64 > max {
                return Err(StorageError::Backend(format!("{storage_key} is larger than {max} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes.freeze())
    }

    /// Removes the object; one that is already gone is fine.
    pub async fn delete(&self, storage_key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Self::path(storage_key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> (tempdir::Dir, ObjectStorage) {
        let dir = tempdir::Dir::new();
        let storage = ObjectStorage::open(&StorageConfig::Local { dir: dir.0.clone() }).unwrap();
        (dir, storage)
    }

    /// A scratch directory removed on drop (the gateway has no tempfile dependency).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let path =
                    std::env::temp_dir().join(format!("chatgate-storage-{}", chatgate_core::ids::new_id()));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn writes_reads_ranges_and_deletes() {
        let (_dir, storage) = local();
        let written = storage.write("K/a b#1.txt", &mut chunks(&[b"hello ", b"world"]), 100).await.unwrap();
        assert_eq!(written, 11);
        assert_eq!(&storage.read_all("K/a b#1.txt", 100).await.unwrap()[..], b"hello world");
        let part: Vec<Bytes> =
            storage.read("K/a b#1.txt", Some(6..11)).await.unwrap().try_collect().await.unwrap();
        assert_eq!(part.concat(), b"world");
        storage.delete("K/a b#1.txt").await.unwrap();
        assert!(matches!(storage.read("K/a b#1.txt", None).await, Err(StorageError::NotFound(_))));
        storage.delete("K/a b#1.txt").await.unwrap();
    }

    #[tokio::test]
    async fn too_much_is_refused_and_nothing_stays() {
        let (dir, storage) = local();
        let result = storage.write("K/big", &mut chunks(&[b"12345", b"678"]), 6).await;
        assert!(matches!(result, Err(WriteError::TooLarge)));
        assert!(matches!(storage.read("K/big", None).await, Err(StorageError::NotFound(_))));
        let left: Vec<_> = walk(&dir.0);
        assert!(left.is_empty(), "{left:?}");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
        }
        files
    }
}
