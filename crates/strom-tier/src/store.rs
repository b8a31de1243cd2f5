//! [`RemoteStore`]: the five object operations tiering needs (put, create-only put, ranged
//! get, list, delete), blocking, over the `object_store` crate (S3 and S3-compatible stores,
//! or a local directory). The async client runs on the store's own small runtime, so callers
//! on any thread (produce path excluded: tiering never runs there) wait without touching the
//! front ends' runtimes.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use crate::TierError;

/// Where the bucket is and how to reach it (`[tiered]` in the server's config file).
/// Credentials are not here: the S3 client reads them from the environment as the AWS SDKs
/// do (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, ...).
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    /// `file:///absolute/dir` or `s3://bucket/prefix`.
    pub url: String,
    /// S3-compatible endpoint (e.g. `http://127.0.0.1:9000`); AWS when unset.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Allow plain-HTTP endpoints (test servers on loopback).
    pub allow_http: bool,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Key relative to the store's prefix.
    pub key: String,
    pub size: u64,
}

/// Blocking object operations, keys relative to the store's prefix.
pub trait RemoteStore: Send + Sync {
    /// Writes (or replaces) `key`.
    fn put(&self, key: &str, bytes: Bytes) -> Result<(), TierError>;
    /// Uploads the first `len` bytes of the file at `path` (all of it when `None`) as `key`,
    /// in parts of at most [`PART_BYTES`], calling `budget(n)` before sending each part (the
    /// bandwidth limit sleeps there). Returns the bytes uploaded.
    fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        len: Option<u64>,
        budget: &dyn Fn(u64),
    ) -> Result<u64, TierError>;
    /// Writes `key` only if it does not exist; `AlreadyExists` otherwise (fencing).
    fn put_new(&self, key: &str, bytes: Bytes) -> Result<(), TierError>;
    /// Bytes `range` of `key`.
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, TierError>;
    /// The whole object.
    fn get(&self, key: &str) -> Result<Bytes, TierError>;
    /// Every object under `prefix`.
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, TierError>;
    /// Removes `key` (absent is fine).
    fn delete(&self, key: &str) -> Result<(), TierError>;
}

/// [`RemoteStore`] over an `object_store` back end.
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// Taken only by `Drop` (shut down in the background, allowed on any thread).
    runtime: Option<tokio::runtime::Runtime>,
    timeout: Duration,
}

impl Drop for ObjectStoreBackend {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Largest single PUT; bigger files go up as multipart uploads of parts this size.
pub const PART_BYTES: u64 = 16 << 20;

/// Reads `len` bytes at `at` of `file`. Errors: `Unavailable` naming no path.
fn read_part(file: &std::fs::File, at: u64, len: u64) -> Result<Bytes, TierError> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, at)
        .map_err(|e| TierError::Unavailable(format!("local segment file: {e}")))?;
    Ok(Bytes::from(buf))
}

/// Longest any single store operation may take before it fails retriably.
const OP_TIMEOUT: Duration = Duration::from_secs(30);

impl ObjectStoreBackend {
    /// Opens the store `config` names. Errors: `Config` for an unsupported URL or options.
    pub fn open(config: &StoreConfig) -> Result<ObjectStoreBackend, TierError> {
        let url = url::Url::parse(&config.url)
            .map_err(|e| TierError::Config(format!("tiered store '{}': {e}", config.url)))?;
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match url.scheme() {
            "file" => {
                let dir = url.path();
                std::fs::create_dir_all(dir)
                    .map_err(|e| TierError::Config(format!("tiered store directory: {e}")))?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| TierError::Config(format!("tiered store directory: {e}")))?;
                (Arc::new(fs), String::new())
            }
            "s3" => {
                let bucket = url.host_str().unwrap_or_default().to_string();
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    // Create-only manifest writes use If-None-Match (S3, moto, MinIO, R2).
                    .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch)
                    .with_allow_http(config.allow_http)
                    // A few quick retries; an unreachable store fails reads retriably soon.
                    .with_retry(object_store::RetryConfig {
                        backoff: object_store::BackoffConfig::default(),
                        max_retries: 3,
                        retry_timeout: Duration::from_secs(10),
                    });
                if let Some(endpoint) = &config.endpoint {
                    b = b
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                if let Some(region) = &config.region {
                    b = b.with_region(region);
                }
                let s3 = b
                    .build()
                    .map_err(|e| TierError::Config(format!("tiered S3 store: {e}")))?;
                (Arc::new(s3), url.path().trim_matches('/').to_string())
            }
            other => {
                return Err(TierError::Config(format!(
                    "tiered store scheme '{other}' is not supported (file:// or s3://)"
                )))
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("strom-tier-io")
            .enable_all()
            .build()
            .map_err(|e| TierError::Config(format!("tiered store runtime: {e}")))?;
        Ok(ObjectStoreBackend {
            store,
            prefix,
            runtime: Some(runtime),
            timeout: OP_TIMEOUT,
        })
    }

    fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Runs `fut` on the store's runtime and waits for it from any thread.
    fn run<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = Result<T, object_store::Error>> + Send + 'static,
    ) -> Result<T, TierError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let timeout = self.timeout;
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| TierError::Unavailable("store runtime stopped".into()))?;
        runtime.spawn(async move {
            let out = match tokio::time::timeout(timeout, fut).await {
                Ok(r) => r.map_err(TierError::from),
                Err(_) => Err(TierError::Unavailable("operation timed out".into())),
            };
            let _ = tx.send(out);
        });
        rx.recv()
            .map_err(|_| TierError::Unavailable("store runtime stopped".into()))?
    }
}

impl RemoteStore for ObjectStoreBackend {
    fn put(&self, key: &str, bytes: Bytes) -> Result<(), TierError> {
        let (store, path) = (Arc::clone(&self.store), self.path(key));
        self.run(async move { store.put(&path, PutPayload::from(bytes)).await.map(|_| ()) })
    }

    fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        len: Option<u64>,
        budget: &dyn Fn(u64),
    ) -> Result<u64, TierError> {
        let file = std::fs::File::open(path)
            .map_err(|e| TierError::Unavailable(format!("local segment file: {e}")))?;
        let size = match len {
            Some(n) => n,
            None => file
                .metadata()
                .map_err(|e| TierError::Unavailable(format!("local segment file: {e}")))?
                .len(),
        };
        if size <= PART_BYTES {
            budget(size);
            self.put(key, read_part(&file, 0, size)?)?;
            return Ok(size);
        }
        let (store, target) = (Arc::clone(&self.store), self.path(key));
        let mut upload = self.run(async move { store.put_multipart(&target).await })?;
        let mut at = 0;
        while at < size {
            let n = PART_BYTES.min(size - at);
            budget(n);
            let sent = read_part(&file, at, n)
                .and_then(|part| self.run(upload.put_part(PutPayload::from(part))));
            if let Err(e) = sent {
                let _ = self.run(async move { upload.abort().await });
                return Err(e);
            }
            at += n;
        }
        self.run(async move { upload.complete().await.map(|_| ()) })?;
        Ok(size)
    }

    fn put_new(&self, key: &str, bytes: Bytes) -> Result<(), TierError> {
        let (store, path) = (Arc::clone(&self.store), self.path(key));
        self.run(async move {
            let opts = PutOptions::from(PutMode::Create);
            store
                .put_opts(&path, PutPayload::from(bytes), opts)
                .await
                .map(|_| ())
        })
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, TierError> {
        let (store, path) = (Arc::clone(&self.store), self.path(key));
        self.run(async move { store.get_range(&path, range).await })
    }

    fn get(&self, key: &str) -> Result<Bytes, TierError> {
        let (store, path) = (Arc::clone(&self.store), self.path(key));
        self.run(async move { store.get(&path).await?.bytes().await })
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, TierError> {
        let (store, path) = (Arc::clone(&self.store), self.path(prefix));
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        self.run(async move {
            let metas: Vec<_> = store.list(Some(&path)).try_collect().await?;
            Ok(metas
                .into_iter()
                .map(|m| Listed {
                    key: m
                        .location
                        .as_ref()
                        .strip_prefix(strip.as_str())
                        .unwrap_or(m.location.as_ref())
                        .to_string(),
                    size: m.size,
                })
                .collect())
        })
    }

    fn delete(&self, key: &str) -> Result<(), TierError> {
        let (store, path) = (Arc::clone(&self.store), self.path(key));
        self.run(async move {
            match store.delete(&path).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other,
            }
        })
    }
}
