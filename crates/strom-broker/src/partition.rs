//! [`Partition`]: a log plus its high-watermark notifier and idempotent-producer state.
//! Appends pass the broker's [`DiskGuard`] first; a log poisoned by a failed write or fsync is
//! swapped for a fresh one opened from disk by [`Partition::reopen_if_poisoned`].

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use strom_log::{BatchHeader, Log, LogConfig, LogError};
use tokio::sync::watch;

use crate::internal::{is_internal_topic, refuse_internal, ClientOperation};
use crate::partition_txn::{self, ControlType};
use crate::producer_state::{Check, ProducerStates};
use crate::{encode_records, AppendPolicy, BrokerError, DiskGuard, NewRecord};

mod batches;
mod tiered;
mod txns;

use batches::{control_types, headers_of};

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    pub base_offset: i64,
    pub last_offset: i64,
    /// -1 for CreateTime topics (Kafka's convention).
    pub log_append_time: i64,
    pub log_start_offset: i64,
}

/// Bytes of whole record batches from a read.
#[derive(Debug, Clone)]
pub struct FetchResult {
    pub records: Bytes,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

pub struct Partition {
    topic: String,
    index: i32,
    /// Replaced only by [`Partition::reopen_if_poisoned`], with `producers` held.
    log: RwLock<Arc<Log>>,
    /// Held across check-and-write (not across the fsync), so sequence checks and offset
    /// assignment are atomic while concurrent producers still share group commits.
    producers: Mutex<ProducerStates>,
    high_watermark: watch::Sender<i64>,
    /// The topic's change counter, bumped with every high-watermark change of any of its
    /// partitions (one receiver per topic lets a Fetch of many partitions wait cheaply).
    topic_changes: OnceLock<Arc<watch::Sender<u64>>>,
    /// What the topic's configs ask of each append (keys, timestamps; `append_policy.rs`).
    policy: RwLock<AppendPolicy>,
    /// Internal topics refuse client writes and DeleteRecords (`internal.rs`).
    internal: bool,
    /// The broker's write gate, attached once after open.
    disk: OnceLock<Arc<DiskGuard>>,
    /// The remote tier's view of this partition, once tiering manages it (`tiering/`).
    remote: RwLock<Option<Arc<strom_tier::RemoteReader>>>,
    /// The log start DeleteRecords set below the local log (`tiering/floor.rs`).
    floor: crate::tiering::LogStartFloor,
    /// `remote.fetch.max.wait.ms` of the attached remote tier (`tiering/fetch_wait.rs`).
    pub(crate) remote_wait_ms: std::sync::atomic::AtomicU64,
}

/// Opens a log and rebuilds its idempotent-producer and transaction state from the snapshot
/// and the headers after it (a marker's type is read from its control record).
fn open_log(dir: &Path, config: LogConfig) -> Result<(Log, ProducerStates), BrokerError> {
    let log = Log::open(dir, config)?;
    let mut producers = ProducerStates::load(dir, log.log_end_offset());
    let from = producers.next_offset.max(log.log_start_offset());
    let mut txn_batches = Vec::new();
    log.scan_headers(from, &mut |h| {
        if h.base_offset >= producers.next_offset {
            producers.record(h);
            if h.has_producer_id() && (h.is_control() || partition_txn::is_transactional(h)) {
                txn_batches.push(*h);
            }
        }
        true
    })?;
    for h in txn_batches {
        let control = if h.is_control() {
            let read = log.read(h.base_offset, 1)?;
            partition_txn::control_type(&read.bytes)
        } else {
            None
        };
        producers.txns.record(&h, control);
    }
    producers.txns.trim_before(log.log_start_offset());
    Ok((log, producers))
}

impl Partition {
    /// Opens the partition's log in `dir` and rebuilds its producer state.
    pub(crate) fn open(
        topic: &str,
        index: i32,
        dir: &Path,
        config: LogConfig,
        policy: AppendPolicy,
    ) -> Result<Partition, BrokerError> {
        let (log, producers) = open_log(dir, config)?;
        let hw = log.high_watermark();
        Ok(Partition {
            topic: topic.to_string(),
            index,
            log: RwLock::new(Arc::new(log)),
            producers: Mutex::new(producers),
            high_watermark: watch::Sender::new(hw),
            topic_changes: OnceLock::new(),
            policy: RwLock::new(policy),
            internal: is_internal_topic(topic),
            disk: OnceLock::new(),
            remote: RwLock::new(None),
            floor: crate::tiering::LogStartFloor::load(dir),
            remote_wait_ms: std::sync::atomic::AtomicU64::new(
                crate::tiering::DEFAULT_REMOTE_FETCH_MAX_WAIT_MS,
            ),
        })
    }

    /// Attaches the topic's change counter (the first call wins).
    pub(crate) fn attach_topic_changes(&self, changes: &Arc<watch::Sender<u64>>) {
        let _ = self.topic_changes.set(Arc::clone(changes));
    }

    /// Publishes a new high watermark to the partition's and the topic's watchers.
    fn publish_high_watermark(&self, hw: i64) {
        self.high_watermark.send_replace(hw);
        if let Some(changes) = self.topic_changes.get() {
            changes.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Attaches the broker's write gate (the first call wins).
    pub(crate) fn attach_disk_guard(&self, guard: &Arc<DiskGuard>) {
        let _ = self.disk.set(Arc::clone(guard));
    }

    /// Whether the log refuses writes after a failed write or fsync.
    pub fn is_poisoned(&self) -> bool {
        matches!(self.log().check_writable(), Err(LogError::Poisoned(_)))
    }

    /// If the log is poisoned, closes it and opens it again from disk, exactly as a restart
    /// would (recovery rescans from the recovery point and cuts a torn tail; producer state
    /// is rebuilt from the log), so nothing is trusted from the failed log's memory — the
    /// fsyncgate rule. Appends wait on the producer lock meanwhile. Returns the new log.
    ///
    /// Errors: those of [`Log::open`]; the poisoned log stays in place and refuses writes.
    pub(crate) fn reopen_if_poisoned(&self) -> Result<Option<Arc<Log>>, BrokerError> {
        let mut producers = self.producers.lock();
        let old = self.log();
        if !matches!(old.check_writable(), Err(LogError::Poisoned(_))) {
            return Ok(None);
        }
        // Marks the old log closed (readers holding it keep reading) and lets its background
        // segment syncs finish before the new log reads the directory.
        let _ = old.close();
        let (log, states) = open_log(old.dir(), old.config())?;
        let log = Arc::new(log);
        *self.log.write() = Arc::clone(&log);
        *producers = states;
        self.publish_high_watermark(log.high_watermark());
        Ok(Some(log))
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }
    pub fn index(&self) -> i32 {
        self.index
    }
    /// The current log (a poisoned one is replaced when it is reopened).
    pub fn log(&self) -> Arc<Log> {
        Arc::clone(&self.log.read())
    }

    pub(crate) fn set_config(&self, config: LogConfig, policy: AppendPolicy) {
        self.log().set_config(config);
        *self.policy.write() = policy;
    }

    /// Appends one or more Kafka record batches v2 as received (blocking: may fsync; call from
    /// `spawn_blocking` in async code). Checks producer id/epoch/sequence for idempotent
    /// batches: a retried batch already written returns `DuplicateSequence` with its original
    /// base offset (front ends answer success), a gap returns `OutOfOrderSequence`.
    ///
    /// Errors: `InternalTopic` (clients cannot write to internal topics),
    /// `InsufficientSpace` / `ReadOnlyStorage` while the data directory cannot take writes
    /// (nothing written), `InvalidRecord` for a keyless record on a compacted topic, the
    /// sequence errors above, `Log(CorruptBatch | BatchTooLarge | Poisoned | Io)`.
    pub fn append_batch(&self, batch: &mut [u8]) -> Result<AppendResult, BrokerError> {
        self.append_batch_via(batch, "kafka")
    }

    /// [`Partition::append_batch`] for a front end other than Kafka: `protocol` labels the
    /// traffic metrics (`http`).
    pub fn append_batch_via(
        &self,
        batch: &mut [u8],
        protocol: &'static str,
    ) -> Result<AppendResult, BrokerError> {
        self.refuse_client(ClientOperation::Write)?;
        if headers_of(batch)?.iter().any(BatchHeader::is_control) {
            // Only the transaction coordinator writes markers (Kafka refuses them likewise).
            return Err(BrokerError::InvalidRecord(
                "clients cannot write control batches".to_string(),
            ));
        }
        let bytes = batch.len() as u64;
        let result = self.append_checked(batch)?;
        self.count_in(protocol, &result, bytes);
        Ok(result)
    }

    fn count_in(&self, protocol: &'static str, result: &AppendResult, bytes: u64) {
        let records = (result.last_offset - result.base_offset + 1).max(0) as u64;
        crate::telemetry::records_in(&self.topic, protocol, records, bytes);
    }

    /// Writes a transaction marker for producer `pid` (blocking; the coordinator's path,
    /// internal topics included). Errors: those of [`Partition::append_batch`].
    pub(crate) fn append_marker(
        &self,
        pid: i64,
        epoch: i16,
        control: ControlType,
        coordinator_epoch: i32,
    ) -> Result<AppendResult, BrokerError> {
        let mut batch = crate::txn::markers::encode_marker(pid, epoch, control, coordinator_epoch)?;
        self.append_checked(&mut batch)
    }

    fn refuse_client(&self, operation: ClientOperation) -> Result<(), BrokerError> {
        if self.internal {
            return refuse_internal(&self.topic, operation);
        }
        Ok(())
    }

    fn append_checked(&self, batch: &mut [u8]) -> Result<AppendResult, BrokerError> {
        let policy = *self.policy.read();
        let limits = self.log().config().decode;
        let append_time = policy.apply(batch, limits, crate::records::now_ms())?;
        let mut recompressed = policy.recompressed(batch, limits)?;
        let batch: &mut [u8] = match recompressed.as_mut() {
            Some(new) => new,
            None => batch,
        };
        if let Some(disk) = self.disk.get() {
            disk.admit(batch.len() as u64)?;
        }
        let result = self.append_admitted(batch).map(|r| AppendResult {
            log_append_time: append_time,
            ..r
        });
        if let (Err(err), Some(disk)) = (&result, self.disk.get()) {
            disk.note_failure(err);
        }
        result
    }

    fn append_admitted(&self, batch: &mut [u8]) -> Result<AppendResult, BrokerError> {
        let (log, info) = {
            let mut producers = self.producers.lock();
            let log = self.log();
            // A poisoned log must not answer "duplicate, all good" for a retry.
            log.check_writable()?;
            let headers = headers_of(batch)?;
            for h in &headers {
                if let Check::Duplicate(base_offset) = producers.check(h)? {
                    return Err(BrokerError::DuplicateSequence { base_offset });
                }
            }
            let controls = control_types(batch, &headers);
            let info = log.append_unsynced(batch)?;
            // Record with the offsets the log assigned.
            let mut offset = info.base_offset;
            for (mut h, control) in headers.into_iter().zip(controls) {
                h.base_offset = offset;
                offset = h.last_offset() + 1;
                producers.record(&h);
                producers.txns.record(&h, control);
            }
            (log, info)
        };
        log.wait_durable(info.last_offset + 1)?;
        self.publish_high_watermark(log.high_watermark());
        Ok(AppendResult {
            base_offset: info.base_offset,
            last_offset: info.last_offset,
            log_append_time: -1,
            log_start_offset: log.log_start_offset(),
        })
    }

    /// Encodes `records` into one batch and appends it (blocking).
    /// Errors: those of [`Partition::append_batch`].
    pub fn append_records(&self, records: &[NewRecord]) -> Result<AppendResult, BrokerError> {
        self.refuse_client(ClientOperation::Write)?;
        let bytes = records
            .iter()
            .map(|r| {
                (r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()))
                    as u64
            })
            .sum();
        let result = self.append_encoded(records)?;
        self.count_in("http", &result, bytes);
        Ok(result)
    }

    /// [`Partition::append_records`] for the broker's own stores, which may write to
    /// internal topics. Errors: those of `append_records` but `InternalTopic`.
    pub(crate) fn append_internal(
        &self,
        records: &[NewRecord],
    ) -> Result<AppendResult, BrokerError> {
        self.append_encoded(records)
    }

    fn append_encoded(&self, records: &[NewRecord]) -> Result<AppendResult, BrokerError> {
        if self.policy.read().keys_required {
            if let Some(i) = records.iter().position(|r| r.key.is_none()) {
                return Err(BrokerError::InvalidRecord(format!(
                    "record {i} has no key, but topic '{}' is compacted and needs one",
                    self.topic
                )));
            }
        }
        let mut batch = encode_records(records)?;
        self.append_checked(&mut batch)
    }

    /// Waits until the high watermark is above `offset` or `timeout` passes, whichever is first;
    /// returns the high watermark. Event-driven: woken by appends, never polls.
    pub async fn wait_for_data(&self, offset: i64, timeout: Duration) -> i64 {
        let mut rx = self.high_watermark.subscribe();
        let wait = rx.wait_for(|hw| *hw > offset);
        let _ = tokio::time::timeout(timeout, wait).await;
        self.high_watermark()
    }

    /// A receiver that changes whenever the high watermark advances.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }

    pub fn high_watermark(&self) -> i64 {
        self.log().high_watermark()
    }
    pub fn size_bytes(&self) -> u64 {
        self.log().size_bytes()
    }

    /// Compacts the log (see [`strom_log::Log::compact`]) without losing idempotent-producer
    /// state: producer state is rebuilt from batch headers after a crash, and compaction may
    /// remove a producer's last batch, so a snapshot covering everything compaction can touch
    /// (all closed segments) is saved first.
    ///
    /// Errors: those of the snapshot write (then nothing is compacted) and of the compaction.
    pub fn compact(
        &self,
        now_ms: i64,
        throttle: Option<&strom_log::Throttle>,
        max_keys: usize,
    ) -> Result<strom_log::CleanerStats, BrokerError> {
        let txns = {
            let mut producers = self.producers.lock();
            // Flush first: a snapshot ahead of the durable log end is discarded on open.
            self.log().flush()?;
            producers.save(self.log().dir())?;
            strom_log::CleanerTxns {
                stable_offset: producers.txns.last_stable_offset(self.high_watermark()),
                aborted: producers
                    .txns
                    .aborted_between(0, i64::MAX)
                    .into_iter()
                    .map(|a| (a.producer_id, a.first_offset, a.last_offset))
                    .collect(),
            }
        };
        Ok(self
            .log()
            .compact_transactional(now_ms, throttle, max_keys, &txns)?)
    }

    /// Saves producer state and closes the log cleanly.
    pub(crate) fn close(&self) -> Result<(), BrokerError> {
        let mut producers = self.producers.lock();
        self.log().close()?;
        producers.save(self.log().dir())
    }
}
