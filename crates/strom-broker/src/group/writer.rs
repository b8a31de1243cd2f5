//! The single writer of `__consumer_offsets`: every record the coordinator persists goes
//! through one queue, so records reach the log in the order the group state changed, and
//! whatever queued up during one round of appends is written by the next in one batch per
//! partition (one fsync for many commits under `fsync = always`).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::NewRecord;

use super::{GroupError, GroupStorage};

/// Appends larger than this are split, staying well below the log's maximum batch size.
const MAX_APPEND_BYTES: usize = 256 * 1024;
/// Most queued writes taken into one round of appends.
const MAX_WRITES_PER_ROUND: usize = 4096;

type Ack = oneshot::Sender<Result<i64, GroupError>>;

struct Write {
    partition: i32,
    records: Vec<NewRecord>,
    ack: Option<Ack>,
}

#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Write>,
}

/// Resolves to the offset of the first record of a queued write.
pub(crate) type Pending = oneshot::Receiver<Result<i64, GroupError>>;

impl Writer {
    /// Starts the writer task; it ends when every `Writer` clone is dropped.
    pub(crate) fn spawn(storage: Arc<dyn GroupStorage>) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(storage, rx));
        Writer { tx }
    }

    /// Queues `records` for `partition`; the result says where they landed.
    pub(crate) fn write(&self, partition: i32, records: Vec<NewRecord>) -> Pending {
        let (ack, rx) = oneshot::channel();
        self.queue(partition, records, Some(ack));
        rx
    }

    /// Queues `records` without waiting for the outcome (failures are logged).
    pub(crate) fn write_detached(&self, partition: i32, records: Vec<NewRecord>) {
        self.queue(partition, records, None);
    }

    fn queue(&self, partition: i32, records: Vec<NewRecord>, ack: Option<Ack>) {
        if records.is_empty() {
            if let Some(ack) = ack {
                let _ = ack.send(Ok(-1));
            }
            return;
        }
        let write = Write {
            partition,
            records,
            ack,
        };
        if let Err(mpsc::error::SendError(write)) = self.tx.send(write) {
            // The writer task is gone only when the runtime shuts down.
            if let Some(ack) = write.ack {
                let _ = ack.send(Err(GroupError::CoordinatorNotAvailable));
            }
        }
    }
}

async fn run(storage: Arc<dyn GroupStorage>, mut rx: mpsc::UnboundedReceiver<Write>) {
    let mut round = Vec::new();
    while rx.recv_many(&mut round, MAX_WRITES_PER_ROUND).await > 0 {
        // Partitions are independent logs: append to them in parallel, so their fsyncs
        // overlap; within a partition the queue order is kept.
        let mut by_partition: BTreeMap<i32, Vec<Write>> = BTreeMap::new();
        for write in round.drain(..) {
            by_partition.entry(write.partition).or_default().push(write);
        }
        let appends: Vec<_> = by_partition
            .into_values()
            .map(|writes| {
                let storage = Arc::clone(&storage);
                tokio::task::spawn_blocking(move || append_round(&*storage, writes))
            })
            .collect();
        for append in appends {
            if let Err(err) = append.await {
                tracing::error!(error = %err, "__consumer_offsets writer panicked");
            }
        }
    }
}

/// Appends one round of writes to one partition, coalesced into as few appends as the size
/// limit allows, in queue order.
fn append_round(storage: &dyn GroupStorage, writes: Vec<Write>) {
    let mut chunk: Vec<Write> = Vec::new();
    let mut chunk_bytes = 0;
    for write in writes {
        let size: usize = write
            .records
            .iter()
            .map(|r| {
                32 + r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())
            })
            .sum();
        let fits = chunk
            .first()
            .is_some_and(|first| first.partition == write.partition)
            && chunk_bytes + size <= MAX_APPEND_BYTES;
        if !fits && !chunk.is_empty() {
            append_chunk(storage, std::mem::take(&mut chunk));
            chunk_bytes = 0;
        }
        chunk_bytes += size;
        chunk.push(write);
    }
    if !chunk.is_empty() {
        append_chunk(storage, chunk);
    }
}

fn append_chunk(storage: &dyn GroupStorage, chunk: Vec<Write>) {
    let Some(partition) = chunk.first().map(|w| w.partition) else {
        return;
    };
    let records: Vec<NewRecord> = chunk
        .iter()
        .flat_map(|w| w.records.iter().cloned())
        .collect();
    let mut result = storage.append(partition, &records);
    if let Err(err) = &result {
        tracing::warn!(partition, error = %err, "cannot write to __consumer_offsets");
    }
    for write in chunk {
        let outcome = result.clone();
        if let Ok(position) = &mut result {
            *position += write.records.len() as i64;
        }
        if let Some(ack) = write.ack {
            let _ = ack.send(outcome);
        }
    }
}
