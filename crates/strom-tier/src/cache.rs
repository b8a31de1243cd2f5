//! [`ChunkCache`]: a bounded in-memory cache of fixed-size chunks of remote objects, so a
//! sequential consumer reading a remote segment in small fetches costs one ranged GET per
//! chunk, not one per fetch. Evicts the oldest inserted chunk first (remote reads are mostly
//! sequential scans, for which recency and insertion order agree).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

/// Bytes per cached chunk (and per ranged GET).
pub const CHUNK_BYTES: u64 = 1 << 20;

type ChunkId = (String, u64);

#[derive(Default)]
struct Inner {
    chunks: HashMap<ChunkId, Bytes>,
    order: VecDeque<ChunkId>,
    bytes: u64,
}

/// Hit and miss counts since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub bytes: u64,
}

pub struct ChunkCache {
    inner: Mutex<Inner>,
    capacity: u64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ChunkCache {
    /// A cache holding at most `capacity` bytes (0 disables caching).
    pub fn new(capacity: u64) -> ChunkCache {
        ChunkCache {
            inner: Mutex::new(Inner::default()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Chunk `n` of `object`, fetched by `load` on a miss.
    pub fn get_or_load<E>(
        &self,
        object: &str,
        n: u64,
        load: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let id = (object.to_string(), n);
        if let Some(b) = self.inner.lock().chunks.get(&id) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("strom_tier_cache_hits_total").increment(1);
            return Ok(b.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("strom_tier_cache_misses_total").increment(1);
        let bytes = load()?;
        self.insert(id, bytes.clone());
        Ok(bytes)
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
        }
    }

    /// Drops every chunk of `object` (its segment was deleted).
    pub fn forget(&self, object: &str) {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        inner.order.retain(|(o, _)| o != object);
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
