//! Helpers of the tiered-storage tests (`tiering.rs`, `tiering_deletes.rs`): brokers, a
//! switchable local-directory store, a tiered topic and its records.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use strom_broker::{
    Broker, BrokerConfig, BrokerError, NewRecord, Partition, Tiering, TieringConfig,
};
use strom_log::{Durability, LogConfig};
use strom_tier::{Listed, ObjectStoreBackend, RemoteStore, StoreConfig, TierError};

pub fn broker(dir: &Path) -> Arc<Broker> {
    let broker = plain_broker(dir);
    broker.enable_remote_storage();
    broker
}

/// A broker whose server has no remote store configured.
pub fn plain_broker(dir: &Path) -> Arc<Broker> {
    Broker::open(BrokerConfig {
        data_dir: dir.to_path_buf(),
        node_id: 1,
        auto_create_topics: false,
        default_partitions: 1,
        durability: Durability::Always,
        log_defaults: LogConfig {
            durability: Durability::Always,
            ..LogConfig::default()
        },
        retention_check_interval_ms: 3_600_000,
        cleaner_bytes_per_sec: 1 << 30,
        cleaner_dedupe_buffer_bytes: 1 << 20,
    })
    .unwrap()
}

/// A store that can be switched off (every call fails as unreachable).
pub struct Switchable {
    pub inner: ObjectStoreBackend,
    pub down: AtomicBool,
    /// Each ranged GET sleeps this long first (a slow store).
    pub get_delay_ms: AtomicU64,
}

impl Switchable {
    pub fn check(&self) -> Result<(), TierError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(TierError::Unavailable("switched off".into()));
        }
        Ok(())
    }
}

impl RemoteStore for Switchable {
    fn put(&self, key: &str, bytes: Bytes) -> Result<(), TierError> {
        self.check()?;
        self.inner.put(key, bytes)
    }
    fn put_file(
        &self,
        key: &str,
        path: &Path,
        len: Option<u64>,
        budget: &dyn Fn(u64),
    ) -> Result<u64, TierError> {
        self.check()?;
        self.inner.put_file(key, path, len, budget)
    }
    fn put_new(&self, key: &str, bytes: Bytes) -> Result<(), TierError> {
        self.check()?;
        self.inner.put_new(key, bytes)
    }
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, TierError> {
        self.check()?;
        let delay = self.get_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay));
        }
        self.inner.get_range(key, range)
    }
    fn get(&self, key: &str) -> Result<Bytes, TierError> {
        self.check()?;
        self.inner.get(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, TierError> {
        self.check()?;
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), TierError> {
        self.check()?;
        self.inner.delete(key)
    }
}

pub fn store(dir: &Path) -> Arc<Switchable> {
    let config = StoreConfig {
        url: format!("file://{}", dir.display()),
        ..Default::default()
    };
    Arc::new(Switchable {
        inner: ObjectStoreBackend::open(&config).unwrap(),
        down: AtomicBool::new(false),
        get_delay_ms: AtomicU64::new(0),
    })
}

pub fn tiering(store: Arc<Switchable>) -> Arc<Tiering> {
    tiering_with_cache(store, 4 << 20, strom_tier::cache::CHUNK_BYTES)
}

pub fn tiering_with_cache(
    store: Arc<Switchable>,
    cache_bytes: u64,
    chunk_bytes: u64,
) -> Arc<Tiering> {
    tiering_with(store, cache_bytes, chunk_bytes, 500)
}

pub fn tiering_with(
    store: Arc<Switchable>,
    cache_bytes: u64,
    chunk_bytes: u64,
    remote_fetch_max_wait_ms: u64,
) -> Arc<Tiering> {
    let config = TieringConfig {
        store: StoreConfig::default(),
        upload_bytes_per_sec: 1 << 30,
        interval_ms: 3_600_000,
        cache_bytes,
        chunk_bytes,
        remote_fetch_max_wait_ms,
    };
    Tiering::with_store(store, config)
}

pub fn create(broker: &Broker) -> Arc<Partition> {
    let configs: BTreeMap<String, String> = [
        ("remote.storage.enable", "true"),
        ("segment.bytes", "4096"),
        ("local.retention.bytes", "8192"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    broker.create_topic("tiered", 1, &configs).unwrap();
    broker.partition("tiered", 0).unwrap()
}

pub fn produce(p: &Partition, batches: usize) {
    for i in 0..batches {
        let records: Vec<NewRecord> = (0..5)
            .map(|j| NewRecord {
                key: Some(Bytes::from(format!("k{i}-{j}"))),
                value: Some(Bytes::from(format!("value {i}-{j} {}", "x".repeat(100)))),
                headers: Vec::new(),
                timestamp: None,
            })
            .collect();
        p.append_records(&records).unwrap();
    }
}

/// Every batch from offset 0 to the high watermark, concatenated.
pub fn read_all(p: &Partition) -> Result<Vec<u8>, BrokerError> {
    let mut out = Vec::new();
    let mut offset = p.log_start_offset();
    while offset < p.high_watermark() {
        let r = p.read(offset, 1000)?;
        let mut pos = 0;
        while let Some(h) = strom_log::BatchHeader::parse(&r.records[pos..]) {
            pos += h.total_len();
            offset = h.last_offset() + 1;
        }
        assert!(pos > 0, "empty read at {offset}");
        out.extend_from_slice(&r.records[..pos]);
    }
    Ok(out)
}

/// The temporary directories of a [`setup`]: the broker's data and the store's bucket.
pub struct Dirs {
    pub data: tempfile::TempDir,
    pub bucket: tempfile::TempDir,
}

/// A tiered partition to test: a broker on `data` with the topic of [`create`] holding
/// `batches` batches of [`produce`], and a store in `bucket` that nothing was uploaded to yet.
pub fn setup(batches: usize) -> (Dirs, Arc<Broker>, Arc<Partition>, Arc<Switchable>) {
    let dirs = Dirs {
        data: tempfile::tempdir().unwrap(),
        bucket: tempfile::tempdir().unwrap(),
    };
    let broker = broker(dirs.data.path());
    let p = create(&broker);
    produce(&p, batches);
    let store = store(dirs.bucket.path());
    (dirs, broker, p, store)
}
