//! A partition worker: follows one partition of a subscribed topic from the group's
//! committed position and hands matching records to [`deliver`]: with ordering `partition`
//! (here) one at a time in offset order; `key` and `none` run in [`crate::parallel`]. The
//! position is committed only past events that were delivered or dead-lettered, so a restart
//! resumes without losing any.

use std::sync::Arc;
use std::time::Duration;

use strom_broker::group::{OffsetCommitEntry, OffsetCommitRequest, TopicPartitions};
use strom_broker::{Partition, StoredRecord};

use crate::commit::{Committer, Position};
use crate::deliver::deliver;
use crate::model::{Filter, Ordering};
use crate::payload::event_type;
use crate::reads::{Read, Rec};
use crate::runtime::Runtime;
use crate::Ctx;

pub(crate) const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Runs until the subscription stops.
pub async fn run(ctx: Arc<Ctx>, rt: Arc<Runtime>, topic: String, partition: i32) {
    match rt.current().ordering {
        Ordering::Partition => run_ordered(ctx, rt, topic, partition).await,
        Ordering::Key | Ordering::None => crate::parallel::run(ctx, rt, topic, partition).await,
    }
}

/// What a worker's next step finds in its partition.
pub(crate) enum Step {
    /// Records from the position on (possibly none after filtering), and the position
    /// after them.
    Records(Vec<Rec>, i64),
    /// Nothing new yet.
    Idle(Arc<Partition>),
    /// The partition does not exist (yet) or cannot be read now: try again later.
    Missing,
}

/// Reads the records at `pos` (at most one read's worth, shared with the other subscriptions
/// of the topic through [`crate::reads`]) that pass the filter.
pub(crate) async fn next_records(
    ctx: &Ctx,
    rt: &Runtime,
    topic: &str,
    partition: i32,
    pos: &mut i64,
) -> Step {
    let Ok(part) = ctx.broker.partition(topic, partition) else {
        return Step::Missing;
    };
    *pos = (*pos).max(part.log_start_offset());
    if *pos >= part.high_watermark() {
        return Step::Idle(part);
    }
    let from = *pos;
    let chunk = match ctx.reads.read(part, topic, partition, from).await {
        Read::Chunk(chunk) => chunk,
        Read::Failed => return Step::Missing,
    };
    let sub = rt.current();
    let first = chunk.index_of(from);
    let wanted = (first..chunk.records.len())
        .filter(|i| matches(&sub.filter, &chunk.records[*i]))
        .map(|i| Rec::Shared(Arc::clone(&chunk), i))
        .collect();
    Step::Records(wanted, chunk.next)
}

/// Ordering `partition`: one event at a time, in offset order. Positions are committed in
/// the background ([`Committer`]): delivery never waits on a commit.
async fn run_ordered(ctx: Arc<Ctx>, rt: Arc<Runtime>, topic: String, partition: i32) {
    let group = rt.current().group();
    let mut pos = committed(&ctx, &group, &topic, partition);
    let at = Position {
        group,
        topic: topic.clone(),
        partition,
        committed: pos,
    };
    let committer = Committer::start(Arc::clone(&ctx), &rt.commits, at);
    while rt.wait_active().await {
        let (records, next) = match next_records(&ctx, &rt, &topic, partition, &mut pos).await {
            Step::Records(records, next) => (records, next),
            Step::Idle(part) => {
                committer.advance(pos);
                let mut stop = rt.stop.subscribe();
                tokio::select! {
                    _ = part.wait_for_data(pos, IDLE_WAIT) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            Step::Missing => {
                if !rt.pause(IDLE_WAIT).await {
                    break;
                }
                continue;
            }
        };
        let mut stopped = false;
        for record in records {
            let offset = record.offset;
            if !deliver(&ctx, &rt, &topic, partition, record).await {
                stopped = true;
                break;
            }
            pos = offset + 1;
            committer.advance(pos);
        }
        if stopped {
            break;
        }
        pos = pos.max(next);
        committer.advance(pos);
    }
    committer.finish().await;
}

pub(crate) fn committed(ctx: &Ctx, group: &str, topic: &str, partition: i32) -> i64 {
    let wanted = [TopicPartitions {
        topic: topic.to_string(),
        partitions: vec![partition],
    }];
    ctx.groups
        .fetch_offsets(group, Some(&wanted))
        .first()
        .map_or(-1, |f| f.offset)
        .max(0)
}

/// Commits `offset` as the group's position (standalone commit, generation -1); false
/// (and a warning) when it failed.
pub async fn commit(ctx: &Ctx, group: &str, topic: &str, partition: i32, offset: i64) -> bool {
    let entry = OffsetCommitEntry {
        topic: topic.to_string(),
        partition,
        offset,
        leader_epoch: -1,
        metadata: None,
    };
    commit_many(ctx, group, vec![entry]).await == [true]
}

/// Commits several positions of the group in one request (one record batch in
/// `__consumer_offsets`); whether each was stored (a failure is logged).
pub async fn commit_many(ctx: &Ctx, group: &str, offsets: Vec<OffsetCommitEntry>) -> Vec<bool> {
    let count = offsets.len();
    let req = OffsetCommitRequest {
        group_id: group.to_string(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        offsets,
    };
    match ctx.groups.commit_offsets(req).await {
        Ok(results) => results
            .into_iter()
            .map(|r| match r.error {
                None => true,
                Some(err) => {
                    let (topic, partition) = (&r.topic, r.partition);
                    tracing::warn!(group, topic, partition, error = %err, "webhook: commit failed");
                    false
                }
            })
            .collect(),
        Err(err) => {
            tracing::warn!(group, error = %err, "webhook: commit failed");
            vec![false; count]
        }
    }
}

/// Whether `record` passes the subscription's filter.
pub fn matches(filter: &Filter, record: &StoredRecord) -> bool {
    if let Some(prefix) = &filter.key_prefix {
        let key = record.key.as_deref().unwrap_or_default();
        if !key.starts_with(prefix.as_bytes()) {
            return false;
        }
    }
    let header_ok = filter.headers.iter().all(|(name, value)| {
        record
            .headers
            .iter()
            .any(|h| &h.key == name && h.value.as_deref() == Some(value.as_bytes()))
    });
    let type_ok =
        filter.types.is_empty() || event_type(record).is_some_and(|t| filter.types.contains(&t));
    header_ok && type_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use strom_broker::RecordHeader;

    fn record(key: &str, headers: &[(&str, &str)]) -> StoredRecord {
        StoredRecord {
            offset: 0,
            timestamp: 0,
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: None,
            headers: headers
                .iter()
                .map(|(k, v)| RecordHeader {
                    key: (*k).into(),
                    value: Some(Bytes::copy_from_slice(v.as_bytes())),
                })
                .collect(),
        }
    }

    #[test]
    fn filters_need_every_given_condition() {
        let filter = Filter {
            key_prefix: Some("eu-".into()),
            headers: [("region".to_string(), "eu".to_string())].into(),
            types: vec!["order.created".into()],
        };
        let full = [("region", "eu"), ("ce_type", "order.created")];
        assert!(matches(&filter, &record("eu-1", &full)));
        assert!(!matches(&filter, &record("us-1", &full)));
        let other_region = [("region", "us"), ("ce_type", "order.created")];
        assert!(!matches(&filter, &record("eu-1", &other_region)));
        assert!(!matches(&filter, &record("eu-1", &[("region", "eu")])));
        let other_type = [("region", "eu"), ("ce_type", "order.paid")];
        assert!(!matches(&filter, &record("eu-1", &other_type)));
        assert!(matches(&Filter::default(), &record("any", &[])));
    }
}
