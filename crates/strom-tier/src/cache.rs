//! [`ChunkCache`]: a bounded in-memory cache of fixed-size chunks of remote objects, so a
//! sequential consumer reading a remote segment in small fetches costs one ranged GET per
//! chunk, not one per fetch. Evicts the oldest inserted chunk first (remote reads are mostly
//! sequential scans, for which recency and insertion order agree). Chunks fetched ahead of a
//! sequential reader (`readahead.rs`) go into the same bounded cache; a reader that needs a
//! chunk still being fetched ahead waits for that fetch instead of issuing a second GET.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

/// Bytes per cached chunk (and per ranged GET).
pub const CHUNK_BYTES: u64 = 1 << 20;

pub(crate) type ChunkId = (String, u64);

/// Longest a reader waits for a chunk being fetched ahead before fetching it itself.
const PENDING_WAIT: Duration = Duration::from_secs(35);

#[derive(Default)]
struct Inner {
    chunks: HashMap<ChunkId, Bytes>,
    order: VecDeque<ChunkId>,
    bytes: u64,
    /// Chunks inserted by read-ahead and not read yet.
    prefetched: HashSet<ChunkId>,
    /// Chunks being fetched ahead right now.
    pending: HashSet<ChunkId>,
}

/// Hit and miss counts since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub bytes: u64,
    /// Reads served by a chunk read-ahead fetched (counted in `hits` too).
    pub readahead_hits: u64,
}

pub struct ChunkCache {
    inner: Mutex<Inner>,
    /// Signalled whenever a read-ahead fetch ends.
    fetched: Condvar,
    capacity: u64,
    chunk_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    readahead_hits: AtomicU64,
}

impl ChunkCache {
    /// A cache holding at most `capacity` bytes (0 disables caching), of [`CHUNK_BYTES`] chunks.
    pub fn new(capacity: u64) -> ChunkCache {
        ChunkCache::with_chunk_bytes(capacity, CHUNK_BYTES)
    }

    /// A cache of `chunk_bytes` chunks (small chunks in tests).
    pub fn with_chunk_bytes(capacity: u64, chunk_bytes: u64) -> ChunkCache {
        ChunkCache {
            inner: Mutex::new(Inner::default()),
            fetched: Condvar::new(),
            capacity,
            chunk_bytes: chunk_bytes.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            readahead_hits: AtomicU64::new(0),
        }
    }

    /// Bytes per chunk (and per ranged GET).
    pub fn chunk_bytes(&self) -> u64 {
        self.chunk_bytes
    }

    /// Bytes the cache holds at most.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Room for a chunk fetched ahead next to the one being read.
    pub(crate) fn can_read_ahead(&self) -> bool {
        self.capacity >= 2 * self.chunk_bytes
    }

    /// Chunk `n` of `object`, fetched by `load` on a miss (after waiting for a read-ahead
    /// fetch of it, if one is under way).
    pub fn get_or_load<E>(
        &self,
        object: &str,
        n: u64,
        load: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let id = (object.to_string(), n);
        {
            let mut inner = self.inner.lock();
            let deadline = std::time::Instant::now() + PENDING_WAIT;
            while inner.pending.contains(&id) {
                if self.fetched.wait_until(&mut inner, deadline).timed_out() {
                    break;
                }
            }
            if let Some(b) = inner.chunks.get(&id).cloned() {
                self.hits.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("strom_tier_cache_hits_total").increment(1);
                if inner.prefetched.remove(&id) {
                    self.readahead_hits.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("strom_tier_readahead_hits_total").increment(1);
                }
                return Ok(b);
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("strom_tier_cache_misses_total").increment(1);
        let bytes = load()?;
        self.insert(id, bytes.clone());
        Ok(bytes)
    }

    /// Marks chunk `n` of `object` as being fetched ahead; `false` when it is cached or
    /// already on its way (nothing to do).
    pub(crate) fn begin_prefetch(&self, id: &ChunkId) -> bool {
        let mut inner = self.inner.lock();
        if inner.chunks.contains_key(id) || inner.pending.contains(id) {
            return false;
        }
        inner.pending.insert(id.clone());
        true
    }

    /// Ends a read-ahead fetch begun by [`Self::begin_prefetch`]: caches `bytes` (if it
    /// succeeded) and wakes readers waiting for it.
    pub(crate) fn finish_prefetch(&self, id: ChunkId, bytes: Option<Bytes>) {
        if let Some(bytes) = bytes {
            self.insert(id.clone(), bytes);
            let mut inner = self.inner.lock();
            if inner.chunks.contains_key(&id) {
                inner.prefetched.insert(id.clone());
            }
        }
        self.inner.lock().pending.remove(&id);
        self.fetched.notify_all();
    }

    fn insert(&self, id: ChunkId, bytes: Bytes) {
        let len = bytes.len() as u64;
        if len > self.capacity {
            return;
        }
        let mut inner = self.inner.lock();
        if let Some(old) = inner.chunks.insert(id.clone(), bytes) {
            inner.bytes -= old.len() as u64;
        } else {
            inner.order.push_back(id);
        }
        inner.bytes += len;
        while inner.bytes > self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(b) = inner.chunks.remove(&oldest) {
                inner.bytes -= b.len() as u64;
            }
            inner.prefetched.remove(&oldest);
        }
    }

    /// Drops every chunk of `object` (its segment was deleted).
    pub fn forget(&self, object: &str) {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        inner.order.retain(|(o, _)| o != object);
        inner.prefetched.retain(|(o, _)| o != object);
        let mut freed = 0;
        inner.chunks.retain(|(o, _), b| {
            let keep = o != object;
            if !keep {
                freed += b.len() as u64;
            }
            keep
        });
        inner.bytes -= freed;
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bytes: self.inner.lock().bytes,
            readahead_hits: self.readahead_hits.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_counts_hits() {
        let cache = ChunkCache::new(10);
        let load = |n: u8| move || Ok::<_, ()>(Bytes::from(vec![n; 4]));
        assert_eq!(cache.get_or_load("a", 0, load(1)).unwrap()[0], 1);
        assert_eq!(cache.get_or_load("a", 0, load(9)).unwrap()[0], 1);
        cache.get_or_load("a", 1, load(2)).unwrap();
        cache.get_or_load("a", 2, load(3)).unwrap();
        let s = cache.stats();
        assert_eq!((s.hits, s.misses), (1, 3));
        assert!(s.bytes <= 10, "{s:?}");
        // The oldest chunk was evicted.
        assert_eq!(cache.get_or_load("a", 0, load(7)).unwrap()[0], 7);
        cache.forget("a");
        assert_eq!(cache.stats().bytes, 0);
    }
}
