//! [`Reads`]: log reads shared by every subscription that follows a partition (fan-out). The
//! partition workers of all subscriptions of a topic tail it at about the same position; the
//! first to reach new data reads and decodes it once (the others wait for that read rather
//! than repeat it), and the decoded chunk is kept for the rest, with each record's request
//! body built once per payload mode. A chunk is immutable log data, so a worker at any
//! offset it covers takes its records from it. Kept: the newest [`CHUNKS_PER_PARTITION`]
//! chunks of a partition, within [`BUDGET_BYTES`] over all partitions; chunks not used for
//! [`IDLE`] are dropped when room is needed. A read at the tail (just-appended records) runs
//! on the worker's thread; one further back on the blocking pool ([`INLINE_RECORDS`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use strom_broker::{decode_records, Partition, StoredRecord};

use crate::model::PayloadMode;
use crate::payload::{self, Event, ValueDecoder};

/// The record at `offset` of `part`, or `None` where the offset holds none (compacted away,
/// a control record) or lies outside `[log start, high watermark)`. Blocking; decodes one
/// batch at a time through the bounded decoder.
pub fn record_at(part: &Partition, offset: i64) -> crate::error::Result<Option<StoredRecord>> {
    let end = part.high_watermark();
    if offset < part.log_start_offset() || offset >= end {
        return Ok(None);
    }
    let mut next = offset;
    while next < end {
        let records = decode_records(&part.read(next, 1)?.records)?;
        if let Some(r) = records.iter().find(|r| r.offset >= offset) {
            return Ok((r.offset == offset).then(|| r.clone()));
        }
        match records.last() {
            Some(last) => next = last.offset + 1,
            None => break,
        }
    }
    Ok(None)
}

/// Most bytes one read takes from the log.
pub const READ_BYTES: usize = 256 * 1024;
/// Chunks kept per partition (newest last).
pub const CHUNKS_PER_PARTITION: usize = 4;
/// Decoded record bytes kept over all partitions (their request bodies, built on use, add
/// about as much again).
pub const BUDGET_BYTES: usize = 32 << 20;
/// A partition no worker read for this long gives its chunks up when room is needed.
pub const IDLE: Duration = Duration::from_secs(5);
/// A read starting at most this many records below the high watermark is of data just
/// appended (in the page cache): it is done on the worker's own thread. Reads further back
/// (a worker catching up, possibly from disk or the remote tier) go to the blocking pool.
pub const INLINE_RECORDS: i64 = 512;

/// Records decoded from one log read: every record from `from` (the offset asked for) up to
/// `next` (exclusive) that the log holds.
pub struct Chunk {
    pub from: i64,
    pub next: i64,
    pub records: Vec<StoredRecord>,
    /// Request bodies, built on first use: structured, binary.
    events: Vec<[OnceLock<Arc<Event>>; 2]>,
    bytes: usize,
}

impl Chunk {
    fn new(from: i64, records: Vec<StoredRecord>) -> Chunk {
        let next = records
            .last()
            .map_or(from + 1, |r| r.offset + 1)
            .max(from + 1);
        let records: Vec<StoredRecord> = records.into_iter().filter(|r| r.offset >= from).collect();
        let bytes = records.iter().map(record_bytes).sum::<usize>() + 64;
        let events = records.iter().map(|_| Default::default()).collect();
        Chunk {
            from,
            next,
            records,
            events,
            bytes,
        }
    }

    fn covers(&self, offset: i64) -> bool {
        self.from <= offset && offset < self.next
    }

    /// The records at `offset` and after.
    pub fn from_offset(&self, offset: i64) -> &[StoredRecord] {
        &self.records[self.index_of(offset)..]
    }

    /// The index of the first record at `offset` or after.
    pub fn index_of(&self, offset: i64) -> usize {
        self.records.partition_point(|r| r.offset < offset)
    }
}

fn record_bytes(r: &StoredRecord) -> usize {
    let h: usize = r
        .headers
        .iter()
        .map(|h| h.key.len() + h.value.as_ref().map_or(0, |v| v.len()))
        .sum();
    r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()) + h + 64
}

/// A record to deliver: one of a chunk's (its body shared with every subscription that
/// delivers it, [`Chunk`]'s cells) or one read on its own (body built per attempt). Workers
/// hand these on instead of copies of the record.
#[derive(Clone)]
pub enum Rec {
    Shared(Arc<Chunk>, usize),
    Owned(StoredRecord),
}

impl std::ops::Deref for Rec {
    type Target = StoredRecord;

    fn deref(&self) -> &StoredRecord {
        match self {
            Rec::Shared(chunk, i) => &chunk.records[*i],
            Rec::Owned(record) => record,
        }
    }
}

impl Rec {
    /// The request body of this record (read from `topic`/`partition`) in `mode`.
    pub fn event(
        &self,
        topic: &str,
        partition: i32,
        mode: PayloadMode,
        decoder: Option<&ValueDecoder>,
    ) -> Arc<Event> {
        let build = || Arc::new(payload::build(self, topic, partition, mode, decoder));
        match self {
            Rec::Shared(chunk, i) => match chunk.events.get(*i) {
                Some(cells) => {
                    let cell = &cells[usize::from(mode == PayloadMode::Binary)];
                    Arc::clone(cell.get_or_init(build))
                }
                None => build(),
            },
            Rec::Owned(_) => build(),
        }
    }
}

/// One partition's chunks and the lock that lets one worker read at a time.
#[derive(Default)]
struct Slot {
    flight: tokio::sync::Mutex<()>,
    chunks: Mutex<VecDeque<Arc<Chunk>>>,
    used: Mutex<Option<Instant>>,
    /// The partition the chunks were read from: a topic deleted and created again under
    /// the same name is another partition, and its chunks are dropped.
    part: Mutex<Weak<Partition>>,
}

impl Slot {
    fn covering(&self, offset: i64) -> Option<Arc<Chunk>> {
        *self.used.lock() = Some(Instant::now());
        self.chunks
            .lock()
            .iter()
            .rev()
            .find(|c| c.covers(offset))
            .cloned()
    }

    fn idle(&self, now: Instant) -> bool {
        self.used
            .lock()
            .is_none_or(|t| now.duration_since(t) >= IDLE)
    }
}

/// What reading a partition at an offset found.
pub enum Read {
    Chunk(Arc<Chunk>),
    /// The read failed (logged); try again later.
    Failed,
}

/// The shared reads of every partition webhooks follow.
#[derive(Default)]
pub struct Reads {
    slots: Mutex<HashMap<String, HashMap<i32, Arc<Slot>>>>,
    held: AtomicUsize,
}

impl Reads {
    fn slot(&self, topic: &str, partition: i32) -> Arc<Slot> {
        let mut slots = self.slots.lock();
        if let Some(s) = slots.get(topic).and_then(|t| t.get(&partition)) {
            return Arc::clone(s);
        }
        let slot = Arc::new(Slot::default());
        slots
            .entry(topic.to_string())
            .or_default()
            .insert(partition, Arc::clone(&slot));
        slot
    }

    /// Drops the chunks of `slot` unless they were read from `part`.
    fn same_partition(&self, slot: &Slot, part: &Arc<Partition>) {
        let mut known = slot.part.lock();
        if known.upgrade().is_some_and(|p| Arc::ptr_eq(&p, part)) {
            return;
        }
        *known = Arc::downgrade(part);
        for old in slot.chunks.lock().drain(..) {
            self.held.fetch_sub(old.bytes, Relaxed);
        }
    }

    /// The records of `part` from `from` on (one read's worth, below its high watermark).
    pub async fn read(&self, part: Arc<Partition>, topic: &str, partition: i32, from: i64) -> Read {
        let slot = self.slot(topic, partition);
        self.same_partition(&slot, &part);
        if let Some(chunk) = slot.covering(from) {
            return Read::Chunk(chunk);
        }
        let _flight = slot.flight.lock().await;
        if let Some(chunk) = slot.covering(from) {
            return Read::Chunk(chunk);
        }
        let read = if part.high_watermark() - from <= INLINE_RECORDS {
            Ok(part.read(from, READ_BYTES))
        } else {
            tokio::task::spawn_blocking(move || part.read(from, READ_BYTES)).await
        };
        let records = match read {
            Ok(Ok(fetched)) => decode_records(&fetched.records).unwrap_or_else(|err| {
                tracing::warn!(%topic, partition, error = %err, "webhook: undecodable batch skipped");
                Vec::new()
            }),
            Ok(Err(err)) => {
                tracing::warn!(%topic, partition, error = %err, "webhook: read failed; retrying");
                return Read::Failed;
            }
            Err(_) => return Read::Failed,
        };
        let chunk = Arc::new(Chunk::new(from, records));
        self.keep(&slot, Arc::clone(&chunk));
        Read::Chunk(chunk)
    }

    fn keep(&self, slot: &Slot, chunk: Arc<Chunk>) {
        if self.held.load(Relaxed) + chunk.bytes > BUDGET_BYTES {
            self.drop_idle();
            if self.held.load(Relaxed) + chunk.bytes > BUDGET_BYTES {
                return;
            }
        }
        self.held.fetch_add(chunk.bytes, Relaxed);
        let mut chunks = slot.chunks.lock();
        chunks.push_back(chunk);
        while chunks.len() > CHUNKS_PER_PARTITION {
            if let Some(old) = chunks.pop_front() {
                self.held.fetch_sub(old.bytes, Relaxed);
            }
        }
    }

    /// Drops the chunks of partitions no worker read lately.
    fn drop_idle(&self) {
        let now = Instant::now();
        let mut slots = self.slots.lock();
        for parts in slots.values_mut() {
            parts.retain(|_, slot| {
                if !slot.idle(now) {
                    return true;
                }
                for old in slot.chunks.lock().drain(..) {
                    self.held.fetch_sub(old.bytes, Relaxed);
                }
                false
            });
        }
        slots.retain(|_, parts| !parts.is_empty());
    }

    /// Decoded bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.held.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use strom_broker::{Broker, BrokerConfig, NewRecord};

    fn broker(dir: &std::path::Path) -> Arc<Broker> {
        Broker::open(BrokerConfig {
            data_dir: dir.to_path_buf(),
            node_id: 1,
            auto_create_topics: false,
            default_partitions: 1,
            durability: strom_log::Durability::Never,
            log_defaults: strom_log::LogConfig {
                durability: strom_log::Durability::Never,
                ..Default::default()
            },
            retention_check_interval_ms: 60_000,
            cleaner_bytes_per_sec: 100 << 20,
            cleaner_dedupe_buffer_bytes: 1 << 20,
        })
        .expect("broker")
    }

    fn chunk(read: Read) -> Arc<Chunk> {
        match read {
            Read::Chunk(c) => c,
            Read::Failed => panic!("read failed"),
        }
    }

    #[tokio::test]
    async fn subscriptions_share_one_read_and_one_body_per_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let broker = broker(dir.path());
        broker
            .create_topic("t", 1, &Default::default())
            .expect("topic");
        let part = broker.partition("t", 0).expect("partition");
        let records: Vec<NewRecord> = (0..5)
            .map(|i| NewRecord {
                value: Some(Bytes::from(format!("{{\"n\":{i}}}"))),
                ..Default::default()
            })
            .collect();
        part.append_records(&records).expect("append");
        let reads = Reads::default();
        let first = chunk(reads.read(Arc::clone(&part), "t", 0, 0).await);
        assert_eq!((first.from, first.next, first.records.len()), (0, 5, 5));
        // Another subscription at the same or a later offset gets the same chunk.
        let again = chunk(reads.read(Arc::clone(&part), "t", 0, 0).await);
        let later = chunk(reads.read(Arc::clone(&part), "t", 0, 3).await);
        assert!(Arc::ptr_eq(&first, &again) && Arc::ptr_eq(&first, &later));
        assert_eq!(later.from_offset(3).len(), 2);
        assert!(reads.held_bytes() > 0);
        // The body is built once per mode and shared.
        let r = Rec::Shared(Arc::clone(&first), 2);
        let a = r.event("t", 0, PayloadMode::Structured, None);
        let b = r.clone().event("t", 0, PayloadMode::Structured, None);
        let c = r.event("t", 0, PayloadMode::Binary, None);
        // A record read on its own is built per call.
        let owned = Rec::Owned(first.records[2].clone());
        let d = owned.event("t", 0, PayloadMode::Structured, None);
        assert!(!Arc::ptr_eq(&a, &d) && a.body == d.body);
        assert!(Arc::ptr_eq(&a, &b) && !Arc::ptr_eq(&a, &c));
        assert_eq!(&c.body[..], b"{\"n\":2}");
        // New data past the chunk is a new read.
        part.append_records(&records[..1]).expect("append");
        let next = chunk(reads.read(Arc::clone(&part), "t", 0, 5).await);
        assert!(!Arc::ptr_eq(&first, &next));
        assert_eq!((next.from, next.next), (5, 6));
    }
}
