//! [`Broker`]: the registry of topics and their persisted metadata, and the broker-wide
//! services around them. This file holds the broker's state, lookups and producer-id
//! allocation; `open.rs` the start-up (data-directory lock, cluster id, recovery of every
//! topic), `topics.rs` the topic lifecycle (create, delete, grow, configs), `background.rs`
//! the interval threads (retention, cleaner) and shutdown, `disk_check.rs` the disk check
//! that gates writes and reopens poisoned partitions.
//!
//! Layout of the data directory:
//! ```text
//! .lock                     flock held while a broker runs
//! meta/cluster-id           generated once
//! meta/producer-id-block    end of the last producer-id block handed out
//! topics/<name>/topic.json  id, partition count, config overrides
//! topics/<name>/<p>/        the partition's log (segments, indexes, producer snapshot)
//! staging/<id>/             topics being created (see `layout.rs`)
//! deleted/<id>/             topics being removed (renamed here first, so deletion is atomic)
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, RwLock};
use strom_log::{Durability, Flusher};

use crate::layout::Layout;

mod background;
mod disk_check;
mod open;
mod topics;
use crate::{BrokerError, DiskGuard, Partition, Topic};

/// Broker-wide settings; topic configs override the log defaults.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub data_dir: PathBuf,
    pub node_id: i32,
    pub auto_create_topics: bool,
    pub default_partitions: i32,
    pub durability: Durability,
    /// Defaults for topics without overrides.
    pub log_defaults: strom_log::LogConfig,
    /// How often retention and the compaction check run.
    pub retention_check_interval_ms: u64,
    /// I/O budget of the log cleaner (bytes read plus written per second, all partitions).
    pub cleaner_bytes_per_sec: u64,
    /// Memory for the cleaner's key map per run (`log.cleaner.dedupe.buffer.size`).
    pub cleaner_dedupe_buffer_bytes: usize,
}

/// Most partitions one topic may have; a guard against a typo creating millions of files.
pub const MAX_PARTITIONS: i32 = 10_000;
/// Producer ids are reserved on disk in blocks, so allocation rarely touches the disk.
const PRODUCER_ID_BLOCK: i64 = 1000;

struct ProducerIds {
    next: i64,
    block_end: i64,
}

struct Background {
    stop: Mutex<bool>,
    wake: Condvar,
}

pub struct Broker {
    config: BrokerConfig,
    cluster_id: String,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serialises topic creation, deletion and config changes.
    admin: Mutex<()>,
    producer_ids: Mutex<ProducerIds>,
    flusher: Mutex<Option<Flusher>>,
    background: Arc<Background>,
    retention_thread: Mutex<Option<JoinHandle<()>>>,
    cleaner_thread: Mutex<Option<JoinHandle<()>>>,
    disk_thread: Mutex<Option<JoinHandle<()>>>,
    disk: Arc<DiskGuard>,
    /// The cleaner's I/O budget; interrupting it stops a running compaction at shutdown.
    cleaner_throttle: Arc<strom_log::Throttle>,
    shutting_down: AtomicBool,
    layout: Layout,
    /// Whether the data directory's folders and metadata exist; false after a read-only start
    /// on a directory that never held Strom's layout, until it becomes writable.
    prepared: AtomicBool,
    /// Whether a remote store is configured (set when tiering starts): without one,
    /// `remote.storage.enable=true` is refused as Kafka refuses it when the broker's tiered
    /// storage is off.
    remote_storage: AtomicBool,
    /// Topics that could not open on a read-only data directory (their logs need recovery);
    /// opened by the disk check once the directory is writable.
    unopened: Mutex<Vec<(PathBuf, crate::topic::TopicMeta)>>,
    /// Counters of the front ends' listeners, for `/metrics`.
    listeners: crate::ListenerRegistry,
    /// The transaction coordinator, once started (`txn/`); weak, as it holds the broker.
    transactions: std::sync::OnceLock<std::sync::Weak<crate::txn::TxnCoordinator>>,
    _lock: File,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BrokerError + '_ {
    move |source| BrokerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `N` bytes for ids that only need to be unique (topic ids, cluster id, REST consumer
/// instance names); not for secrets.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // Not security-sensitive: ids only need to be unique. Mix time, pid and a hashed counter.
    use std::hash::{BuildHasher, Hasher};
    for chunk in out.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    out
}

impl Broker {
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The cluster id, generated on first start and kept in the data directory.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The front ends' listeners and their connection counters.
    pub fn listeners(&self) -> &crate::ListenerRegistry {
        &self.listeners
    }

    /// Whether [`Broker::shutdown`] has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    fn check_running(&self) -> Result<(), BrokerError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(BrokerError::ShuttingDown);
        }
        Ok(())
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    /// All topics, sorted by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics.read().values().cloned().collect()
    }

    /// Errors: `UnknownTopic`, `UnknownPartition`.
    pub fn partition(&self, topic: &str, partition: i32) -> Result<Arc<Partition>, BrokerError> {
        let t = self
            .topic(topic)
            .ok_or_else(|| BrokerError::UnknownTopic(topic.to_string()))?;
        t.partition(partition)
            .ok_or_else(|| BrokerError::UnknownPartition {
                topic: topic.to_string(),
                partition,
            })
    }

    /// Per-partition sizes, for admin views: `(topic, partition) -> bytes`.
    pub fn partition_sizes(&self) -> HashMap<(String, i32), u64> {
        let mut out = HashMap::new();
        for t in self.topics() {
            for p in t.partitions() {
                out.insert((t.name().to_string(), p.index()), p.size_bytes());
            }
        }
        out
    }

    /// The transaction coordinator, if one is running for this broker.
    pub fn transactions(&self) -> Option<Arc<crate::txn::TxnCoordinator>> {
        self.transactions.get().and_then(std::sync::Weak::upgrade)
    }

    /// Registers the transaction coordinator (the first one wins); see `txn/`.
    pub(crate) fn set_transactions(&self, coordinator: &Arc<crate::txn::TxnCoordinator>) {
        let _ = self.transactions.set(Arc::downgrade(coordinator));
    }

    /// Allocates a new producer id for the idempotent producer (persisted, never reused).
    pub fn allocate_producer_id(&self) -> Result<i64, BrokerError> {
        self.check_running()?;
        let mut ids = self.producer_ids.lock();
        if ids.next >= ids.block_end {
            let end = ids.next + PRODUCER_ID_BLOCK;
            let path = self.config.data_dir.join("meta").join("producer-id-block");
            // Reserve the block on disk first: after a crash the next start skips past it.
            strom_log::write_file_atomically(&path, end.to_string().as_bytes())?;
            ids.block_end = end;
        }
        let id = ids.next;
        ids.next += 1;
        Ok(id)
    }
}
