//! The `[tiered]` section of the config file: where tiered storage keeps closed segments and
//! how fast it uploads. Defaults live here. Credentials never appear in the file: the S3
//! client reads them from the environment as the AWS SDKs do (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`...), and nothing logs them.

use anyhow::bail;
use serde::Deserialize;

/// Default upload budget: 50 MiB/s, all partitions together.
const DEFAULT_UPLOAD_BYTES_PER_SEC: u64 = 50 << 20;
/// Default pause between upload passes.
const DEFAULT_INTERVAL_MS: u64 = 10_000;
/// Default memory for cached chunks of remote segments.
const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

/// `[tiered]` as written in the file.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TieredFile {
    /// `file:///absolute/dir` or `s3://bucket/prefix`.
    store: String,
    endpoint: Option<String>,
    region: Option<String>,
    allow_http: Option<bool>,
    upload_bytes_per_sec: Option<u64>,
    upload_interval_ms: Option<u64>,
    cache_bytes: Option<u64>,
    /// Kafka's `remote.fetch.max.wait.ms` (KIP-1018).
    remote_fetch_max_wait_ms: Option<u64>,
}

/// The tiering settings, or `None` without a `[tiered]` section.
pub fn tiering(file: Option<&TieredFile>) -> anyhow::Result<Option<strom_broker::TieringConfig>> {
    let Some(t) = file else { return Ok(None) };
    if !(t.store.starts_with("file:///") || t.store.starts_with("s3://")) {
        bail!("tiered.store must be file:///absolute/path or s3://bucket[/prefix]");
    }
    let upload_bytes_per_sec = t
        .upload_bytes_per_sec
        .unwrap_or(DEFAULT_UPLOAD_BYTES_PER_SEC);
    if upload_bytes_per_sec == 0 {
        bail!("tiered.upload_bytes_per_sec must be greater than 0");
    }
    Ok(Some(strom_broker::TieringConfig {
        store: strom_tier::StoreConfig {
            url: t.store.clone(),
            endpoint: t.endpoint.clone(),
            region: t.region.clone(),
            allow_http: t.allow_http.unwrap_or(false),
        },
        upload_bytes_per_sec,
        interval_ms: t.upload_interval_ms.unwrap_or(DEFAULT_INTERVAL_MS).max(10),
        cache_bytes: t.cache_bytes.unwrap_or(DEFAULT_CACHE_BYTES),
        chunk_bytes: strom_tier::cache::CHUNK_BYTES,
        remote_fetch_max_wait_ms: t
            .remote_fetch_max_wait_ms
            .unwrap_or(strom_broker::tiering::DEFAULT_REMOTE_FETCH_MAX_WAIT_MS),
    }))
}

/// Opens the store and, on a data directory without topics, restores the store's topics
/// into it (before the broker opens the directory). `None` without `[tiered]`.
pub async fn open_and_restore(
    settings: &crate::config::Settings,
) -> anyhow::Result<Option<std::sync::Arc<strom_broker::Tiering>>> {
    use anyhow::Context;
    let Some(config) = settings.tiered.clone() else {
        return Ok(None);
    };
    let data_dir = settings.data_dir.clone();
    let tiering = tokio::task::spawn_blocking(move || {
        let tiering = strom_broker::Tiering::open(config)?;
        let restored = tiering.restore(&data_dir)?;
        if !restored.is_empty() {
            tracing::info!(
                topics = restored.len(),
                "restored topics from the tiered store"
            );
        }
        Ok::<_, strom_broker::BrokerError>(tiering)
    })
    .await
    .context("tiered storage start-up panicked")?
    .context("cannot open the tiered store")?;
    Ok(Some(tiering))
}
