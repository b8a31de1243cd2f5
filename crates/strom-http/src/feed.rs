//! The feed engine shared by the HTTP feed, SSE and WebSocket: reads the events after a
//! [`Cursor`] across every partition of a topic, and waits for new data by subscribing to
//! the partitions' high-watermark notifications (never by sleeping in a loop).
//!
//! Interleaving: partitions are merged by record timestamp (ties by partition), keeping each
//! partition's own offset order. Exact resumption does not depend on this rule, because the
//! event ids carry every partition's position (see [`crate::cursor`]).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::select_all;
use strom_broker::{StoredRecord, Topic};
use tokio::sync::watch;

use crate::cursor::Cursor;
use crate::error::ApiResult;
use crate::reader::{read_records, DEFAULT_MAX_BYTES};

/// One event of a feed.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    pub partition: i32,
    pub record: StoredRecord,
    /// The cursor just after this event: the event id.
    pub id: Cursor,
}

/// What one feed read returned.
#[derive(Debug)]
pub struct FeedBatch {
    pub events: Vec<FeedEvent>,
    /// The cursor after the last event (the request's cursor if there were none).
    pub cursor: Cursor,
    /// Every event is below the high watermark of its partition and the batch holds exactly
    /// `limit` events, so this exact response stays a correct answer forever.
    pub full: bool,
}

/// Reads up to `limit` events after `cursor`; if there are none, waits up to `timeout` for
/// any partition's high watermark to move (or for `shutdown`).
pub async fn read_feed(
    topic: &Arc<Topic>,
    cursor: &Cursor,
    limit: usize,
    timeout: Duration,
    shutdown: &mut watch::Receiver<bool>,
) -> ApiResult<FeedBatch> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Subscribe before reading so an append between the read and the wait still wakes us.
        let mut watchers: Vec<watch::Receiver<i64>> =
            topic.partitions().iter().map(|p| p.subscribe()).collect();
        let batch = read_once(topic, cursor, limit).await?;
        if !batch.events.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(batch);
        }
        if *shutdown.borrow() {
            return Ok(batch);
        }
        if watchers.is_empty() {
            return Ok(batch);
        }
        let changed = select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        tokio::select! {
            (result, _, _) = changed => {
                // A closed notifier means the partition is gone (topic deleted): stop waiting.
                if result.is_err() {
                    return Ok(batch);
                }
            }
            _ = tokio::time::sleep_until(deadline) => return Ok(batch),
            _ = shutdown.changed() => return Ok(batch),
        }
    }
}

async fn read_once(topic: &Arc<Topic>, cursor: &Cursor, limit: usize) -> ApiResult<FeedBatch> {
    let partitions = topic.partitions();
    let mut cursor = cursor.clone();
    cursor.0.resize(cursor.0.len().max(partitions.len()), -1);
    let mut per_partition: Vec<std::collections::VecDeque<StoredRecord>> = Vec::new();
    for (i, partition) in partitions.iter().enumerate() {
        let start = cursor.next_offset(i).max(partition.log_start_offset());
        if start >= partition.high_watermark() {
            per_partition.push(Default::default());
            continue;
        }
        let out = read_records(Arc::clone(partition), start, limit, DEFAULT_MAX_BYTES).await?;
        per_partition.push(out.records.into());
    }
    let mut events = Vec::new();
    while events.len() < limit {
        let next = per_partition
            .iter()
            .enumerate()
            .filter_map(|(i, q)| q.front().map(|r| (r.timestamp, i)))
            .min();
        let Some((_, i)) = next else { break };
        let Some(record) = per_partition[i].pop_front() else {
            break;
        };
        cursor.advance(i, record.offset);
        events.push(FeedEvent {
            partition: i as i32,
            record,
            id: cursor.clone(),
        });
    }
    let full = limit > 0 && events.len() == limit;
    Ok(FeedBatch {
        events,
        cursor,
        full,
    })
}
