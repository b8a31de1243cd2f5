//! Background position commits of a partition worker. The worker only notes how far its
//! events are done ([`Committer::advance`]: every offset below it was delivered,
//! dead-lettered or filtered out); a task commits the highest noted position at most every
//! [`COMMIT_EVERY`] (coalesced: one commit covers everything done since the last one) and
//! once more when the worker finishes or is dropped. Delivery never waits on a commit, and
//! a position is never committed past what the worker noted, so a crash redelivers at most
//! what was done since the last completed commit and never skips.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::worker::commit;
use crate::Ctx;

/// How often a worker's position is committed while it advances.
pub const COMMIT_EVERY: Duration = Duration::from_millis(200);

/// Commits one partition's position for its worker.
pub(crate) struct Committer {
    target: Arc<AtomicI64>,
    close: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Which position a committer commits.
pub(crate) struct Position {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    /// The position already committed.
    pub committed: i64,
}

impl Committer {
    /// Starts the commit task of `at`.
    pub fn start(ctx: Arc<Ctx>, at: Position) -> Committer {
        let target = Arc::new(AtomicI64::new(at.committed));
        let (close, closed) = oneshot::channel();
        let task = tokio::spawn(run(ctx, at, Arc::clone(&target), closed));
        Committer {
            target,
            close: Some(close),
            task: Some(task),
        }
    }

    /// Notes that every event below `offset` is done.
    pub fn advance(&self, offset: i64) {
        self.target.fetch_max(offset, Relaxed);
    }

    /// Commits what was noted and waits for it.
    pub async fn finish(mut self) {
        drop(self.close.take());
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

async fn run(
    ctx: Arc<Ctx>,
    at: Position,
    target: Arc<AtomicI64>,
    mut closed: oneshot::Receiver<()>,
) {
    let mut committed = at.committed;
    let mut tick = tokio::time::interval(COMMIT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let closing = tokio::select! {
            _ = tick.tick() => false,
            _ = &mut closed => true,
        };
        let pos = target.load(Relaxed);
        if pos > committed && commit(&ctx, &at.group, &at.topic, at.partition, pos).await {
            committed = pos;
        }
        if closing {
            return;
        }
    }
}
