//! The transaction coordinator (KIP-98): transactional ids, their producer ids and epochs,
//! the partitions and groups of each open transaction, and its completion by commit/abort
//! markers. State is kept per transactional id in the internal compacted topic
//! `__transaction_state` (a [`StateTopic`]), written before each answer, so an in-flight
//! transaction survives a restart or SIGKILL: at start a PrepareCommit/PrepareAbort is
//! completed, and an Ongoing one is aborted once it times out.
//!
//! Blocking: every operation may fsync; front ends call it off their async workers. One
//! lock per transactional id is held across an operation (including its marker writes and
//! a transactional produce's append, see [`TxnCoordinator::with_verified_write`]), so a
//! producer's data can never land after its own marker.

mod end;
pub(crate) mod markers;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use crate::records::now_ms;
use crate::{Broker, BrokerError, GroupCoordinator, StateTopic, TRANSACTION_STATE};

pub use state::{InitStep, PendingOffset, TxnMeta, TxnState};

/// Kafka's default `transaction.max.timeout.ms` (15 minutes).
pub const DEFAULT_MAX_TIMEOUT_MS: i32 = 900_000;
/// How often open transactions are checked for their timeout (Kafka's
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` is 10 s).
const TIMEOUT_CHECK: Duration = Duration::from_millis(500);

/// Errors of the transaction APIs; `strom-kafka/src/errors.rs` maps them to Kafka codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    #[error("this producer has been fenced by a newer one with the same transactional id")]
    ProducerFenced,
    #[error("the producer id does not belong to this transactional id")]
    InvalidProducerIdMapping,
    #[error("the request is not valid in the transaction's current state")]
    InvalidTxnState,
    #[error("a commit or abort of this transaction is in progress; retry")]
    ConcurrentTransactions,
    #[error("transaction timeout {0} ms is outside 1..=transaction_max_timeout_ms")]
    InvalidTimeout(i32),
    #[error("the partition was not added to the transaction")]
    PartitionNotInTransaction,
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("the transaction coordinator cannot store its state: {0}")]
    Storage(String),
}

impl From<BrokerError> for TxnError {
    fn from(err: BrokerError) -> TxnError {
        match err {
            BrokerError::UnknownTopic(_) | BrokerError::UnknownPartition { .. } => {
                TxnError::UnknownTopicOrPartition
            }
            other => TxnError::Storage(other.to_string()),
        }
    }
}

/// Settings of the coordinator.
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// Largest `transaction.timeout.ms` a producer may ask for.
    pub max_timeout_ms: i32,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            max_timeout_ms: DEFAULT_MAX_TIMEOUT_MS,
        }
    }
}

/// A transaction as DescribeTransactions/ListTransactions report it.
#[derive(Debug, Clone)]
pub struct TxnListing {
    pub transactional_id: String,
    pub meta: TxnMeta,
}

/// The coordinator; one per broker (registered with it, see [`Broker::transactions`]).
pub struct TxnCoordinator {
    broker: Arc<Broker>,
    groups: GroupCoordinator,
    /// Runs the group coordinator's async commit from the blocking paths.
    runtime: Option<tokio::runtime::Handle>,
    store: StateTopic,
    config: TxnConfig,
    ids: Mutex<HashMap<String, Arc<Mutex<TxnMeta>>>>,
    /// Producer id -> transactional id, for produce verification (KIP-890).
    by_pid: Mutex<HashMap<i64, String>>,
}

impl TxnCoordinator {
    /// Opens `__transaction_state`, loads every transactional id, completes transactions
    /// caught between prepare and complete, registers with the broker and starts the timeout
    /// thread. Blocking. Errors: the state topic cannot be opened or read.
    pub fn start(
        broker: Arc<Broker>,
        groups: GroupCoordinator,
        config: TxnConfig,
    ) -> Result<Arc<TxnCoordinator>, BrokerError> {
        let store = StateTopic::open_topic(Arc::clone(&broker), TRANSACTION_STATE)?;
        let mut ids = HashMap::new();
        let mut by_pid = HashMap::new();
        for (key, value) in store.load()? {
            let (Ok(id), Ok(meta)) = (
                String::from_utf8(key.to_vec()),
                serde_json::from_slice::<TxnMeta>(&value),
            ) else {
                tracing::warn!("skipping an unreadable __transaction_state record");
                continue;
            };
            by_pid.insert(meta.producer_id, id.clone());
            ids.insert(id, Arc::new(Mutex::new(meta)));
        }
        let coordinator = Arc::new(TxnCoordinator {
            broker: Arc::clone(&broker),
            groups,
            runtime: tokio::runtime::Handle::try_current().ok(),
            store,
            config,
            ids: Mutex::new(ids),
            by_pid: Mutex::new(by_pid),
        });
        coordinator.recover();
        broker.set_transactions(&coordinator);
        let weak = Arc::downgrade(&coordinator);
        std::thread::Builder::new()
            .name("strom-txn-timeouts".into())
            .spawn(move || timeout_loop(weak))
            .map_err(|source| BrokerError::Io {
                path: "strom-txn-timeouts".into(),
                source,
            })?;
        Ok(coordinator)
    }

    fn entry(&self, id: &str) -> Option<Arc<Mutex<TxnMeta>>> {
        self.ids.lock().get(id).cloned()
    }

    fn persist(&self, id: &str, meta: &TxnMeta) -> Result<(), TxnError> {
        let value = serde_json::to_vec(meta).map_err(|e| TxnError::Storage(e.to_string()))?;
        self.store.put(id.as_bytes(), Some(&value))?;
        Ok(())
    }

    /// InitProducerId with a transactional id: the producer id and epoch to use. A new id
    /// gets a fresh producer id at epoch 0; a known one is bumped, fencing older producers
    /// and aborting their open transaction first. `given` is the request's (producer id,
    /// epoch) for KIP-360, (-1, -1) otherwise.
    /// Errors: `InvalidTimeout`, `ProducerFenced`, `ConcurrentTransactions`, `Storage`.
    pub fn init_producer_id(
        &self,
        id: &str,
        timeout_ms: i32,
        given: (i64, i16),
    ) -> Result<(i64, i16), TxnError> {
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(TxnError::InvalidTimeout(timeout_ms));
        }
        let now = now_ms();
        let entry = {
            let mut ids = self.ids.lock();
            if let Some(entry) = ids.get(id) {
                Arc::clone(entry)
            } else {
                let pid = self.broker.allocate_producer_id()?;
                let meta = TxnMeta::new(pid, timeout_ms, now);
                self.persist(id, &meta)?;
                self.by_pid.lock().insert(pid, id.to_string());
                ids.insert(id.to_string(), Arc::new(Mutex::new(meta)));
                return Ok((pid, 0));
            }
        };
        let mut meta = entry.lock();
        let mut next = meta.clone();
        let new_pid = || Ok(self.broker.allocate_producer_id()?);
        let step = next.init(given, timeout_ms, new_pid, now)?;
        self.persist(id, &next)?;
        *meta = next;
        if step == InitStep::AbortThenAnswer {
            self.finish(id, &mut meta)?;
        }
        self.by_pid.lock().insert(meta.producer_id, id.to_string());
        Ok((meta.producer_id, meta.epoch))
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn (a group). Errors: those of [`TxnMeta::add`],
    /// `UnknownTopicOrPartition`, `InvalidProducerIdMapping` for an unknown id, `Storage`.
    pub fn add(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        group: Option<&str>,
    ) -> Result<(), TxnError> {
        for (topic, partition) in partitions {
            self.broker.partition(topic, *partition)?;
        }
        let entry = self.entry(id).ok_or(TxnError::InvalidProducerIdMapping)?;
        let mut meta = entry.lock();
        let mut next = meta.clone();
        if next.add(pid, epoch, partitions, group, now_ms())? {
            self.persist(id, &next)?;
            *meta = next;
        }
        Ok(())
    }

    /// TxnOffsetCommit: stages offsets until the transaction commits.
    /// Errors: those of [`TxnMeta::stage_offsets`], `Storage`.
    pub fn stage_offsets(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        offsets: Vec<PendingOffset>,
    ) -> Result<(), TxnError> {
        let entry = self.entry(id).ok_or(TxnError::InvalidProducerIdMapping)?;
        let mut meta = entry.lock();
        let mut next = meta.clone();
        next.stage_offsets(pid, epoch, offsets)?;
        self.persist(id, &next)?;
        *meta = next;
        Ok(())
    }

    /// EndTxn: commits or aborts, writing the markers and (on commit) the staged offsets
    /// before answering. Errors: those of [`TxnMeta::prepare_end`], `Storage`.
    pub fn end(&self, id: &str, pid: i64, epoch: i16, commit: bool) -> Result<(), TxnError> {
        let entry = self.entry(id).ok_or(TxnError::InvalidProducerIdMapping)?;
        let mut meta = entry.lock();
        let mut next = meta.clone();
        if !next.prepare_end(pid, epoch, commit)? {
            return Ok(());
        }
        self.persist(id, &next)?;
        *meta = next;
        self.finish(id, &mut meta)
    }

    /// Runs `write` (a transactional produce of `pid` at `epoch` to `topic`/`partition`) only
    /// if the partition is part of the producer's ongoing transaction (KIP-890), holding the
    /// transaction's lock so no marker is written meanwhile.
    /// Errors: `ProducerFenced` (stale epoch), `InvalidProducerIdMapping`,
    /// `PartitionNotInTransaction`; else what `write` returns.
    pub fn with_verified_write<T>(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
        write: impl FnOnce() -> T,
    ) -> Result<T, TxnError> {
        let entry = self.entry(id).ok_or(TxnError::InvalidProducerIdMapping)?;
        let meta = entry.lock();
        meta.check_producer(pid, epoch)?;
        let key = (topic.to_string(), partition);
        if meta.state != TxnState::Ongoing || !meta.partitions.contains(&key) {
            return Err(TxnError::PartitionNotInTransaction);
        }
        Ok(write())
    }

    /// Every transactional id with its state (ListTransactions, DescribeTransactions).
    pub fn list(&self) -> Vec<TxnListing> {
        let entries: BTreeMap<String, Arc<Mutex<TxnMeta>>> = self
            .ids
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        entries
            .into_iter()
            .map(|(transactional_id, meta)| TxnListing {
                transactional_id,
                meta: meta.lock().clone(),
            })
            .collect()
    }

    /// One transactional id's state, if known.
    pub fn describe(&self, id: &str) -> Option<TxnMeta> {
        self.entry(id).map(|e| e.lock().clone())
    }

    /// Aborts every open transaction past its timeout.
    fn abort_timed_out(&self) {
        let now = now_ms();
        let entries: Vec<(String, Arc<Mutex<TxnMeta>>)> = self
            .ids
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for (id, entry) in entries {
            let mut meta = entry.lock();
            if !meta.timed_out(now) {
                continue;
            }
            tracing::info!(transactional_id = %id, "aborting a transaction that timed out");
            let mut next = meta.clone();
            next.prepare_timeout_abort();
            if let Err(err) = self.persist(&id, &next) {
                tracing::warn!(transactional_id = %id, error = %err, "cannot abort a timed-out transaction yet");
                continue;
            }
            *meta = next;
            if let Err(err) = self.finish(&id, &mut meta) {
                tracing::warn!(transactional_id = %id, error = %err, "abort of a timed-out transaction incomplete; retrying");
            }
        }
    }
}

/// Checks timeouts until the coordinator is dropped or the broker shuts down.
fn timeout_loop(coordinator: Weak<TxnCoordinator>) {
    loop {
        std::thread::sleep(TIMEOUT_CHECK);
        let Some(c) = coordinator.upgrade() else {
            return;
        };
        if c.broker.is_shutting_down() {
            return;
        }
        c.abort_timed_out();
        c.retry_unfinished();
    }
}
