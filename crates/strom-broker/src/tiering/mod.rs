//! Tiered storage: [`Tiering`] uploads the closed segments of topics with
//! `remote.storage.enable=true` to an object store on its own thread (never on the produce
//! path), records them in each partition's remote manifest, then applies local retention
//! (`local.retention.ms/bytes`: only segments the manifest records are deleted locally) and
//! total retention (`retention.ms/bytes`: remote segments leave the manifest, then the store).
//! Reads below the local log go to the remote tier (`read.rs`); a node with an empty data
//! directory restores its topics from the store (`restore.rs`). The object format and the
//! manifest's fencing live in the `strom-tier` crate.

mod fetch_wait;
mod floor;
mod read;
mod restore;
mod status;
mod upload;

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use strom_tier::{ChunkCache, ObjectStoreBackend, RemoteStore, StoreConfig};

pub use fetch_wait::{RemoteRead, DEFAULT_REMOTE_FETCH_MAX_WAIT_MS, MAX_DETACHED};
pub(crate) use floor::LogStartFloor;
pub(crate) use read::{log_start, offset_for_timestamp, read};
pub use status::TierStatus;

use crate::{Broker, BrokerError};

/// `[tiered]` settings of the server.
#[derive(Debug, Clone)]
pub struct TieringConfig {
    pub store: StoreConfig,
    /// Upload bandwidth budget, all partitions together.
    pub upload_bytes_per_sec: u64,
    /// Pause between upload passes.
    pub interval_ms: u64,
    /// Memory for cached chunks of remote segments.
    pub cache_bytes: u64,
    /// Bytes per cached chunk and ranged GET ([`strom_tier::cache::CHUNK_BYTES`]).
    pub chunk_bytes: u64,
    /// `remote.fetch.max.wait.ms`: how long a Kafka fetch waits for remote data
    /// (`fetch_wait.rs`).
    pub remote_fetch_max_wait_ms: u64,
}

/// The tiering service of one broker.
pub struct Tiering {
    store: Arc<dyn RemoteStore>,
    cache: Arc<ChunkCache>,
    config: TieringConfig,
    throttle: strom_log::Throttle,
    parts: Mutex<HashMap<(String, i32), upload::PartState>>,
    /// The topic metadata last uploaded, per topic: (topic id, JSON).
    topic_meta: Mutex<HashMap<String, (String, Vec<u8>)>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Tiering {
    /// Opens the object store (no request is made yet).
    /// Errors: `InvalidConfig` for an unusable store URL or options.
    pub fn open(config: TieringConfig) -> Result<Arc<Tiering>, BrokerError> {
        let store = ObjectStoreBackend::open(&config.store)
            .map_err(|e| BrokerError::InvalidConfig(e.to_string()))?;
        Ok(Tiering::with_store(Arc::new(store), config))
    }

    /// A service over any [`RemoteStore`] (tests use fault-injecting stores).
    pub fn with_store(store: Arc<dyn RemoteStore>, config: TieringConfig) -> Arc<Tiering> {
        Arc::new(Tiering {
            store,
            cache: Arc::new(ChunkCache::with_chunk_bytes(
                config.cache_bytes,
                config.chunk_bytes,
            )),
            throttle: strom_log::Throttle::new(config.upload_bytes_per_sec),
            config,
            parts: Mutex::new(HashMap::new()),
            topic_meta: Mutex::new(HashMap::new()),
            stop: Arc::new((Mutex::new(false), Condvar::new())),
            thread: Mutex::new(None),
        })
    }

    /// Starts the upload thread. It holds the broker weakly and stops with [`Tiering::stop`].
    pub fn start(self: &Arc<Self>, broker: &Arc<Broker>) {
        broker.enable_remote_storage();
        let weak = Arc::downgrade(broker);
        let me = Arc::clone(self);
        let every = Duration::from_millis(self.config.interval_ms.max(10));
        let handle = std::thread::Builder::new()
            .name("strom-tier-upload".into())
            .spawn(move || loop {
                let Some(broker) = weak.upgrade() else { return };
                me.run_once(&broker);
                drop(broker);
                let (lock, wake) = &*me.stop;
                let mut stop = lock.lock();
                if !*stop {
                    wake.wait_for(&mut stop, every);
                }
                if *stop {
                    return;
                }
            });
        match handle {
            Ok(h) => *self.thread.lock() = Some(h),
            Err(e) => tracing::error!(error = %e, "cannot start the tiered-storage upload thread"),
        }
    }

    /// Stops the upload thread after its current segment and waits for it.
    pub fn stop(&self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        self.throttle.interrupt();
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
    }

    /// The chunk cache's counters (hits, misses, read-ahead hits).
    pub fn cache_stats(&self) -> strom_tier::CacheStats {
        self.cache.stats()
    }

    fn stopping(&self) -> bool {
        *self.stop.0.lock()
    }

    /// One pass over every tiered partition: upload, then local and total retention.
    pub fn run_once(&self, broker: &Broker) {
        self.forget_deleted_topics(broker);
        for topic in broker.topics() {
            let config = topic.config();
            if !config.remote_storage() || crate::is_internal_topic(topic.name()) {
                continue;
            }
            if let Err(e) = self.upload_topic_meta(&topic) {
                metrics::counter!("strom_tier_upload_errors_total").increment(1);
                tracing::warn!(topic = %topic.name(), error = %e, "cannot upload topic metadata");
                continue;
            }
            for p in topic.partitions() {
                if self.stopping() {
                    return;
                }
                if let Err(e) = self.tier_partition(&topic, &p, &config) {
                    metrics::counter!("strom_tier_upload_errors_total").increment(1);
                    tracing::warn!(topic = %topic.name(), partition = p.index(), error = %e,
                        "tiered storage pass failed; retried on the next pass");
                }
            }
        }
    }

    /// Writes the topic's metadata (name, id, partitions, configs) to the store when it
    /// changed, so a new node can restore the topic.
    fn upload_topic_meta(&self, topic: &crate::Topic) -> Result<(), strom_tier::TierError> {
        let meta = topic.meta();
        let bytes = serde_json::to_vec_pretty(&meta)
            .map_err(|e| strom_tier::TierError::Corrupt(e.to_string()))?;
        if self.topic_meta.lock().get(topic.name()).map(|(_, b)| b) == Some(&bytes) {
            return Ok(());
        }
        self.store.put(
            &strom_tier::manifest::topic_meta_key(topic.name()),
            bytes::Bytes::from(bytes.clone()),
        )?;
        self.topic_meta
            .lock()
            .insert(topic.name().to_string(), (meta.id, bytes));
        Ok(())
    }

    /// Deletes the remote data of topics deleted (or deleted and created again under a new
    /// id) since their data was uploaded, so a restore does not bring them back.
    fn forget_deleted_topics(&self, broker: &Broker) {
        let gone: Vec<(String, String)> = self
            .topic_meta
            .lock()
            .iter()
            .filter(|(name, (id, _))| {
                broker
                    .topic(name)
                    .is_none_or(|t| crate::topic::format_id(&t.id()) != *id)
            })
            .map(|(name, (id, _))| (name.clone(), id.clone()))
            .collect();
        for (name, id) in gone {
            self.parts.lock().retain(|(t, _), _| *t != name);
            let result = (|| -> Result<(), strom_tier::TierError> {
                if broker.topic(&name).is_none() {
                    self.store
                        .delete(&strom_tier::manifest::topic_meta_key(&name))?;
                }
                for obj in self.store.list(&format!("topics/{name}/{id}/"))? {
                    self.store.delete(&obj.key)?;
                }
                Ok(())
            })();
            match result {
                Ok(()) => {
                    self.topic_meta.lock().remove(&name);
                    tracing::info!(topic = %name, "deleted the remote data of a deleted topic");
                }
                Err(e) => {
                    tracing::warn!(topic = %name, error = %e, "cannot delete a deleted topic's remote data yet")
                }
            }
        }
    }
}
