//! ListOffsets: earliest (-2), latest (-1) and by-timestamp lookups per partition.
//!
//! -3 (max timestamp, KIP-734) scans the batch headers for the batch with the largest
//! `maxTimestamp`, then decodes that one batch to find the exact record (KAFKA-16310
//! semantics); it costs one header read per batch, fine for an admin query. -4 (earliest
//! local, KIP-405) equals earliest because Strom has no tiered storage, and -5 (latest
//! tiered) has no tiered offset to report (-1).

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;

use strom_broker::{BrokerError, Partition};
use strom_log::{Fields, RecordReader};

use super::auth::Access;
use super::metadata::LEADER_EPOCH;
use super::Context;
use crate::errors::response_error;
use strom_auth::Operation;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    // read_committed asks for the last stable offset as the latest (KIP-98).
    let committed = request.isolation_level == 1;
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let allowed = access.topic(Operation::Describe, &t.name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index);
                    let found = if allowed {
                        lookup(ctx, &t.name, p.partition_index, p.timestamp, committed)
                    } else {
                        Err(ResponseError::TopicAuthorizationFailed)
                    };
                    let (code, timestamp, offset) = match found {
                        Ok((offset, timestamp)) => (0, timestamp, offset),
                        Err(code) => (code.code(), -1, -1),
                    };
                    let mut response = response
                        .with_error_code(code)
                        .with_timestamp(timestamp)
                        .with_offset(offset);
                    if version >= 4 && code == 0 {
                        response.leader_epoch = LEADER_EPOCH;
                    }
                    response
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// `(offset, timestamp)` for one partition; `(-1, -1)` when no record is that late.
fn lookup(
    ctx: &Context,
    topic: &str,
    index: i32,
    timestamp: i64,
    committed: bool,
) -> Result<(i64, i64), ResponseError> {
    let partition = ctx
        .broker
        .partition(topic, index)
        .map_err(|e| response_error(&e))?;
    match timestamp {
        LATEST if committed => Ok((partition.last_stable_offset(), -1)),
        LATEST => Ok((partition.high_watermark(), -1)),
        EARLIEST => Ok((partition.log_start_offset(), -1)),
        // KIP-405: the first offset still on local disk.
        EARLIEST_LOCAL => Ok((partition.log().log_start_offset(), -1)),
        LATEST_TIERED => Ok((-1, -1)),
        MAX_TIMESTAMP => max_timestamp(&partition).map_err(|err| response_error(&err)),
        ts if ts < 0 => Err(ResponseError::InvalidRequest),
        ts => match partition.offset_for_timestamp(ts) {
            Ok(Some((offset, found))) => Ok((offset, found)),
            Ok(None) => Ok((-1, -1)),
            Err(err) => Err(response_error(&err)),
        },
    }
}

/// `(offset, timestamp)` of the record with the largest timestamp (the first such record on a
/// tie, as Kafka does), or `(-1, -1)` for an empty log.
fn max_timestamp(partition: &Partition) -> Result<(i64, i64), BrokerError> {
    let mut best: Option<(i64, i64)> = None; // (batch base offset, max timestamp)
    partition
        .log()
        .scan_headers(partition.log_start_offset(), &mut |h| {
            if best.is_none_or(|(_, ts)| h.max_timestamp > ts) {
                best = Some((h.base_offset, h.max_timestamp));
            }
            true
        })?;
    let Some((base_offset, timestamp)) = best else {
        return Ok((-1, -1));
    };
    let batch = partition.read(base_offset.max(partition.log_start_offset()), 1)?;
    // A batch whose records carry other timestamps (LogAppendTime), or that cannot be
    // decoded within the limits, stands for its whole batch.
    let exact = exact_max(&batch.records, timestamp, partition.log().config().decode);
    Ok((exact.unwrap_or(base_offset), timestamp))
}

/// The first record of the first batch in `bytes` carrying `timestamp`, walked without
/// holding any record.
fn exact_max(bytes: &[u8], timestamp: i64, limits: strom_log::DecodeLimits) -> Option<i64> {
    let batch = strom_log::decode::batches(bytes).next()?.ok()?;
    RecordReader::new(batch, Fields::Skip, limits)
        .ok()?
        .map_while(Result::ok)
        .find(|r| r.timestamp == timestamp)
        .map(|r| r.offset)
}
