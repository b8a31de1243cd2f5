//! Read-ahead for sequential consumers of remote segments: when a read continues where an
//! earlier read of the partition ended, the chunks after the bytes just returned (as many as
//! that read returned, up to [`MAX_AHEAD`], on into the next segment) are fetched in the
//! background into the shared [`ChunkCache`], so the consumer's next fetch finds them there
//! instead of waiting for GETs. Bounded by the cache (at most half of it is fetched ahead, and
//! nothing when it holds fewer than two chunks) and by [`MAX_IN_FLIGHT`] fetches at a time,
//! server-wide.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::{ChunkCache, RemoteStore};

/// Read-ahead fetches running at once, all partitions together.
const MAX_IN_FLIGHT: usize = 8;
/// Chunks fetched ahead of one read, at most.
const MAX_AHEAD: u64 = 4;
/// Readers of one partition followed at once (the offsets where their next reads start).
const TRACKED_READERS: usize = 8;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Where recent reads of one partition ended, to recognise a reader moving sequentially.
#[derive(Default)]
pub(crate) struct Sequential {
    next: Mutex<VecDeque<i64>>,
}

impl Sequential {
    /// Records a read of `offset` that returned records up to `next` (exclusive); true when
    /// it continued where an earlier read ended.
    pub(crate) fn advance(&self, offset: i64, next: i64) -> bool {
        let mut q = self.next.lock();
        let continued = match q.iter().position(|&o| o == offset) {
            Some(i) => {
                q.remove(i);
                true
            }
            None => false,
        };
        if q.len() >= TRACKED_READERS {
            q.pop_front();
        }
        q.push_back(next);
        continued
    }
}

/// Chunks to fetch ahead of a read of `len` bytes: as many as it covered, at least one, at
/// most [`MAX_AHEAD`] and half the cache; none when the cache holds fewer than two chunks.
pub(crate) fn ahead_chunks(cache: &ChunkCache, len: u64) -> u64 {
    if !cache.can_read_ahead() {
        return 0;
    }
    let room = cache.capacity() / cache.chunk_bytes() / 2;
    len.div_ceil(cache.chunk_bytes())
        .clamp(1, MAX_AHEAD.min(room.max(1)))
}

/// Fetches chunk `n` of `object` (`size` bytes) into `cache` in the background, unless it is
/// cached or already on its way, the cache is too small, or enough fetches are running.
pub(crate) fn prefetch(
    store: &Arc<dyn RemoteStore>,
    cache: &Arc<ChunkCache>,
    object: &str,
    n: u64,
    size: u64,
) {
    let chunk = cache.chunk_bytes();
    let start = n * chunk;
    if start >= size || !cache.can_read_ahead() {
        return;
    }
    if IN_FLIGHT.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let id = (object.to_string(), n);
    if !cache.begin_prefetch(&id) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let (store, cache2) = (Arc::clone(store), Arc::clone(cache));
    let id2 = id.clone();
    let spawned = std::thread::Builder::new()
        .name("strom-tier-readahead".into())
        .spawn(move || {
            let got = store.get_range(&id2.0, start..(start + chunk).min(size));
            metrics::counter!("strom_tier_readahead_fetches_total").increment(1);
            if got.is_err() {
                metrics::counter!("strom_tier_read_errors_total").increment(1);
            }
            cache2.finish_prefetch(id2, got.ok());
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        cache.finish_prefetch(id, None);
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_continuing_an_earlier_one_is_sequential() {
        let s = Sequential::default();
        assert!(!s.advance(0, 10), "the first read");
        assert!(s.advance(10, 20));
        assert!(!s.advance(5, 8), "a jump back");
        assert!(s.advance(20, 30), "the first reader is still followed");
        assert!(s.advance(8, 9), "and the second");
    }

    #[test]
    fn reads_ahead_as_much_as_was_read_within_half_the_cache() {
        let cache = ChunkCache::with_chunk_bytes(16 << 20, 1 << 20);
        assert_eq!(ahead_chunks(&cache, 100), 1);
        assert_eq!(ahead_chunks(&cache, 3 << 20), 3);
        assert_eq!(ahead_chunks(&cache, 64 << 20), MAX_AHEAD);
        let small = ChunkCache::with_chunk_bytes(4 << 20, 1 << 20);
        assert_eq!(ahead_chunks(&small, 64 << 20), 2);
        let tiny = ChunkCache::with_chunk_bytes(1 << 20, 1 << 20);
        assert_eq!(ahead_chunks(&tiny, 64 << 20), 0);
    }
}
