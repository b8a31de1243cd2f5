//! One read pass of a Fetch over its resolved partitions ([`TopicTarget`]): remote-tier
//! reads first (bounded by `remote.fetch.max.wait.ms`), then every partition in order under
//! `max_bytes` and each `partition_max_bytes` (KIP-74), with the last stable offset and, for
//! read_committed, the aborted transactions (KIP-98).
//!
//! Cheap for the many partitions of a full fetch that have nothing new: a partition whose
//! fetch offset is its high watermark is answered from its offsets without a log read, and
//! its answer allocates nothing beyond the response entry.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{ProducerId, TopicName};
use kafka_protocol::ResponseError;
use strom_broker::tiering::RemoteRead;
use strom_broker::{BrokerError, Partition, Topic};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::errors::response_error;

/// A requested topic, resolved once per request.
pub(super) struct TopicTarget {
    pub name: TopicName,
    pub id: Uuid,
    /// The topic, when it exists and the client may read it (its change watcher).
    pub topic: Option<Arc<Topic>>,
    pub partitions: Vec<PartitionTarget>,
}

/// A requested partition: the partition or the error to answer, and the request's position.
pub(super) struct PartitionTarget {
    pub index: i32,
    pub partition: Result<Arc<Partition>, ResponseError>,
    pub offset: i64,
    pub max_bytes: usize,
}

/// The reads of the partitions whose fetch offset is in the remote tier, each waited for at
/// most `remote.fetch.max.wait.ms` (KIP-1018), concurrently: (position among the targets'
/// partitions, read), in that order. Empty when no partition reads remote.
pub(super) async fn remote_reads(
    targets: &[TopicTarget],
    max_bytes: usize,
) -> Vec<(usize, RemoteRead)> {
    let mut set = JoinSet::new();
    for (i, p) in targets.iter().flat_map(|t| t.partitions.iter()).enumerate() {
        if let Ok(partition) = &p.partition {
            // The cheap test first: most partitions have no remote tier.
            if partition.remote().is_some() && partition.reads_remote(p.offset) {
                let (partition, offset) = (Arc::clone(partition), p.offset);
                let limit = p.max_bytes.min(max_bytes);
                set.spawn(async move { (i, partition.read_remote_bounded(offset, limit).await) });
            }
        }
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, read)) => out.push((i, read)),
            Err(e) => tracing::error!(error = %e, "a remote read task failed"),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}

/// Blocking: one pass over every requested partition (`remote`: reads already done or
/// pending in the remote tier, by partition). Returns the topics, the record bytes
/// gathered, and whether any partition failed (which answers the fetch at once).
pub(super) fn read_all(
    version: i16,
    targets: &[TopicTarget],
    max_bytes: usize,
    committed: bool,
    remote: Vec<(usize, RemoteRead)>,
) -> (Vec<FetchableTopicResponse>, usize, bool) {
    let mut remaining = max_bytes;
    let mut total = 0usize;
    let mut failed = false;
    let mut remote = remote.into_iter().peekable();
    let mut position = 0usize;
    let topics = targets
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let pre = remote.next_if(|(i, _)| *i == position).map(|(_, r)| r);
                    position += 1;
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
    let hw = partition.high_watermark();
    let read = match remote {
        // Still on its way from the store: positions only, the client fetches again.
        Some(RemoteRead::Pending) => Ok(None),
        Some(RemoteRead::Done(_)) | None if limit == 0 && !first => Ok(None),
        Some(RemoteRead::Done(result)) => result.map(Some),
        // Nothing new: no log read (most partitions of a large full fetch).
        None if target.offset == hw => Ok(None),
        None => partition.read(target.offset, limit).map(Some),
    };
    match read {
        Ok(result) => {
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
    if offset >= lso {
        // Nothing below the last stable offset is read: no aborted transaction to list.
        data.aborted_transactions = Some(Vec::new());
        return data;
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
