//! Start-up: the data-directory lock, the cluster id, the producer-id block, and opening
//! (recovering) every topic; and preparing a directory that was read-only at start.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};
use strom_log::{Durability, Flusher};

use super::{io, random_bytes, Background, Broker, BrokerConfig, ProducerIds};
use crate::layout::Layout;
use crate::topic::TopicMeta;
use crate::{BrokerError, DiskConfig, DiskGuard, Topic};

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
        let next_pid = read_producer_id_block(&meta_dir)?;

        let (topics, unopened) = open_topics(&layout, &config, read_only)?;

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
    pub(super) fn register_flush(&self, topic: &Topic) {
        for p in topic.partitions() {
            p.attach_disk_guard(&self.disk);
        }
        if let Some(flusher) = self.flusher.lock().as_ref() {
            for p in topic.partitions() {
                flusher.register(&p.log());
            }
        }
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

/// The end of the last producer-id block handed out (0 on a first start).
fn read_producer_id_block(meta_dir: &Path) -> Result<i64, BrokerError> {
    let block_path = meta_dir.join("producer-id-block");
    match std::fs::read_to_string(&block_path) {
        Ok(text) => text.trim().parse::<i64>().map_err(|e| BrokerError::Io {
            path: block_path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io(&block_path)(e)),
    }
}

/// The topics opened by name, and those left unopened (path and metadata).
type OpenedTopics = (BTreeMap<String, Arc<Topic>>, Vec<(PathBuf, TopicMeta)>);

/// Opens every topic found in the data directory (recovering its logs); on a read-only
/// directory, those whose recovery must write are left unopened instead.
fn open_topics(
    layout: &Layout,
    config: &BrokerConfig,
    read_only: bool,
) -> Result<OpenedTopics, BrokerError> {
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
    Ok((topics, unopened))
}
