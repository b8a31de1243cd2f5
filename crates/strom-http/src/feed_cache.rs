//! Shared reads of feed batches: the per-topic fan-out followers ([`crate::fanout`]),
//! subscribers catching up from the log, and long polls. Readers asking for the same events
//! after the same cursor share one read: the first one reads and decodes, the others wait
//! for its result (single flight) and reuse it, including the rendered CloudEvents JSON, the
//! framed SSE bytes and the WebSocket messages (each built once per batch, then only
//! refcount-cloned per subscriber).
//!
//! Only non-empty batches are kept: events below the high watermark never change, so a
//! cached batch stays a correct answer for its cursor; an empty answer would go stale.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use bytes::{BufMut, Bytes, BytesMut};
use strom_broker::Topic;
use tokio::sync::OnceCell;

use crate::cloudevents::cloud_event;
use crate::cursor::Cursor;
use crate::error::ApiResult;
use crate::feed::{read_feed, FeedBatch};
use crate::render::{record_json, ValueFormat};

/// Entries kept; each is one batch of at most `limit` events.
const CAPACITY: usize = 256;
/// Approximate bytes of record data kept across entries (decoded and rendered copies make
/// the real footprint a small multiple of this).
const BUDGET_BYTES: usize = 32 * 1024 * 1024;

type Key = ([u8; 16], String, usize);

/// A batch shared between followers, with its JSON rendering, SSE framing and WebSocket
/// messages each made once on first use.
pub struct SharedBatch {
    pub batch: FeedBatch,
    /// Decodes schema-encoded values when rendering.
    schemas: Option<Arc<strom_schema::Registry>>,
    rendered: OnceLock<Vec<(String, String)>>,
    /// The SSE frames in one buffer, and where each event's frame ends in it.
    framed: OnceLock<(Bytes, Vec<usize>)>,
    ws: OnceLock<Vec<Utf8Bytes>>,
}

impl SharedBatch {
    pub fn new(batch: FeedBatch, schemas: Option<Arc<strom_schema::Registry>>) -> SharedBatch {
        SharedBatch {
            batch,
            schemas,
            rendered: OnceLock::new(),
            framed: OnceLock::new(),
            ws: OnceLock::new(),
        }
    }

    /// `(id, CloudEvent JSON)` of every event.
    pub fn rendered(&self, topic: &str) -> &[(String, String)] {
        self.rendered.get_or_init(|| {
            self.batch
                .events
                .iter()
                .map(|e| {
                    let event = cloud_event(topic, e, self.schemas.as_deref());
                    (e.id.to_string(), event.to_string())
                })
                .collect()
        })
    }

    /// Every event as one SSE frame (`id: <cursor>\ndata: <CloudEvent JSON>\n\n`), all in
    /// one buffer built once: subscribers clone the `Bytes` (a refcount), never re-encode.
    pub fn framed(&self, topic: &str) -> &Bytes {
        &self.frames(topic).0
    }

    /// The SSE frames of the events from `skip` on: a slice of [`SharedBatch::framed`].
    pub fn framed_from(&self, topic: &str, skip: usize) -> Bytes {
        let (bytes, ends) = self.frames(topic);
        match skip.checked_sub(1).and_then(|i| ends.get(i)) {
            None if skip == 0 => bytes.clone(),
            None => Bytes::new(),
            Some(&start) => bytes.slice(start..),
        }
    }

    /// Every event as a WebSocket `event` message (docs/http.md), rendered once.
    pub fn ws_messages(&self, topic: &str) -> &[Utf8Bytes] {
        self.ws.get_or_init(|| {
            self.batch
                .events
                .iter()
                .map(|e| {
                    let mut event = record_json(
                        topic,
                        e.partition,
                        &e.record,
                        ValueFormat::Json,
                        self.schemas.as_deref(),
                    );
                    event["type"] = serde_json::json!("event");
                    event["id"] = serde_json::json!(e.id.to_string());
                    Utf8Bytes::from(event.to_string())
                })
                .collect()
        })
    }

    fn frames(&self, topic: &str) -> &(Bytes, Vec<usize>) {
        self.framed.get_or_init(|| {
            let rendered = self.rendered(topic);
            let size = rendered.iter().map(|(i, j)| i.len() + j.len() + 16).sum();
            let mut out = BytesMut::with_capacity(size);
            let mut ends = Vec::with_capacity(rendered.len());
            for (id, json) in rendered {
                out.put_slice(b"id: ");
                out.put_slice(id.as_bytes());
                out.put_u8(b'\n');
                // Compact JSON has no raw line breaks; split anyway so a frame can never be
                // cut short by one.
                for line in json.split('\n') {
                    out.put_slice(b"data: ");
                    out.put_slice(line.as_bytes());
                    out.put_u8(b'\n');
                }
                out.put_u8(b'\n');
                ends.push(out.len());
            }
            (out.freeze(), ends)
        })
    }
}

#[derive(Default)]
pub struct FeedCache {
    inner: parking_lot::Mutex<Inner>,
    lookups: AtomicU64,
    decodes: AtomicU64,
    schemas: Option<Arc<strom_schema::Registry>>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Arc<OnceCell<Arc<SharedBatch>>>>,
    order: VecDeque<Key>,
    sizes: HashMap<Key, usize>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, key: &Key) {
        self.entries.remove(key);
        if let Some(size) = self.sizes.remove(key) {
            self.bytes -= size;
        }
    }

    /// Drops the oldest entries while over the entry or byte budget, keeping `keep`.
    fn evict(&mut self, keep: &Key) {
        while self.order.len() > CAPACITY || (self.bytes > BUDGET_BYTES && self.order.len() > 1) {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if &old == keep {
                self.order.push_back(old);
                if self.order.len() == 1 {
                    break;
                }
                continue;
            }
            self.remove(&old);
        }
    }
}

fn batch_bytes(batch: &FeedBatch) -> usize {
    batch
        .events
        .iter()
        .map(|e| {
            64 + e.record.key.as_ref().map_or(0, |k| k.len())
                + e.record.value.as_ref().map_or(0, |v| v.len())
        })
        .sum()
}

impl FeedCache {
    /// A cache whose batches render schema-encoded values decoded with `schemas`.
    pub fn new(schemas: Option<Arc<strom_schema::Registry>>) -> FeedCache {
        FeedCache {
            schemas,
            ..FeedCache::default()
        }
    }

    /// Calls of [`FeedCache::read`] so far (each formats a key and takes the cache lock).
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Reads that went to the log and found events (cache misses that decoded a batch).
    pub fn decodes(&self) -> u64 {
        self.decodes.load(Ordering::Relaxed)
    }

    /// The events after `cursor` now (no waiting); empty if there are none.
    pub async fn read(
        &self,
        topic: &Arc<Topic>,
        cursor: &Cursor,
        limit: usize,
    ) -> ApiResult<Arc<SharedBatch>> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let key: Key = (topic.id(), cursor.to_string(), limit);
        let cell = {
            let mut inner = self.inner.lock();
            match inner.entries.get(&key) {
                Some(cell) => Arc::clone(cell),
                None => {
                    let cell = Arc::new(OnceCell::new());
                    inner.entries.insert(key.clone(), Arc::clone(&cell));
                    inner.order.push_back(key.clone());
                    inner.evict(&key);
                    cell
                }
            }
        };
        let result = cell
            .get_or_try_init(|| async {
                let batch = read_feed(topic, cursor, limit).await?;
                if !batch.events.is_empty() {
                    self.decodes.fetch_add(1, Ordering::Relaxed);
                }
                let schemas = self.schemas.clone();
                Ok::<_, crate::error::ApiError>(Arc::new(SharedBatch::new(batch, schemas)))
            })
            .await;
        match result {
            Ok(shared) if !shared.batch.events.is_empty() => {
                let mut inner = self.inner.lock();
                let ours = inner
                    .entries
                    .get(&key)
                    .is_some_and(|c| Arc::ptr_eq(c, &cell));
                if ours && !inner.sizes.contains_key(&key) {
                    let size = batch_bytes(&shared.batch);
                    inner.sizes.insert(key.clone(), size);
                    inner.bytes += size;
                    inner.evict(&key);
                }
                Ok(Arc::clone(shared))
            }
            other => {
                // Empty (or failed) answers are not kept: the next append changes them.
                let mut inner = self.inner.lock();
                if inner
                    .entries
                    .get(&key)
                    .is_some_and(|c| Arc::ptr_eq(c, &cell))
                {
                    inner.entries.remove(&key);
                    inner.order.retain(|k| k != &key);
                }
                other.map(Arc::clone)
            }
        }
    }
}

impl FeedCache {
    /// The events after `cursor`, waiting up to `timeout` for some to arrive (woken by the
    /// partitions' high-watermark notifications); reads are shared through the cache.
    pub async fn read_wait(
        &self,
        topic: &Arc<Topic>,
        cursor: &Cursor,
        limit: usize,
        timeout: std::time::Duration,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> ApiResult<Arc<SharedBatch>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Subscribe before reading so an append in between still wakes us.
            let mut watchers: Vec<_> = topic.partitions().iter().map(|p| p.subscribe()).collect();
            let batch = self.read(topic, cursor, limit).await?;
            if !batch.batch.events.is_empty()
                || watchers.is_empty()
                || *shutdown.borrow()
                || tokio::time::Instant::now() >= deadline
            {
                return Ok(batch);
            }
            let changed = futures_util::future::select_all(
                watchers.iter_mut().map(|w| Box::pin(w.changed())),
            );
            tokio::select! {
                (result, _, _) = changed => {
                    if result.is_err() {
                        return Ok(batch);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Ok(batch),
                _ = shutdown.changed() => return Ok(batch),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use strom_broker::{Broker, BrokerConfig, NewRecord};

    /// A broker on `dir` without fsyncs, for unit tests of the feed paths.
    pub(crate) fn broker(dir: &std::path::Path) -> Arc<Broker> {
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
            cleaner_bytes_per_sec: 1 << 20,
            cleaner_dedupe_buffer_bytes: 128 << 20,
        })
        .expect("broker opens")
    }

    #[tokio::test]
    async fn followers_at_one_position_share_one_read_and_empty_answers_are_not_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = broker(dir.path());
        let topic = b.create_topic("t", 1, &Default::default()).expect("topic");
        let cache = FeedCache::default();
        let start = Cursor::beginning(1);
        assert!(cache
            .read(&topic, &start, 10)
            .await
            .expect("read")
            .batch
            .events
            .is_empty());
        topic
            .partition(0)
            .expect("partition")
            .append_records(&[NewRecord {
                value: Some(bytes::Bytes::from_static(b"1")),
                ..Default::default()
            }])
            .expect("append");
        // The empty answer was not cached: the new record is seen.
        let a = cache.read(&topic, &start, 10).await.expect("read");
        let b2 = cache.read(&topic, &start, 10).await.expect("read");
        assert_eq!(a.batch.events.len(), 1);
        assert!(
            Arc::ptr_eq(&a, &b2),
            "second follower reused the first read"
        );
        assert_eq!(a.rendered("t")[0].0, "0");
        b.shutdown().expect("shutdown");
    }
}
