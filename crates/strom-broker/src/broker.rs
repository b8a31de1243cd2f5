//! [`Broker`]: the registry of topics and their persisted metadata, and the broker-wide
//! services around them (interval flusher, retention thread, producer id allocation, the
//! data-directory lock, the disk check that gates writes and reopens poisoned partitions).
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
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};
use strom_log::{Durability, Flusher};

use crate::internal::{refuse_internal, ClientOperation};
use crate::layout::{crash_point, Layout};
use crate::topic::{format_id, TopicMeta};

mod disk_check;
use crate::{BrokerError, DiskConfig, DiskGuard, Partition, Topic, TopicConfig};

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

/// Kafka's topic name rules: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn validate_topic_name(name: &str) -> Result<(), BrokerError> {
    let reason = if name.is_empty() {
        Some("must not be empty".to_string())
    } else if name == "." || name == ".." {
        Some("must not be '.' or '..'".to_string())
    } else if name.len() > 249 {
        Some(format!(
            "is {} characters long, the maximum is 249",
            name.len()
        ))
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .map(|c| format!("contains '{c}'; allowed are ASCII letters, digits, '.', '_' and '-'"))
    };
    match reason {
        Some(reason) => Err(BrokerError::InvalidTopicName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
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

fn lock_data_dir(dir: &Path, read_only: bool) -> Result<File, BrokerError> {
    let path = dir.join(".lock");
    let file = match File::create(&path) {
        // A read-only directory: the lock file of an earlier run, or the directory itself
        // (flock needs no write access).
        Err(_) if read_only => File::open(&path)
            .or_else(|_| File::open(dir))
            .map_err(io(&path))?,
        other => other.map_err(io(&path))?,
    };
    // SAFETY: flock on a valid, owned file descriptor has no memory-safety preconditions.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(BrokerError::Io {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::ResourceBusy,
                "the data directory is in use by another strom process",
            ),
        });
    }
    Ok(file)
}

impl Broker {
    /// Opens the data directory (creating it), restores every topic and recovers its logs.
    /// Errors: `Io` for an unusable or already locked data directory, `Log` for an
    /// unrecoverable segment.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>, BrokerError> {
        Broker::open_with_disk(config, DiskConfig::default())
    }

    /// [`Broker::open`] with limits on the data directory's free space (see [`DiskGuard`]).
    pub fn open_with_disk(
        config: BrokerConfig,
        disk: DiskConfig,
    ) -> Result<Arc<Broker>, BrokerError> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let read_only = !strom_log::dir_writable(&dir);
        let lock = lock_data_dir(&dir, read_only)?;
        let meta_dir = dir.join("meta");
        let layout = Layout::new(&dir);
        if read_only {
            tracing::warn!(data_dir = %dir.display(), "the data directory is read-only: \
                starting degraded (reads served, writes refused until it is writable again)");
        } else {
            std::fs::create_dir_all(&meta_dir).map_err(io(&meta_dir))?;
            layout.prepare()?;
        }
        let cluster_id = load_or_create_cluster_id(&meta_dir, read_only)?;
        let block_path = meta_dir.join("producer-id-block");
        let next_pid = match std::fs::read_to_string(&block_path) {
            Ok(text) => text.trim().parse::<i64>().map_err(|e| BrokerError::Io {
                path: block_path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(&block_path)(e)),
        };

        let mut topics = BTreeMap::new();
        let mut unopened = Vec::new();
        // A read-only directory that never held Strom's layout has no topics yet.
        let existing = if read_only && !layout.topics().is_dir() {
            Vec::new()
        } else {
            layout.topic_dirs()?
        };
        for (path, meta) in existing {
            match Topic::open(&path, &meta, &config.log_defaults) {
                Ok(topic) => {
                    tracing::info!(topic = %meta.name, partitions = meta.partitions, "opened topic");
                    topics.insert(meta.name.clone(), Arc::new(topic));
                }
                // Recovery that must write waits for the directory to become writable.
                Err(e) if read_only => {
                    tracing::error!(topic = %meta.name, error = %e, "topic unavailable until \
                        the data directory is writable: its logs need recovery");
                    unopened.push((path, meta));
                }
                Err(e) => return Err(e),
            }
        }

        let flusher = match config.durability {
            Durability::Interval(every) => Some(Flusher::start(every)),
            _ => None,
        };
        let cleaner_throttle = Arc::new(strom_log::Throttle::new(config.cleaner_bytes_per_sec));
        let disk = Arc::new(DiskGuard::new(&dir, disk));
        let broker = Arc::new(Broker {
            config,
            cluster_id,
            topics: RwLock::new(topics),
            admin: Mutex::new(()),
            producer_ids: Mutex::new(ProducerIds {
                next: next_pid,
                block_end: next_pid,
            }),
            flusher: Mutex::new(flusher),
            background: Arc::new(Background {
                stop: Mutex::new(false),
                wake: Condvar::new(),
            }),
            retention_thread: Mutex::new(None),
            cleaner_thread: Mutex::new(None),
            disk_thread: Mutex::new(None),
            disk,
            cleaner_throttle,
            shutting_down: AtomicBool::new(false),
            layout,
            prepared: AtomicBool::new(!read_only),
            remote_storage: AtomicBool::new(false),
            unopened: Mutex::new(unopened),
            listeners: Default::default(),
            transactions: std::sync::OnceLock::new(),
            _lock: lock,
        });
        for topic in broker.topics() {
            broker.register_flush(&topic);
        }
        broker.start_retention();
        broker.start_cleaner();
        broker.start_disk_check();
        Ok(broker)
    }

    /// Registers the topic's logs with the flusher and attaches the write gate.
    fn register_flush(&self, topic: &Topic) {
        for p in topic.partitions() {
            p.attach_disk_guard(&self.disk);
        }
        if let Some(flusher) = self.flusher.lock().as_ref() {
            for p in topic.partitions() {
                flusher.register(&p.log());
            }
        }
    }

    /// Runs `work` on a named thread every retention-check interval until shutdown. The
    /// thread holds only a weak reference, so it never keeps a dropped broker alive.
    fn spawn_periodic(
        self: &Arc<Self>,
        name: &str,
        slot: &Mutex<Option<JoinHandle<()>>>,
        every: Duration,
        work: impl Fn(&Broker) + Send + 'static,
    ) {
        let weak = Arc::downgrade(self);
        let bg = Arc::clone(&self.background);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                {
                    let mut stop = bg.stop.lock();
                    if !*stop {
                        bg.wake.wait_for(&mut stop, every);
                    }
                    if *stop {
                        return;
                    }
                }
                let Some(broker) = weak.upgrade() else { return };
                work(&broker);
            });
        match handle {
            Ok(h) => *slot.lock() = Some(h),
            Err(e) => {
                tracing::error!(thread = name, error = %e, "cannot start a background thread")
            }
        }
    }

    fn start_retention(self: &Arc<Self>) {
        let every = Duration::from_millis(self.config.retention_check_interval_ms.max(10));
        self.spawn_periodic("strom-retention", &self.retention_thread, every, |b| {
            b.enforce_retention()
        });
    }

    /// Runs the log cleaner on its own thread, so a long compaction never delays retention.
    fn start_cleaner(self: &Arc<Self>) {
        let throttle = Arc::clone(&self.cleaner_throttle);
        let every = Duration::from_millis(self.config.retention_check_interval_ms.max(10));
        self.spawn_periodic("strom-cleaner", &self.cleaner_thread, every, move |b| {
            b.clean_logs(Some(&throttle));
        });
    }

    /// Compacts every compacted partition that is due; returns how many were cleaned.
    pub fn clean_logs(&self, throttle: Option<&strom_log::Throttle>) -> usize {
        if !self.disk.status(0).accepts_writes() {
            // Cleaning writes new segments first; it waits until the disk has room again.
            return 0;
        }
        let now = crate::records::now_ms();
        let mut cleaned = 0;
        for topic in self.topics() {
            for p in topic.partitions() {
                if self.shutting_down.load(Ordering::Acquire) || !p.log().needs_cleaning(now) {
                    continue;
                }
                let max_keys =
                    strom_log::max_keys_for_bytes(self.config.cleaner_dedupe_buffer_bytes);
                match p.compact(now, throttle, max_keys) {
                    Ok(_) => cleaned += 1,
                    Err(BrokerError::Log(strom_log::LogError::Interrupted)) => {
                        tracing::info!(topic = %topic.name(), partition = p.index(), "compaction interrupted for shutdown");
                        return cleaned;
                    }
                    Err(e) => {
                        tracing::warn!(topic = %topic.name(), partition = p.index(), error = %e, "compaction failed")
                    }
                }
            }
        }
        cleaned
    }

    /// Runs one retention pass over every partition now.
    pub fn enforce_retention(&self) {
        if self.disk.state() == crate::DiskState::ReadOnly {
            // Retention deletes files: it waits until the directory is writable again.
            return;
        }
        let now = crate::records::now_ms();
        for topic in self.topics() {
            for p in topic.partitions() {
                if let Err(e) = p.log().enforce_retention(now) {
                    tracing::warn!(topic = %topic.name(), partition = p.index(), error = %e, "retention failed");
                }
            }
        }
    }

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

    /// Validates a create request without creating anything (Kafka `validate_only`).
    /// Errors: those of [`Broker::create_topic`] but `Io` and `Log`.
    pub fn validate_new_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), BrokerError> {
        validate_topic_name(name)?;
        refuse_internal(name, ClientOperation::Create)?;
        self.validate_shape(name, partitions, configs)
    }

    fn validate_shape(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), BrokerError> {
        validate_topic_name(name)?;
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(BrokerError::InvalidPartitions(format!(
                "a topic needs between 1 and {MAX_PARTITIONS} partitions, got {partitions}"
            )));
        }
        self.check_remote_storage(&TopicConfig::from_map(configs)?)?;
        if self.topics.read().contains_key(name) {
            return Err(BrokerError::TopicExists(name.to_string()));
        }
        Ok(())
    }

    /// Creates a topic, all or nothing: it is built in `staging/`, renamed into `topics/`
    /// and opened; if any step fails, nothing of it is left and it does not exist.
    /// Errors: `TopicExists`, `InvalidTopicName`, `InternalTopic`, `InvalidPartitions`,
    /// `InvalidConfig`, `Io`, `Log` (opening a partition, e.g. too many open files).
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, BrokerError> {
        refuse_internal(name, ClientOperation::Create)?;
        self.create(name, partitions, configs)
    }

    /// Creates an internal topic for the broker's own stores (see `internal.rs`).
    /// Errors: those of [`Broker::create_topic`] but `InternalTopic`.
    pub(crate) fn create_internal_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, BrokerError> {
        self.create(name, partitions, configs)
    }

    fn create(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, BrokerError> {
        self.check_running()?;
        let _admin = self.admin.lock();
        self.ensure_prepared()?;
        self.validate_shape(name, partitions, configs)?;
        let meta = TopicMeta {
            name: name.to_string(),
            id: format_id(&random_bytes::<16>()),
            partitions,
            config: TopicConfig::from_map(configs)?,
        };
        let staged = self.layout.stage(&meta)?;
        let dir = self.layout.publish(&staged, name)?;
        let topic = match Topic::open(&dir, &meta, &self.config.log_defaults) {
            Ok(topic) => Arc::new(topic),
            Err(e) => {
                tracing::error!(topic = name, error = %e, "cannot open a new topic; undoing its creation");
                // The partitions opened so far were dropped with the failed open.
                match self.layout.retire(&dir) {
                    Ok(retired) => self.layout.purge(&retired),
                    Err(undo) => tracing::error!(topic = name, error = %undo,
                        "cannot undo a failed topic creation; the topic opens at the next start"),
                }
                return Err(e);
            }
        };
        crash_point("create:opened");
        self.register_flush(&topic);
        self.topics
            .write()
            .insert(name.to_string(), Arc::clone(&topic));
        tracing::debug!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Deletes a topic and its data. The topic leaves memory only once its folder has left
    /// `topics/`; if that rename fails, the topic is reopened and stays as it was.
    /// Errors: `UnknownTopic`, `InternalTopic`, `Io`.
    pub fn delete_topic(&self, name: &str) -> Result<(), BrokerError> {
        self.check_running()?;
        refuse_internal(name, ClientOperation::Delete)?;
        let _admin = self.admin.lock();
        let topic = self
            .topic(name)
            .ok_or_else(|| BrokerError::UnknownTopic(name.to_string()))?;
        // Close first, so no append is acknowledged into files about to be removed.
        for p in topic.partitions() {
            if let Err(e) = p.close() {
                tracing::warn!(topic = name, partition = p.index(), error = %e, "closing a deleted partition failed");
            }
        }
        let retired = match self.layout.retire(topic.dir()) {
            Ok(retired) => retired,
            Err(e) => {
                tracing::error!(topic = name, error = %e, "cannot delete a topic; reopening it");
                self.reopen(&topic);
                return Err(e);
            }
        };
        self.topics.write().remove(name);
        self.layout.purge(&retired);
        tracing::debug!(topic = name, "deleted topic");
        Ok(())
    }

    /// Reopens a topic whose logs were closed for a delete that did not happen.
    fn reopen(&self, topic: &Topic) {
        match Topic::open(topic.dir(), &topic.meta(), &self.config.log_defaults) {
            Ok(reopened) => {
                let reopened = Arc::new(reopened);
                self.register_flush(&reopened);
                self.topics
                    .write()
                    .insert(topic.name().to_string(), reopened);
            }
            Err(e) => {
                tracing::error!(topic = %topic.name(), error = %e, "cannot reopen a topic; it is back after a restart")
            }
        }
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    /// The topic, auto-created with the default partition count when the broker allows it.
    /// Errors: `UnknownTopic` when auto-creation is off, or those of [`Broker::create_topic`].
    pub fn topic_or_create(&self, name: &str) -> Result<Arc<Topic>, BrokerError> {
        if let Some(t) = self.topic(name) {
            return Ok(t);
        }
        if !self.config.auto_create_topics {
            return Err(BrokerError::UnknownTopic(name.to_string()));
        }
        match self.create_topic(name, self.config.default_partitions, &BTreeMap::new()) {
            Err(BrokerError::TopicExists(_)) => self
                .topic(name)
                .ok_or_else(|| BrokerError::UnknownTopic(name.to_string())),
            other => other,
        }
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

    /// Grows a topic to `total` partitions. Errors: `UnknownTopic`, `InternalTopic`,
    /// `InvalidPartitions` if not larger than now or above the maximum.
    pub fn create_partitions(&self, topic: &str, total: i32) -> Result<(), BrokerError> {
        self.check_running()?;
        refuse_internal(topic, ClientOperation::CreatePartitions)?;
        let _admin = self.admin.lock();
        let t = self
            .topic(topic)
            .ok_or_else(|| BrokerError::UnknownTopic(topic.to_string()))?;
        let current = t.partition_count();
        if total <= current {
            return Err(BrokerError::InvalidPartitions(format!(
                "topic '{topic}' has {current} partitions; the new count {total} must be larger"
            )));
        }
        if total > MAX_PARTITIONS {
            return Err(BrokerError::InvalidPartitions(format!(
                "at most {MAX_PARTITIONS} partitions, got {total}"
            )));
        }
        let mut meta = t.meta();
        meta.partitions = total;
        meta.save(t.dir())?;
        t.grow(total, &self.config.log_defaults)?;
        self.register_flush(&t);
        tracing::debug!(topic, from = current, to = total, "added partitions");
        Ok(())
    }

    /// Applies config changes (`None` removes the override); validated as a whole first and
    /// persisted before taking effect. Errors: `UnknownTopic`, `InternalTopic`, `InvalidConfig`.
    pub fn alter_topic_config(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<(), BrokerError> {
        self.check_running()?;
        refuse_internal(topic, ClientOperation::AlterConfig)?;
        let _admin = self.admin.lock();
        let t = self
            .topic(topic)
            .ok_or_else(|| BrokerError::UnknownTopic(topic.to_string()))?;
        let mut overrides = t.config().overrides;
        for (k, v) in changes {
            match v {
                Some(v) => {
                    overrides.insert(k.clone(), v.clone());
                }
                None => {
                    crate::topic_config::validate_key(k)?;
                    overrides.remove(k);
                }
            }
        }
        let config = TopicConfig::from_map(&overrides)?;
        if !t.config().remote_storage() {
            self.check_remote_storage(&config)?;
        }
        let mut meta = t.meta();
        meta.config = config.clone();
        meta.save(t.dir())?;
        t.set_config(config, &self.config.log_defaults);
        tracing::debug!(topic, changes = %crate::topic_config::describe_changes(changes), "altered topic config");
        Ok(())
    }

    /// Effective value of every honoured config key for `topic` (override or default),
    /// with whether it is the default. Errors: `UnknownTopic`.
    pub fn effective_topic_config(
        &self,
        topic: &str,
    ) -> Result<Vec<(String, String, bool)>, BrokerError> {
        let t = self
            .topic(topic)
            .ok_or_else(|| BrokerError::UnknownTopic(topic.to_string()))?;
        Ok(t.config().effective(&self.config.log_defaults))
    }

    /// Allocates a new producer id for the idempotent producer (persisted, never reused).
    /// The transaction coordinator, if one is running for this broker.
    pub fn transactions(&self) -> Option<Arc<crate::txn::TxnCoordinator>> {
        self.transactions.get().and_then(std::sync::Weak::upgrade)
    }

    /// Registers the transaction coordinator (the first one wins); see `txn/`.
    pub(crate) fn set_transactions(&self, coordinator: &Arc<crate::txn::TxnCoordinator>) {
        let _ = self.transactions.set(Arc::downgrade(coordinator));
    }

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

    /// Flushes and cleanly closes every log. Appends afterwards fail with `ShuttingDown`.
    pub fn shutdown(&self) -> Result<(), BrokerError> {
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        *self.background.stop.lock() = true;
        self.background.wake.notify_all();
        self.cleaner_throttle.interrupt();
        for thread in [
            &self.retention_thread,
            &self.cleaner_thread,
            &self.disk_thread,
        ] {
            if let Some(h) = thread.lock().take() {
                let _ = h.join();
            }
        }
        if let Some(mut f) = self.flusher.lock().take() {
            f.stop();
        }
        let mut first_error = None;
        for topic in self.topics() {
            for p in topic.partitions() {
                if let Err(e) = p.close() {
                    tracing::error!(topic = %topic.name(), partition = p.index(), error = %e, "clean close failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
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
}

impl Broker {
    /// Marks a remote store as configured, so topics may set `remote.storage.enable=true`.
    /// Called by [`crate::Tiering::start`]; tests that drive tiering by hand call it too.
    pub fn enable_remote_storage(&self) {
        self.remote_storage.store(true, Ordering::Release);
    }

    fn check_remote_storage(&self, config: &TopicConfig) -> Result<(), BrokerError> {
        if config.remote_storage() && !self.remote_storage.load(Ordering::Acquire) {
            return Err(BrokerError::InvalidConfig(
                "remote.storage.enable=true needs tiered storage, which is off on this server \
                 (no [tiered] store in its configuration)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Creates the data directory's folders and records the cluster id, once, after a
    /// read-only start on a directory without them (the temporary cluster id becomes the
    /// permanent one). Errors: `Io` while the directory still cannot be written.
    pub(crate) fn ensure_prepared(&self) -> Result<(), BrokerError> {
        if self.prepared.load(Ordering::Acquire) {
            return Ok(());
        }
        if self.disk.state() == crate::DiskState::ReadOnly {
            return Err(BrokerError::ReadOnlyStorage);
        }
        let meta_dir = self.config.data_dir.join("meta");
        std::fs::create_dir_all(&meta_dir).map_err(io(&meta_dir))?;
        self.layout.prepare()?;
        let id_path = meta_dir.join("cluster-id");
        if !id_path.exists() {
            strom_log::write_file_atomically(&id_path, self.cluster_id.as_bytes())?;
        }
        self.prepared.store(true, Ordering::Release);
        tracing::info!("the data directory is writable: its folders and cluster id are in place");
        Ok(())
    }
}

fn load_or_create_cluster_id(meta: &Path, read_only: bool) -> Result<String, BrokerError> {
    let path = meta.join("cluster-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
        _ => {
            // Kafka cluster ids are 22 characters of URL-safe base64 of a UUID.
            const ALPHABET: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let id: String = random_bytes::<22>()
                .iter()
                .map(|b| ALPHABET[(*b & 63) as usize] as char)
                .collect();
            if read_only {
                tracing::warn!(
                    "read-only data directory without a cluster id: using a \
                    temporary one until a start on a writable directory"
                );
            } else {
                strom_log::write_file_atomically(&path, id.as_bytes())?;
            }
            Ok(id)
        }
    }
}
