//! Fetch: reads whole stored batches (bytes as produced, never re-encoded) from several
//! topics/partitions, honouring `max_bytes`, `partition_max_bytes`, `min_bytes` and
//! `max_wait_ms`.
//!
//! Long polling is event-driven: the handler subscribes to the high-watermark channel of
//! every requested partition *before* reading, and waits for any of them to change (or the
//! deadline, or shutdown) before reading again. It never sleeps in a loop.
//!
//! A partition whose fetch offset is in the remote tier is read first, concurrently with the
//! others, and waited for at most `remote.fetch.max.wait.ms` (KIP-1018); one still running
//! then answers the fetch at once without its data (`strom-broker`'s `tiering/fetch_wait.rs`).
//!
//! Fetch sessions (KIP-227) are not kept: we always answer session id 0, which tells clients
//! to send full fetch requests. A request naming a session id gets FETCH_SESSION_ID_NOT_FOUND.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId, TopicName};
use kafka_protocol::ResponseError;
use strom_broker::tiering::RemoteRead;
use strom_broker::{BrokerError, Partition};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

use super::auth::Access;
use super::common::topic_by_id;
use super::{blocking, Context};
use crate::errors::response_error;
use strom_auth::Operation;

struct TopicTarget {
    name: TopicName,
    id: Uuid,
    partitions: Vec<PartitionTarget>,
}

struct PartitionTarget {
    index: i32,
    partition: Result<Arc<Partition>, ResponseError>,
    offset: i64,
    max_bytes: usize,
}

/// Errors: a blocking read panicked.
pub async fn handle(
    ctx: &Arc<Context>,
    access: &Access,
    version: i16,
    request: FetchRequest,
) -> anyhow::Result<FetchResponse> {
    if version >= 7 && request.session_id != 0 {
        return Ok(
            FetchResponse::default().with_error_code(ResponseError::FetchSessionIdNotFound.code())
        );
    }
    let committed = request.isolation_level == 1;
    let targets = Arc::new(resolve(ctx, access, version, request.topics));
    // Subscribed before the first read, so an append between a read and the wait below
    // still wakes us.
    let mut watchers: Vec<watch::Receiver<i64>> = targets
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter_map(|p| p.partition.as_ref().ok().map(|p| p.subscribe()))
        .collect();
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(request.max_bytes).unwrap_or(0);
    let max_wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0));
    let deadline = Instant::now() + max_wait;
    let mut shutdown = ctx.shutdown.clone();
    loop {
        for w in &mut watchers {
            w.borrow_and_update();
        }
        let remote = remote_reads(&targets, max_bytes).await;
        // A remote read still running after remote.fetch.max.wait.ms answers the fetch now.
        let pending = remote
            .iter()
            .any(|r| matches!(r, Some(RemoteRead::Pending)));
        let read_targets = Arc::clone(&targets);
        let (topics, total, failed) = blocking(ctx, move |_| {
            read_all(version, &read_targets, max_bytes, committed, remote)
        })
        .await?;
        let done = total >= min_bytes
            || failed
            || pending
            || watchers.is_empty()
            || Instant::now() >= deadline
            || *shutdown.borrow();
        if done {
            return Ok(FetchResponse::default().with_responses(topics));
        }
        wait_any(&watchers, deadline, &mut shutdown).await;
    }
}

fn resolve(
    ctx: &Context,
    access: &Access,
    version: i16,
    topics: Vec<kafka_protocol::messages::fetch_request::FetchTopic>,
) -> Vec<TopicTarget> {
    topics
        .into_iter()
        .map(|t| {
            let (topic, missing) = if version >= 13 {
                (
                    topic_by_id(&ctx.broker, t.topic_id),
                    ResponseError::UnknownTopicId,
                )
            } else {
                (
                    ctx.broker.topic(&t.topic),
                    ResponseError::UnknownTopicOrPartition,
                )
            };
            // Read on the topic, checked before its existence so a denied client cannot
            // tell whether it exists (by id: only an existing topic has a name to check).
            let name = topic
                .as_ref()
                .map_or(t.topic.0.as_str(), |topic| topic.name());
            let denied = (topic.is_some() || version < 13) && !access.topic(Operation::Read, name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| PartitionTarget {
                    index: p.partition,
                    partition: match &topic {
                        _ if denied => Err(ResponseError::TopicAuthorizationFailed),
                        None => Err(missing),
                        Some(topic) => topic
                            .partition(p.partition)
                            .ok_or(ResponseError::UnknownTopicOrPartition),
                    },
                    offset: p.fetch_offset,
                    max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
                })
                .collect();
            TopicTarget {
                name: t.topic,
                id: t.topic_id,
                partitions,
            }
        })
        .collect()
}

/// The reads of the partitions whose fetch offset is in the remote tier, each waited for at
/// most `remote.fetch.max.wait.ms` (KIP-1018), concurrently; `None` for the others. In the
/// order of the targets' partitions.
async fn remote_reads(targets: &[TopicTarget], max_bytes: usize) -> Vec<Option<RemoteRead>> {
    let mut set = JoinSet::new();
    let mut out = Vec::new();
    for (i, p) in targets.iter().flat_map(|t| t.partitions.iter()).enumerate() {
        out.push(None);
        if let Ok(partition) = &p.partition {
            if partition.reads_remote(p.offset) {
                let (partition, offset) = (Arc::clone(partition), p.offset);
                let limit = p.max_bytes.min(max_bytes);
                set.spawn(async move { (i, partition.read_remote_bounded(offset, limit).await) });
            }
        }
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, read)) => out[i] = Some(read),
            Err(e) => tracing::error!(error = %e, "a remote read task failed"),
        }
    }
    out
}

/// Blocking: one pass over every requested partition (`remote`: reads already done or
/// pending in the remote tier, by partition). Returns the topics, the record bytes
/// gathered, and whether any partition failed (which answers the fetch at once).
fn read_all(
    version: i16,
    targets: &[TopicTarget],
    max_bytes: usize,
    committed: bool,
    remote: Vec<Option<RemoteRead>>,
) -> (Vec<FetchableTopicResponse>, usize, bool) {
    let mut remaining = max_bytes;
    let mut total = 0usize;
    let mut failed = false;
    let mut remote = remote.into_iter();
    let topics = targets
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let pre = remote.next().flatten();
                    let mut data = read_partition(p, &mut remaining, total == 0, pre);
                    if let Ok(partition) = &p.partition {
                        data = stable_view(partition, p.offset, data, committed);
                    }
                    total += data.records.as_ref().map_or(0, Bytes::len);
                    failed |= data.error_code != 0;
                    data
                })
                .collect();
            let mut topic = FetchableTopicResponse::default().with_partitions(partitions);
            if version >= 13 {
                topic.topic_id = t.id;
            } else {
                topic.topic = t.name.clone();
            }
            topic
        })
        .collect();
    (topics, total, failed)
}

fn read_partition(
    target: &PartitionTarget,
    remaining: &mut usize,
    first: bool,
    remote: Option<RemoteRead>,
) -> PartitionData {
    let data = PartitionData::default()
        .with_partition_index(target.index)
        .with_records(Some(Bytes::new()));
    let partition = match &target.partition {
        Ok(p) => p,
        Err(code) => return data.with_error_code(code.code()).with_high_watermark(-1),
    };
    let limit = target.max_bytes.min(*remaining);
    let read = match remote {
        // Still on its way from the store: positions only, the client fetches again.
        Some(RemoteRead::Pending) => Ok(None),
        Some(RemoteRead::Done(_)) | None if limit == 0 && !first => Ok(None),
        Some(RemoteRead::Done(result)) => result.map(Some),
        None => partition.read(target.offset, limit).map(Some),
    };
    match read {
        Ok(result) => {
            let hw = partition.high_watermark();
            let log_start = partition.log_start_offset();
            let mut data = data
                .with_high_watermark(hw)
                .with_last_stable_offset(hw)
                .with_log_start_offset(log_start);
            if let Some(result) = result {
                let data_hw = result.high_watermark;
                data = data
                    .with_high_watermark(data_hw)
                    .with_last_stable_offset(data_hw)
                    .with_log_start_offset(result.log_start_offset);
                // KIP-74: only the first batch of the first non-empty partition may exceed the
                // limits (so a consumer can always make progress); later ones must fit.
                if first || result.records.len() <= limit {
                    *remaining = remaining.saturating_sub(result.records.len());
                    strom_broker::telemetry::records_out(
                        partition.topic(),
                        "kafka",
                        strom_broker::telemetry::batch_record_count(&result.records),
                        result.records.len() as u64,
                    );
                    data.records = Some(result.records);
                }
            }
            data
        }
        Err(err) => {
            if !matches!(
                err,
                BrokerError::Log(strom_log::LogError::OffsetOutOfRange { .. })
            ) {
                tracing::warn!(topic = partition.topic(), partition = partition.index(),
                    error = %err, "fetch read failed");
            }
            data.with_error_code(response_error(&err).code())
                .with_high_watermark(partition.high_watermark())
                .with_last_stable_offset(partition.high_watermark())
                .with_log_start_offset(partition.log_start_offset())
        }
    }
}

/// Reports the last stable offset; for read_committed (KIP-98) cuts the records at it and
/// lists the aborted transactions in the range, which the client skips.
fn stable_view(
    partition: &Partition,
    offset: i64,
    mut data: PartitionData,
    committed: bool,
) -> PartitionData {
    if data.error_code != 0 {
        return data;
    }
    let lso = partition.last_stable_offset().min(data.high_watermark);
    data.last_stable_offset = lso;
    if !committed {
        return data;
    }
    if let Some(records) = &data.records {
        data.records = Some(strom_broker::partition_txn::stable_prefix(records, lso));
    }
    let aborted = partition
        .aborted_transactions(offset, lso)
        .into_iter()
        .map(|a| {
            AbortedTransaction::default()
                .with_producer_id(ProducerId(a.producer_id))
                .with_first_offset(a.first_offset)
        })
        .collect();
    data.aborted_transactions = Some(aborted);
    data
}

/// Waits until any watched high watermark moves, the deadline passes or shutdown starts.
async fn wait_any(
    watchers: &[watch::Receiver<i64>],
    deadline: Instant,
    shutdown: &mut watch::Receiver<bool>,
) {
    // Clones share the "seen" version of the originals, which the caller marked before its
    // read, so a change since then completes `changed()` at once. Dropping the set aborts the
    // remaining waiters.
    let mut changed = JoinSet::new();
    for w in watchers {
        let mut w = w.clone();
        changed.spawn(async move {
            if w.changed().await.is_err() {
                // The partition went away (topic deleted): nothing more will come; park.
                std::future::pending::<()>().await;
            }
        });
    }
    tokio::select! {
        _ = changed.join_next() => {}
        _ = tokio::time::sleep_until(deadline) => {}
        _ = async {
            if shutdown.changed().await.is_err() {
                // The server dropped its shutdown sender: only the deadline can end the wait.
                std::future::pending::<()>().await;
            }
        } => {}
    }
}
