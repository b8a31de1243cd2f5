//! OffsetForLeaderEpoch: clients validate their position after a leader change with it
//! (KIP-320). Strom's partitions never change leader, so every record is of leader epoch 0
//! ([`super::metadata::LEADER_EPOCH`]): epoch 0 ends at the log end offset, any other epoch is
//! unknown (-1, -1, as Kafka answers for an epoch its cache does not hold). A current leader
//! epoch newer than ours is UNKNOWN_LEADER_EPOCH. Needs Describe on the topic.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_protocol::ResponseError;

use super::auth::Access;
use super::metadata::LEADER_EPOCH;
use super::Context;
use strom_auth::Operation;

/// Kafka's "no such epoch" answer.
const UNDEFINED: i32 = -1;

pub fn handle(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let allowed = access.topic(Operation::Describe, &t.topic);
            let topic = ctx.broker.topic(&t.topic);
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let result = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(UNDEFINED)
                        .with_end_offset(i64::from(UNDEFINED));
                    let partition = topic.as_ref().and_then(|t| t.partition(p.partition));
                    let error = if !allowed {
                        Some(ResponseError::TopicAuthorizationFailed)
                    } else if partition.is_none() {
                        Some(ResponseError::UnknownTopicOrPartition)
                    } else if p.current_leader_epoch > LEADER_EPOCH {
                        Some(ResponseError::UnknownLeaderEpoch)
                    } else {
                        None
                    };
                    match (error, partition) {
                        (Some(code), _) => result.with_error_code(code.code()),
                        (None, Some(partition)) if p.leader_epoch == LEADER_EPOCH => result
                            .with_leader_epoch(LEADER_EPOCH)
                            .with_end_offset(partition.high_watermark()),
                        (None, _) => result,
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
