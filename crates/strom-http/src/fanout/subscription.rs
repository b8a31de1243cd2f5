//! One subscriber of a topic's follower. It is either *live* (a position in the ring: each
//! wake takes every slot published since, by refcount, with no read, lock of the feed
//! cache, or key formatting) or *catching up* (reading batches from the log through the
//! shared cache from its own cursor, for a start before the head or after falling behind
//! the ring). A catching-up subscriber joins the ring as soon as its cursor matches the
//! head or any event in a slot, so delivery is exact either way: no gap, no duplicate.
//!
//! [`Subscription::next`] is cancel-safe: it changes the subscriber's state only when it
//! returns.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::watch;

use super::follower::Follower;
use super::ring::{Chunk, Position, Take};
use crate::cursor::Cursor;
use crate::state::Shared;

/// Most bytes of frames taken from the ring in one wake (several batches pending under load
/// go out together, as one write).
const MAX_TAKE_BYTES: usize = 256 * 1024;

pub struct Subscription {
    state: Shared,
    follower: Arc<Follower>,
    seq: watch::Receiver<u64>,
    /// The position after the last event handed out.
    cursor: Arc<Cursor>,
    live: Option<Position>,
    limit: usize,
}

/// What one catch-up step did.
enum Step {
    Delivered,
    Joined,
    /// At the end of the log but not at a position in the ring: wait for the next slot.
    Wait,
    End,
}

impl Subscription {
    pub(super) fn new(
        state: Shared,
        follower: Arc<Follower>,
        cursor: Cursor,
        limit: usize,
    ) -> Subscription {
        let seq = follower.seq.subscribe();
        Subscription {
            state,
            follower,
            seq,
            cursor: Arc::new(cursor),
            live: None,
            limit,
        }
    }

    /// The topic's name, for rendering.
    pub fn topic_name(&self) -> String {
        self.follower.topic().name().to_string()
    }

    /// The position after the last event handed out.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// Whether the subscriber takes its events from the ring now.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Waits for the next events and appends them to `out` (one or more chunks, in order);
    /// false once the feed has ended (shutdown, topic deleted, read error).
    pub async fn next(&mut self, out: &mut Vec<Chunk>) -> bool {
        loop {
            if let Some(mut pos) = self.live {
                self.seq.borrow_and_update();
                let took = self
                    .follower
                    .ring
                    .lock()
                    .take(&mut pos, out, MAX_TAKE_BYTES);
                match took {
                    Take::Delivered(after) => {
                        self.live = Some(pos);
                        self.cursor = after;
                        if !out.is_empty() {
                            return true;
                        }
                    }
                    Take::Empty => {
                        if self.seq.changed().await.is_err() {
                            return false;
                        }
                    }
                    Take::Lagged => {
                        self.live = None;
                        self.state.fanout.lagged.fetch_add(1, Ordering::Relaxed);
                    }
                    Take::Closed => return false,
                }
                continue;
            }
            match self.catch_up(out).await {
                Step::Delivered => return true,
                Step::Joined => {}
                Step::Wait => {
                    if self.seq.changed().await.is_err() {
                        return false;
                    }
                }
                Step::End => return false,
            }
        }
    }

    /// Joins the ring if the cursor is at a position in it, else reads the next batch from
    /// the log.
    async fn catch_up(&mut self, out: &mut Vec<Chunk>) -> Step {
        if *self.state.shutdown.borrow() {
            return Step::End;
        }
        let topic = self.follower.topic();
        let starts: Vec<i64> = topic
            .partitions()
            .iter()
            .map(|p| p.log_start_offset())
            .collect();
        {
            let ring = self.follower.ring.lock();
            if ring.closed {
                return Step::End;
            }
            if let Some(pos) = ring.join(&self.cursor, &starts) {
                self.live = Some(pos);
                return Step::Joined;
            }
        }
        // Marked before reading: a slot pushed after this read wakes a `Wait`.
        self.seq.borrow_and_update();
        match self
            .state
            .feed_cache
            .read(&topic, &self.cursor, self.limit)
            .await
        {
            Ok(batch) if !batch.batch.events.is_empty() => {
                self.cursor = Arc::new(batch.batch.cursor.clone());
                out.push(Chunk { batch, skip: 0 });
                Step::Delivered
            }
            Ok(_) => Step::Wait,
            Err(err) => {
                tracing::warn!(topic = %topic.name(), error = %err, "live feed stopped");
                Step::End
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.follower.release();
    }
}
