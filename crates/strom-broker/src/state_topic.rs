//! [`StateTopic`]: a small durable key-value store for Strom's own state (users, ACLs,
//! quotas, API keys, and later webhook subscriptions and schemas), kept in a one-partition
//! compacted internal topic `__strom_<name>`. One durability and recovery mechanism for all
//! broker state, as `__consumer_offsets` is for groups: a write is a keyed record (a
//! tombstone deletes), flushed to disk before [`StateTopic::put`] returns, and
//! [`StateTopic::load`] replays the newest value per key. Owners keep their own in-memory
//! view and call `load` once at start; this type keeps no cache. Blocking I/O.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use strom_log::BatchHeader;

use crate::internal::RESERVED_PREFIX;
use crate::{for_each_record, Broker, BrokerError, NewRecord};

/// Largest read while replaying.
const REPLAY_READ_BYTES: usize = 1 << 20;
/// Small segments so the cleaner gets closed ones to compact.
const STATE_SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// A durable key-value store in the internal topic `__strom_<name>`.
pub struct StateTopic {
    broker: Arc<Broker>,
    topic: String,
    /// Serialises writers so that a read-modify-write by an owner under its own lock and
    /// the append order agree.
    write: Mutex<()>,
}

impl StateTopic {
    /// Opens `__strom_<name>`, creating it (compacted, one partition) if needed. Blocking.
    /// Errors: `InvalidTopic` for a bad name, `Storage` when it cannot be created or opened.
    pub fn open(broker: Arc<Broker>, name: &str) -> Result<StateTopic, BrokerError> {
        Self::open_topic(broker, &format!("{RESERVED_PREFIX}{name}"))
    }

    /// [`StateTopic::open`] with the full internal topic name (such as
    /// `__transaction_state`). Errors: those of `open`.
    pub(crate) fn open_topic(broker: Arc<Broker>, topic: &str) -> Result<StateTopic, BrokerError> {
        let topic = topic.to_string();
        if broker.topic(&topic).is_none() {
            let configs = BTreeMap::from([
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("segment.bytes".to_string(), STATE_SEGMENT_BYTES.to_string()),
            ]);
            match broker.create_internal_topic(&topic, 1, &configs) {
                Ok(_) | Err(BrokerError::TopicExists(_)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(StateTopic {
            broker,
            topic,
            write: Mutex::new(()),
        })
    }

    /// The internal topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes `value` under `key` (`None` deletes it) and returns once it is on disk.
    /// Errors: `Storage` (disk full, I/O), `ShuttingDown`.
    pub fn put(&self, key: &[u8], value: Option<&[u8]>) -> Result<(), BrokerError> {
        self.put_many(&[(key, value)])
    }

    /// Writes several keys in one batch: all of them or none survive a crash.
    /// Errors: those of [`StateTopic::put`].
    pub fn put_many(&self, entries: &[(&[u8], Option<&[u8]>)]) -> Result<(), BrokerError> {
        if entries.is_empty() {
            return Ok(());
        }
        let records: Vec<NewRecord> = entries
            .iter()
            .map(|(k, v)| NewRecord {
                key: Some(Bytes::copy_from_slice(k)),
                value: v.map(Bytes::copy_from_slice),
                ..NewRecord::default()
            })
            .collect();
        let _write = self.write.lock();
        let partition = self.broker.partition(&self.topic, 0)?;
        let appended = partition.append_internal(&records)?;
        // Security state must survive a power loss whatever the data topics' fsync policy.
        partition.log().wait_durable(appended.last_offset + 1)?;
        Ok(())
    }

    /// The newest value of every key that is not deleted, in key order. A record that
    /// cannot be decoded is skipped with a warning: stored state must never keep the server
    /// from starting. Errors: `Storage` when the topic cannot be read.
    pub fn load(&self) -> Result<BTreeMap<Bytes, Bytes>, BrokerError> {
        let partition = self.broker.partition(&self.topic, 0)?;
        let limits = partition.log().config().decode;
        let end = partition.high_watermark();
        let mut next = partition.log_start_offset();
        let mut state: BTreeMap<Bytes, Option<Bytes>> = BTreeMap::new();
        while next < end {
            let fetched = partition.read(next, REPLAY_READ_BYTES)?;
            let end_of_read = batches_end(&fetched.records);
            if end_of_read <= next {
                break;
            }
            for one in strom_log::decode::batches(&fetched.records) {
                let Ok(batch) = one else {
                    tracing::warn!(topic = %self.topic, "skipping a truncated batch");
                    break;
                };
                let walked = for_each_record(batch, limits, &mut |r| {
                    match r {
                        Ok(r) if r.record.offset >= next => {
                            if let Some(key) = r.record.key {
                                state.insert(key, r.record.value);
                            }
                        }
                        Ok(_) => {}
                        Err(err) => {
                            tracing::warn!(topic = %self.topic, error = %err, "skipping a record")
                        }
                    }
                    ControlFlow::Continue(())
                });
                if let Err(err) = walked {
                    tracing::warn!(topic = %self.topic, error = %err, "skipping a batch");
                }
            }
            next = end_of_read;
        }
        Ok(state
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }
}

/// One past the last offset of the whole batches in `bytes` (0 if there are none).
pub(crate) fn batches_end(bytes: &[u8]) -> i64 {
    let mut end = 0;
    let mut rest = bytes;
    while let Some(header) = BatchHeader::parse(rest) {
        let len = header.total_len();
        if len > rest.len() {
            break;
        }
        end = end.max(header.last_offset() + 1);
        rest = &rest[len..];
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(dir: &std::path::Path) -> Arc<Broker> {
        Broker::open(crate::tests::config(dir)).expect("broker opens")
    }

    #[test]
    fn newest_value_wins_tombstones_delete_and_state_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let b = broker(dir.path());
            let s = StateTopic::open(Arc::clone(&b), "test").expect("open");
            s.put(b"a", Some(b"1")).expect("put");
            s.put(b"b", Some(b"2")).expect("put");
            s.put_many(&[(b"a", Some(b"3")), (b"b", None)])
                .expect("put");
            b.shutdown().expect("shutdown");
        }
        let b = broker(dir.path());
        let s = StateTopic::open(Arc::clone(&b), "test").expect("reopen");
        let state = s.load().expect("load");
        assert_eq!(state.len(), 1);
        assert_eq!(state.get(&b"a"[..]).map(|v| &v[..]), Some(&b"3"[..]));
        assert!(crate::is_internal_topic(s.topic()));
    }
}
