//! Shared reads for live followers (SSE, WebSocket). Thousands of subscribers of one topic
//! wake on the same append and ask for the same events after the same cursor; the first
//! one reads and decodes, the others wait for its result (single flight) and reuse it,
//! including the rendered CloudEvents JSON.
//!
//! Only non-empty batches are kept: events below the high watermark never change, so a
//! cached batch stays a correct answer for its cursor; an empty answer would go stale.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use strom_broker::Topic;
use tokio::sync::OnceCell;

use crate::cloudevents::cloud_event;
use crate::cursor::Cursor;
use crate::error::ApiResult;
use crate::feed::{read_feed, FeedBatch};

/// Entries kept; each is one batch of at most `limit` events.
const CAPACITY: usize = 256;

type Key = ([u8; 16], String, usize);

/// A batch shared between followers, with its SSE rendering made once on first use.
pub struct SharedBatch {
    pub batch: FeedBatch,
    rendered: OnceLock<Vec<(String, String)>>,
}

impl SharedBatch {
    /// `(id, CloudEvent JSON)` of every event.
    pub fn rendered(&self, topic: &str) -> &[(String, String)] {
        self.rendered.get_or_init(|| {
            self.batch
                .events
                .iter()
                .map(|e| (e.id.to_string(), cloud_event(topic, e).to_string()))
                .collect()
        })
    }
}

#[derive(Default)]
pub struct FeedCache {
    inner: parking_lot::Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Arc<OnceCell<Arc<SharedBatch>>>>,
    order: VecDeque<Key>,
}

impl FeedCache {
    /// The events after `cursor` now (no waiting); empty if there are none.
    pub async fn read(
        &self,
        topic: &Arc<Topic>,
        cursor: &Cursor,
        limit: usize,
    ) -> ApiResult<Arc<SharedBatch>> {
        let key: Key = (topic.id(), cursor.to_string(), limit);
        let cell = {
            let mut inner = self.inner.lock();
            match inner.entries.get(&key) {
                Some(cell) => Arc::clone(cell),
                None => {
                    let cell = Arc::new(OnceCell::new());
                    inner.entries.insert(key.clone(), Arc::clone(&cell));
                    inner.order.push_back(key.clone());
                    while inner.order.len() > CAPACITY {
                        if let Some(old) = inner.order.pop_front() {
                            inner.entries.remove(&old);
                        }
                    }
                    cell
                }
            }
        };
        let result = cell
            .get_or_try_init(|| async {
                let mut never = tokio::sync::watch::channel(false).1;
                let batch =
                    read_feed(topic, cursor, limit, std::time::Duration::ZERO, &mut never).await?;
                Ok::<_, crate::error::ApiError>(Arc::new(SharedBatch {
                    batch,
                    rendered: OnceLock::new(),
                }))
            })
            .await;
        match result {
            Ok(shared) if !shared.batch.events.is_empty() => Ok(Arc::clone(shared)),
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
