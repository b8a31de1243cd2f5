//! Orderings `key` and `none`: a partition worker that keeps several events in flight.
//! Records are put in lanes, one per key (`key`; records without a key share one) or one
//! per record (`none`); each lane is a task that delivers its records in offset order,
//! lanes run in parallel within the subscription's concurrency. The reader keeps reading
//! ahead while lanes work (so one event waiting for a retry holds up only its own key), up
//! to [`MAX_PENDING`] records or [`MAX_PENDING_BYTES`] not yet done. The committed position
//! is the lowest offset not yet delivered or dead-lettered, committed in the background
//! ([`crate::commit`]): a restart redelivers, it never skips.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use strom_broker::StoredRecord;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::commit::{Committer, Position};
use crate::deliver::deliver;
use crate::model::Ordering;
use crate::reads::Rec;
use crate::runtime::Runtime;
use crate::worker::{committed, next_records, Step, IDLE_WAIT};
use crate::Ctx;

/// Most records read ahead and not yet done, per partition.
pub const MAX_PENDING: usize = 1024;
/// Most key and value bytes read ahead and not yet done, per partition.
pub const MAX_PENDING_BYTES: usize = 64 << 20;

/// Which lane a record goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LaneKey {
    Key(Option<Bytes>),
    Offset(i64),
}

/// The lane of `record` under `ordering` (`partition` puts every record in one lane).
pub fn lane_key(ordering: Ordering, record: &StoredRecord) -> LaneKey {
    match ordering {
        Ordering::Key => LaneKey::Key(record.key.clone()),
        Ordering::None => LaneKey::Offset(record.offset),
        Ordering::Partition => LaneKey::Key(None),
    }
}

type Lanes = Arc<Mutex<HashMap<LaneKey, VecDeque<Rec>>>>;

fn size(r: &StoredRecord) -> usize {
    r.key.as_ref().map_or(0, Bytes::len) + r.value.as_ref().map_or(0, Bytes::len)
}

/// One partition's reader and its lanes.
struct Worker {
    ctx: Arc<Ctx>,
    rt: Arc<Runtime>,
    topic: String,
    partition: i32,
    ordering: Ordering,
    lanes: Lanes,
    tasks: JoinSet<()>,
    done_tx: mpsc::UnboundedSender<i64>,
    /// Offset -> size of the records read and not yet done.
    pending: BTreeMap<i64, usize>,
    pending_bytes: usize,
}

impl Worker {
    fn done(&mut self, offset: i64) {
        if let Some(n) = self.pending.remove(&offset) {
            self.pending_bytes -= n;
        }
    }

    fn full(&self) -> bool {
        self.pending.len() >= MAX_PENDING || self.pending_bytes >= MAX_PENDING_BYTES
    }

    /// Queues `record` on its lane, starting the lane's task if it has none.
    fn dispatch(&mut self, record: Rec) {
        let n = size(&record);
        self.pending.insert(record.offset, n);
        self.pending_bytes += n;
        let key = lane_key(self.ordering, &record);
        {
            let mut lanes = self.lanes.lock();
            if let Some(queue) = lanes.get_mut(&key) {
                queue.push_back(record);
                return;
            }
            lanes.insert(key.clone(), VecDeque::from([record]));
        }
        self.tasks.spawn(lane(
            Arc::clone(&self.ctx),
            Arc::clone(&self.rt),
            (self.topic.clone(), self.partition),
            Arc::clone(&self.lanes),
            key,
            self.done_tx.clone(),
        ));
    }
}

/// A lane: delivers its queued records in order until the queue is empty or the
/// subscription stops; reports each finished offset.
async fn lane(
    ctx: Arc<Ctx>,
    rt: Arc<Runtime>,
    (topic, partition): (String, i32),
    lanes: Lanes,
    key: LaneKey,
    done: mpsc::UnboundedSender<i64>,
) {
    loop {
        let record = {
            let mut map = lanes.lock();
            match map.get_mut(&key).and_then(VecDeque::pop_front) {
                Some(r) => r,
                None => {
                    map.remove(&key);
                    return;
                }
            }
        };
        let offset = record.offset;
        if !deliver(&ctx, &rt, &topic, partition, record).await {
            lanes.lock().remove(&key);
            return;
        }
        let _ = done.send(offset);
    }
}

/// Runs until the subscription stops.
pub async fn run(ctx: Arc<Ctx>, rt: Arc<Runtime>, topic: String, partition: i32) {
    let group = rt.current().group();
    let mut pos = committed(&ctx, &group, &topic, partition);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut w = Worker {
        ordering: rt.current().ordering,
        ctx,
        rt,
        topic,
        partition,
        lanes: Arc::default(),
        tasks: JoinSet::new(),
        done_tx,
        pending: BTreeMap::new(),
        pending_bytes: 0,
    };
    let mut stop = w.rt.stop.subscribe();
    let at = Position {
        group,
        topic: w.topic.clone(),
        partition: w.partition,
        committed: pos,
    };
    let committer = Committer::start(Arc::clone(&w.ctx), &w.rt.commits, at);
    loop {
        while let Ok(offset) = done_rx.try_recv() {
            w.done(offset);
        }
        while w.tasks.try_join_next().is_some() {}
        committer.advance(w.pending.keys().next().copied().unwrap_or(pos));
        if !w.rt.wait_active().await {
            break;
        }
        let step = if w.full() {
            None
        } else {
            Some(next_records(&w.ctx, &w.rt, &w.topic, w.partition, &mut pos).await)
        };
        let idle: Option<Arc<strom_broker::Partition>> = match step {
            Some(Step::Records(records, next)) => {
                records.into_iter().for_each(|r| w.dispatch(r));
                pos = next;
                continue;
            }
            Some(Step::Idle(part)) => Some(part),
            Some(Step::Missing) | None => None,
        };
        let wait_data = async {
            match &idle {
                Some(part) => {
                    part.wait_for_data(pos, IDLE_WAIT).await;
                }
                None => tokio::time::sleep(IDLE_WAIT).await,
            }
        };
        tokio::select! {
            _ = wait_data => {}
            Some(offset) = done_rx.recv() => w.done(offset),
            _ = stop.changed() => {}
        }
    }
    // Stopping: every lane ends at its current event; commit below the first one not done.
    while w.tasks.join_next().await.is_some() {}
    while let Ok(offset) = done_rx.try_recv() {
        w.done(offset);
    }
    committer.advance(w.pending.keys().next().copied().unwrap_or(pos));
    committer.finish().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: i64, key: Option<&'static str>) -> StoredRecord {
        StoredRecord {
            offset,
            timestamp: 0,
            key: key.map(|k| Bytes::from_static(k.as_bytes())),
            value: None,
            headers: Vec::new(),
        }
    }

    #[test]
    fn lanes_follow_the_ordering() {
        let (a1, a2, b1) = (
            record(1, Some("a")),
            record(2, Some("a")),
            record(3, Some("b")),
        );
        let key = |r| lane_key(Ordering::Key, r);
        assert_eq!(key(&a1), key(&a2));
        assert_ne!(key(&a1), key(&b1));
        assert_eq!(key(&record(4, None)), key(&record(5, None)));
        let none = |r| lane_key(Ordering::None, r);
        assert_ne!(none(&a1), none(&a2));
        let part = |r| lane_key(Ordering::Partition, r);
        assert_eq!(part(&a1), part(&b1));
    }
}
