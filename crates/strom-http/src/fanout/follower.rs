//! The follower of one topic: a task that waits on the partitions' high-watermark
//! notifications, reads every new batch once (through the shared feed cache, so subscribers
//! catching up at the same position reuse it), renders its SSE frames once, pushes it into
//! the ring and wakes the subscribers with one watch update.
//!
//! It never waits for a subscriber. It stops (closing the ring, which ends every live
//! stream) on shutdown, topic deletion or a read error, and retires quietly once its last
//! subscriber is gone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::select_all;
use strom_broker::Topic;
use tokio::sync::{watch, Notify};

use super::ring::Ring;
use crate::cursor::Cursor;
use crate::feed_cache::SharedBatch;
use crate::state::Shared;

/// Most events the follower reads per batch (one ring slot).
pub const FOLLOW_LIMIT: usize = 500;
/// How often the follower re-checks the topic for added partitions and deletion.
const REFRESH: Duration = Duration::from_secs(30);

pub struct Follower {
    pub topic_id: [u8; 16],
    pub ring: parking_lot::Mutex<Ring>,
    /// The ring's next sequence number, sent after every push (and on close).
    pub seq: watch::Sender<u64>,
    topic: parking_lot::Mutex<Arc<Topic>>,
    /// Live handles; increments happen under the hub's lock.
    pub subscribers: AtomicUsize,
    /// Woken when the count of subscribers drops to zero.
    pub idle: Notify,
}

impl Follower {
    /// Creates the follower of `topic` at its head and spawns its task.
    pub fn start(
        state: &Shared,
        topic: &Arc<Topic>,
        max_slots: usize,
        max_bytes: usize,
    ) -> Arc<Follower> {
        let head = Cursor(
            topic
                .partitions()
                .iter()
                .map(|p| p.last_stable_offset() - 1)
                .collect(),
        );
        let follower = Arc::new(Follower {
            topic_id: topic.id(),
            ring: parking_lot::Mutex::new(Ring::new(head, max_slots, max_bytes)),
            seq: watch::Sender::new(0),
            topic: parking_lot::Mutex::new(Arc::clone(topic)),
            subscribers: AtomicUsize::new(0),
            idle: Notify::new(),
        });
        tokio::spawn(run(Arc::clone(state), Arc::clone(&follower)));
        follower
    }

    /// The topic as the follower last saw it (with partitions added since).
    pub fn topic(&self) -> Arc<Topic> {
        Arc::clone(&self.topic.lock())
    }

    pub fn is_closed(&self) -> bool {
        self.ring.lock().closed
    }

    /// Marks the ring closed and wakes every subscriber to see it.
    pub fn close(&self) {
        self.ring.lock().closed = true;
        self.seq.send_modify(|_| {});
    }

    /// Publishes a batch: frames it once, pushes it, wakes the subscribers.
    fn publish(&self, batch: Arc<SharedBatch>, topic: &str) {
        let bytes = batch.framed(topic).len() * 3;
        let next = {
            let mut ring = self.ring.lock();
            ring.push(batch, bytes);
            ring.next_seq()
        };
        self.seq.send_replace(next);
    }

    /// Drops a subscriber's handle.
    pub fn release(&self) {
        if self.subscribers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_one();
        }
    }
}

/// Why the follower's wait ended.
enum Woken {
    Data,
    Stop,
    Idle,
}

async fn run(state: Shared, follower: Arc<Follower>) {
    let mut cursor = follower.ring.lock().head().clone();
    loop {
        if *state.shutdown.borrow() {
            break;
        }
        let topic = follower.topic();
        // Subscribe before reading so an append in between still wakes us.
        let mut watchers: Vec<_> = topic.partitions().iter().map(|p| p.subscribe()).collect();
        match state.feed_cache.read(&topic, &cursor, FOLLOW_LIMIT).await {
            Ok(batch) if !batch.batch.events.is_empty() => {
                cursor = batch.batch.cursor.clone();
                follower.publish(batch, topic.name());
                continue;
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(topic = %topic.name(), error = %err, "live feed stopped");
                break;
            }
        }
        if watchers.is_empty() {
            break;
        }
        match wait(&state, &follower, &topic, &mut watchers).await {
            Woken::Data => {}
            Woken::Stop => break,
            Woken::Idle => {
                if state.fanout.retire_if_idle(&follower) {
                    return;
                }
            }
        }
    }
    state.fanout.remove(&follower);
}

/// Waits for an append, a stop signal, the periodic topic refresh or the last subscriber
/// leaving.
async fn wait(
    state: &Shared,
    follower: &Follower,
    topic: &Arc<Topic>,
    watchers: &mut [watch::Receiver<i64>],
) -> Woken {
    let mut shutdown = state.shutdown.clone();
    let changed = select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
    tokio::select! {
        (result, _, _) = changed => {
            // A closed notifier: the partition is gone (topic deleted).
            if result.is_err() { Woken::Stop } else { Woken::Data }
        }
        // Pick up partitions added meanwhile; stop if the topic was deleted (this
        // follower's own handle keeps its notifiers open).
        _ = tokio::time::sleep(REFRESH) => match state.broker.topic(topic.name()) {
            Some(t) if t.id() == topic.id() => {
                *follower.topic.lock() = t;
                Woken::Data
            }
            _ => Woken::Stop,
        },
        _ = shutdown.changed() => Woken::Stop,
        _ = follower.idle.notified() => Woken::Idle,
    }
}
