//! [`GroupStorage`]: what the coordinator needs from the broker — the `__consumer_offsets`
//! partitions to append to and replay, and the log end of data partitions (commit validation
//! and lag). [`BrokerStorage`] is the real one; tests use an in-memory implementation.

use std::collections::BTreeMap;
use std::sync::Arc;

use std::ops::ControlFlow;

use strom_log::DecodeLimits;

use crate::state_topic::batches_end;
use crate::{for_each_record, Broker, BrokerError, NewRecord, StoredRecord};

use super::{GroupError, OFFSETS_TOPIC};

/// Blocking storage operations; the coordinator calls them from `spawn_blocking`.
pub trait GroupStorage: Send + Sync + 'static {
    /// Number of partitions of `__consumer_offsets`.
    fn partitions(&self) -> i32;
    /// Appends `records` to one partition of `__consumer_offsets` with the broker's
    /// durability and returns the offset of the first. Errors: `Storage`.
    fn append(&self, partition: i32, records: &[NewRecord]) -> Result<i64, GroupError>;
    /// Every record of one partition of `__consumer_offsets`, oldest first. Errors: `Storage`.
    fn read_all(&self, partition: i32) -> Result<Vec<StoredRecord>, GroupError>;
    /// The high watermark of a data partition; `None` if it does not exist.
    fn log_end_offset(&self, topic: &str, partition: i32) -> Option<i64>;
    /// Every data topic (internal ones left out) with its id and partition count, for the
    /// consumer group assignors. Not blocking.
    fn topic_metadata(&self) -> BTreeMap<String, super::consumer::TopicMeta> {
        BTreeMap::new()
    }
}

/// Appends the records at or after `from` in `bytes` (whole batches) to `out`, through the
/// bounded reader. A record or batch that cannot be decoded is skipped with a warning: stored
/// data must never keep the coordinator, and so the server, from starting.
fn replay_batches(
    partition: i32,
    bytes: &[u8],
    from: i64,
    limits: DecodeLimits,
    out: &mut Vec<StoredRecord>,
) {
    for one in strom_log::decode::batches(bytes) {
        let Ok(batch) = one else {
            tracing::warn!(partition, "skipping a truncated batch in {OFFSETS_TOPIC}");
            return;
        };
        let walked = for_each_record(batch, limits, &mut |r| {
            match r {
                // A read returns whole batches, so the first may start before `from`.
                Ok(r) if r.record.offset >= from => out.push(r.record),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(partition, error = %err, "skipping a record in {OFFSETS_TOPIC}")
                }
            }
            ControlFlow::Continue(())
        });
        if let Err(err) = walked {
            tracing::warn!(partition, error = %err, "skipping a batch in {OFFSETS_TOPIC}");
        }
    }
}

fn storage_error(err: BrokerError) -> GroupError {
    GroupError::Storage(err.to_string())
}

/// [`GroupStorage`] over the broker's `__consumer_offsets` topic.
pub struct BrokerStorage {
    broker: Arc<Broker>,
    partitions: i32,
}

/// Segment size of `__consumer_offsets` (Kafka's `offsets.topic.segment.bytes`).
const OFFSETS_SEGMENT_BYTES: u64 = 100 * 1024 * 1024;

/// Largest read while replaying `__consumer_offsets`.
const REPLAY_READ_BYTES: usize = 1 << 20;

impl BrokerStorage {
    /// Creates `__consumer_offsets` (compacted, `partitions` partitions) unless it exists;
    /// an existing topic keeps its partition count. Blocking. Errors: `Storage`.
    pub fn open(broker: Arc<Broker>, partitions: i32) -> Result<BrokerStorage, GroupError> {
        let topic = match broker.topic(OFFSETS_TOPIC) {
            Some(topic) => topic,
            None => {
                // Kafka's offsets topic settings: compacted, with segments small enough
                // (`offsets.topic.segment.bytes`) that the cleaner gets closed ones to work on.
                let configs = BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    (
                        "segment.bytes".to_string(),
                        OFFSETS_SEGMENT_BYTES.to_string(),
                    ),
                ]);
                match broker.create_internal_topic(OFFSETS_TOPIC, partitions.max(1), &configs) {
                    Ok(topic) => topic,
                    // Another front end may have created it in between.
                    Err(BrokerError::TopicExists(_)) => {
                        broker.topic(OFFSETS_TOPIC).ok_or_else(|| {
                            GroupError::Storage(format!(
                                "{OFFSETS_TOPIC} exists but cannot be opened"
                            ))
                        })?
                    }
                    Err(err) => return Err(storage_error(err)),
                }
            }
        };
        let partitions = topic.partition_count();
        if partitions < 1 {
            return Err(GroupError::Storage(format!(
                "{OFFSETS_TOPIC} has no partitions"
            )));
        }
        Ok(BrokerStorage { broker, partitions })
    }
}

impl GroupStorage for BrokerStorage {
    fn partitions(&self) -> i32 {
        self.partitions
    }

    fn append(&self, partition: i32, records: &[NewRecord]) -> Result<i64, GroupError> {
        let partition = self
            .broker
            .partition(OFFSETS_TOPIC, partition)
            .map_err(storage_error)?;
        let result = partition.append_internal(records).map_err(storage_error)?;
        Ok(result.base_offset)
    }

    fn read_all(&self, partition: i32) -> Result<Vec<StoredRecord>, GroupError> {
        let partition = self
            .broker
            .partition(OFFSETS_TOPIC, partition)
            .map_err(storage_error)?;
        let end = partition.high_watermark();
        let mut next = partition.log_start_offset();
        let mut out = Vec::new();
        while next < end {
            let fetched = partition
                .read(next, REPLAY_READ_BYTES)
                .map_err(storage_error)?;
            // Advance by the batch headers, not the records: compaction may leave a batch
            // with no records, and the log may have gaps.
            let end_of_read = batches_end(&fetched.records);
            if end_of_read <= next {
                break;
            }
            let limits = partition.log().config().decode;
            replay_batches(partition.index(), &fetched.records, next, limits, &mut out);
            next = end_of_read;
        }
        Ok(out)
    }

    fn log_end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.broker
            .partition(topic, partition)
            .ok()
            .map(|p| p.high_watermark())
    }

    fn topic_metadata(&self) -> BTreeMap<String, super::consumer::TopicMeta> {
        self.broker
            .topics()
            .into_iter()
            .filter(|t| !crate::internal::is_internal_topic(t.name()))
            .map(|t| {
                let meta = super::consumer::TopicMeta {
                    id: t.id(),
                    partitions: t.partition_count(),
                };
                (t.name().to_string(), meta)
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod memory {
    //! An in-memory [`GroupStorage`] for the coordinator's unit tests.

    use std::collections::HashMap;

    use bytes::Bytes;
    use parking_lot::Mutex;

    use super::*;

    #[derive(Default)]
    pub(crate) struct MemoryStorage {
        pub logs: Mutex<Vec<Vec<StoredRecord>>>,
        /// Data partitions and their log end offsets.
        pub topics: Mutex<HashMap<(String, i32), i64>>,
        pub fail_appends: Mutex<bool>,
    }

    impl MemoryStorage {
        pub(crate) fn new(partitions: usize) -> Arc<MemoryStorage> {
            Arc::new(MemoryStorage {
                logs: Mutex::new(vec![Vec::new(); partitions]),
                ..Default::default()
            })
        }
        pub(crate) fn add_topic(&self, topic: &str, partitions: i32, end: i64) {
            for p in 0..partitions {
                self.topics.lock().insert((topic.to_string(), p), end);
            }
        }
        pub(crate) fn tombstones(&self) -> usize {
            self.logs
                .lock()
                .iter()
                .flatten()
                .filter(|r| r.value.is_none())
                .count()
        }
    }

    impl GroupStorage for MemoryStorage {
        fn partitions(&self) -> i32 {
            self.logs.lock().len() as i32
        }
        fn append(&self, partition: i32, records: &[NewRecord]) -> Result<i64, GroupError> {
            if *self.fail_appends.lock() {
                return Err(GroupError::Storage("disk on fire".into()));
            }
            let mut logs = self.logs.lock();
            let log = &mut logs[partition as usize];
            let base = log.len() as i64;
            for (i, r) in records.iter().enumerate() {
                log.push(StoredRecord {
                    offset: base + i as i64,
                    timestamp: r.timestamp.unwrap_or(0),
                    key: r.key.clone(),
                    value: r.value.clone().map(|v: Bytes| v),
                    headers: Vec::new(),
                });
            }
            Ok(base)
        }
        fn read_all(&self, partition: i32) -> Result<Vec<StoredRecord>, GroupError> {
            Ok(self.logs.lock()[partition as usize].clone())
        }
        fn topic_metadata(&self) -> BTreeMap<String, crate::group::consumer::TopicMeta> {
            let mut out: BTreeMap<String, crate::group::consumer::TopicMeta> = BTreeMap::new();
            for (topic, _) in self.topics.lock().keys() {
                let mut id = [0u8; 16];
                id[..topic.len().min(16)].copy_from_slice(&topic.as_bytes()[..topic.len().min(16)]);
                out.entry(topic.clone())
                    .or_insert(crate::group::consumer::TopicMeta { id, partitions: 0 })
                    .partitions += 1;
            }
            out
        }
        fn log_end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
            self.topics
                .lock()
                .get(&(topic.to_string(), partition))
                .copied()
        }
    }
}
