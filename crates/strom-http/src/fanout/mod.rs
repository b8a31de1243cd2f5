//! Live fan-out for SSE and WebSocket: one follower per topic reads each new batch once and
//! publishes it to every subscriber.
//!
//! - [`ring`]: the follower's bounded ring of recent batches and the join/take rules.
//! - [`follower`]: the follower task (waits on the partitions' high-watermark notifications,
//!   reads through the [`crate::feed_cache::FeedCache`], pushes slots, wakes subscribers).
//! - [`subscription`]: one subscriber: live on the ring, or catching up from the log.
//!
//! The rules: a new event costs the server one read for all subscribers and, per subscriber,
//! one wake and one write (several pending batches go out as one write). A follower never
//! waits for a subscriber: one that falls behind the ring reads from the log on its own
//! (through the shared cache), then joins again at the exact position it reached, so its
//! event ids stay continuous. Memory is bounded by the ring's slot count and byte budget,
//! whatever the subscribers do. A follower stops once its last subscriber is gone.

pub mod follower;
pub mod ring;
pub mod subscription;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use strom_broker::Topic;

use crate::cursor::Cursor;
use crate::state::Shared;
use follower::Follower;
pub use ring::Chunk;
pub use subscription::Subscription;

/// Slots a follower's ring keeps (batches of up to [`follower::FOLLOW_LIMIT`] events).
pub const RING_SLOTS: usize = 1024;
/// Bytes a ring keeps (decoded records plus their renderings).
pub const RING_BYTES: usize = 32 * 1024 * 1024;

/// The followers, by topic id.
pub struct Hub {
    followers: parking_lot::Mutex<HashMap<[u8; 16], Arc<Follower>>>,
    ring_slots: AtomicUsize,
    ring_bytes: AtomicUsize,
    lagged: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            followers: Default::default(),
            ring_slots: AtomicUsize::new(RING_SLOTS),
            ring_bytes: AtomicUsize::new(RING_BYTES),
            lagged: AtomicU64::new(0),
        }
    }
}

impl Hub {
    /// A subscriber of `topic` from `cursor`; catch-up reads use batches of `limit` events.
    /// Starts the topic's follower if there is none.
    pub fn subscribe(
        &self,
        state: &Shared,
        topic: &Arc<Topic>,
        cursor: Cursor,
        limit: usize,
    ) -> Subscription {
        let follower = {
            let mut followers = self.followers.lock();
            let existing = followers
                .get(&topic.id())
                .filter(|f| !f.is_closed())
                .cloned();
            let follower = existing.unwrap_or_else(|| {
                let f = Follower::start(
                    state,
                    topic,
                    self.ring_slots.load(Ordering::Relaxed),
                    self.ring_bytes.load(Ordering::Relaxed),
                );
                followers.insert(topic.id(), Arc::clone(&f));
                f
            });
            follower.subscribers.fetch_add(1, Ordering::Relaxed);
            follower
        };
        Subscription::new(Arc::clone(state), follower, cursor, limit)
    }

    /// Removes `follower` if it has no subscriber left (checked under the map's lock, where
    /// subscribers are added). Returns whether it was removed.
    fn retire_if_idle(&self, follower: &Arc<Follower>) -> bool {
        let mut followers = self.followers.lock();
        if follower.subscribers.load(Ordering::Relaxed) != 0 {
            return false;
        }
        follower.close();
        if followers
            .get(&follower.topic_id)
            .is_some_and(|f| Arc::ptr_eq(f, follower))
        {
            followers.remove(&follower.topic_id);
        }
        true
    }

    /// Closes `follower` and forgets it (it stopped for good: shutdown, deletion, error).
    fn remove(&self, follower: &Arc<Follower>) {
        let mut followers = self.followers.lock();
        follower.close();
        if followers
            .get(&follower.topic_id)
            .is_some_and(|f| Arc::ptr_eq(f, follower))
        {
            followers.remove(&follower.topic_id);
        }
    }

    /// Followers running now.
    pub fn followers(&self) -> usize {
        self.followers.lock().len()
    }

    /// Subscribers attached to followers now.
    pub fn subscribers(&self) -> usize {
        self.followers
            .lock()
            .values()
            .map(|f| f.subscribers.load(Ordering::Relaxed))
            .sum()
    }

    /// Times a subscriber fell behind a ring and went back to the log.
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    /// The ring size of followers started from now on (tests use small rings).
    pub fn set_ring_limits(&self, slots: usize, bytes: usize) {
        self.ring_slots.store(slots, Ordering::Relaxed);
        self.ring_bytes.store(bytes, Ordering::Relaxed);
    }

    /// `(slots, bytes)` held by the ring of `topic`'s follower, if one runs.
    pub fn ring_usage(&self, topic: [u8; 16]) -> Option<(usize, usize)> {
        let follower = self.followers.lock().get(&topic).cloned()?;
        let ring = follower.ring.lock();
        Some((ring.len(), ring.bytes()))
    }
}
