//! Background position commits, batched per subscription. A partition worker only notes how
//! far its events are done ([`Committer::advance`]: every offset below it was delivered,
//! dead-lettered or filtered out); the subscription's [`Batch`] task sends, every
//! [`COMMIT_EVERY`], ONE OffsetCommit (one record batch in `__consumer_offsets`) carrying
//! the partitions whose noted position moved since their last commit, and none when nothing
//! moved. A worker that finishes commits its own position once more. Delivery never waits
//! on a commit, and a position is never committed past what its worker noted, so a crash
//! redelivers at most what was done since the last completed commit and never skips.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use strom_broker::group::OffsetCommitEntry;

use crate::worker::commit_many;
use crate::Ctx;

/// How often a subscription's positions are committed while they advance.
pub const COMMIT_EVERY: Duration = Duration::from_millis(200);

/// Which position a committer commits.
pub(crate) struct Position {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    /// The position already committed.
    pub committed: i64,
}

/// One partition's noted and committed positions.
struct Slot {
    topic: String,
    partition: i32,
    target: AtomicI64,
    committed: AtomicI64,
}

/// The commits of one subscription (one group): its workers' slots and the task that
/// commits them together.
#[derive(Default)]
pub struct Batch {
    group: Mutex<String>,
    slots: Mutex<Vec<Arc<Slot>>>,
    /// Held while a commit is in flight, so two commits of one slot never race.
    sending: tokio::sync::Mutex<()>,
    started: AtomicBool,
    /// OffsetCommit requests sent (for tests and the measurement in docs/webhooks.md).
    pub requests: AtomicI64,
}

/// Commits one partition's position for its worker, through the subscription's batch.
pub(crate) struct Committer {
    slot: Arc<Slot>,
    batch: Arc<Batch>,
    ctx: Arc<Ctx>,
}

impl Committer {
    /// Registers `at` with `batch` (starting its task on first use).
    pub fn start(ctx: Arc<Ctx>, batch: &Arc<Batch>, at: Position) -> Committer {
        let slot = Arc::new(Slot {
            topic: at.topic,
            partition: at.partition,
            target: AtomicI64::new(at.committed),
            committed: AtomicI64::new(at.committed),
        });
        *batch.group.lock() = at.group;
        batch.slots.lock().push(Arc::clone(&slot));
        if !batch.started.swap(true, Relaxed) {
            tokio::spawn(run(Arc::clone(&ctx), Arc::downgrade(batch)));
        }
        Committer {
            slot,
            batch: Arc::clone(batch),
            ctx,
        }
    }

    /// Notes that every event below `offset` is done.
    pub fn advance(&self, offset: i64) {
        self.slot.target.fetch_max(offset, Relaxed);
    }

    /// Leaves the batch and commits what was noted, waiting for it.
    pub async fn finish(self) {
        let _sending = self.batch.sending.lock().await;
        self.batch
            .slots
            .lock()
            .retain(|s| !Arc::ptr_eq(s, &self.slot));
        let one = [Arc::clone(&self.slot)];
        self.batch.send(&self.ctx, &one).await;
    }
}

/// The entries of the slots whose noted position moved past their committed one.
fn changed(slots: &[Arc<Slot>]) -> Vec<(usize, OffsetCommitEntry)> {
    slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let target = s.target.load(Relaxed);
            (target > s.committed.load(Relaxed)).then(|| {
                let entry = OffsetCommitEntry {
                    topic: s.topic.clone(),
                    partition: s.partition,
                    offset: target,
                    leader_epoch: -1,
                    metadata: None,
                };
                (i, entry)
            })
        })
        .collect()
}

impl Batch {
    /// Commits the changed positions of `slots` in one request; nothing when none moved.
    async fn send(&self, ctx: &Ctx, slots: &[Arc<Slot>]) {
        let changed = changed(slots);
        if changed.is_empty() {
            return;
        }
        let group = self.group.lock().clone();
        let (index, entries): (Vec<usize>, Vec<OffsetCommitEntry>) = changed.into_iter().unzip();
        let offsets: Vec<i64> = entries.iter().map(|e| e.offset).collect();
        self.requests.fetch_add(1, Relaxed);
        let ok = commit_many(ctx, &group, entries).await;
        for ((i, offset), ok) in index.into_iter().zip(offsets).zip(ok) {
            if ok {
                slots[i].committed.fetch_max(offset, Relaxed);
            }
        }
    }
}

async fn run(ctx: Arc<Ctx>, batch: Weak<Batch>) {
    let mut tick = tokio::time::interval(COMMIT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(batch) = batch.upgrade() else {
            return;
        };
        let _sending = batch.sending.lock().await;
        let slots = batch.slots.lock().clone();
        batch.send(&ctx, &slots).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(partition: i32, target: i64, committed: i64) -> Arc<Slot> {
        Arc::new(Slot {
            topic: "t".into(),
            partition,
            target: AtomicI64::new(target),
            committed: AtomicI64::new(committed),
        })
    }

    #[test]
    fn one_request_carries_only_the_moved_partitions() {
        let slots: Vec<_> = (0..8).map(|p| slot(p, 10, 10)).collect();
        assert!(changed(&slots).is_empty(), "nothing moved: no commit");
        slots[2].target.store(15, Relaxed);
        slots[5].target.store(11, Relaxed);
        let moved = changed(&slots);
        let parts: Vec<(usize, i32, i64)> = moved
            .iter()
            .map(|(i, e)| (*i, e.partition, e.offset))
            .collect();
        assert_eq!(parts, vec![(2, 2, 15), (5, 5, 11)]);
        slots[2].committed.store(15, Relaxed);
        slots[5].committed.store(11, Relaxed);
        assert!(changed(&slots).is_empty(), "committed: nothing left");
    }
}
