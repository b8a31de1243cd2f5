//! The feed engine shared by the HTTP feed, SSE and WebSocket: reads the events after a
//! [`Cursor`] across every partition of a topic. Waiting for new data (on the partitions'
//! high-watermark notifications, never by sleeping in a loop) and sharing reads between
//! followers are in [`crate::feed_cache`].
//!
//! Interleaving: partitions are merged by record timestamp (ties by partition), keeping each
//! partition's own offset order. Exact resumption does not depend on this rule, because the
//! event ids carry every partition's position (see [`crate::cursor`]).

use std::sync::Arc;

use strom_broker::{StoredRecord, Topic};

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

/// Reads up to `limit` events after `cursor` as they are now (no waiting; the waiting and
/// sharing live in [`crate::feed_cache::FeedCache`]).
pub async fn read_feed(topic: &Arc<Topic>, cursor: &Cursor, limit: usize) -> ApiResult<FeedBatch> {
    read_once(topic, cursor, limit).await
}

async fn read_once(topic: &Arc<Topic>, cursor: &Cursor, limit: usize) -> ApiResult<FeedBatch> {
    let partitions = topic.partitions();
    let mut cursor = cursor.clone();
    cursor.0.resize(cursor.0.len().max(partitions.len()), -1);
    let mut per_partition: Vec<std::collections::VecDeque<StoredRecord>> = Vec::new();
    for (i, partition) in partitions.iter().enumerate() {
        let start = cursor.next_offset(i).max(partition.log_start_offset());
        if start >= partition.last_stable_offset() {
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
