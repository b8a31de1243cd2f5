//! OffsetDelete (v0, KIP-496): deletes committed offsets of topics the group no longer reads.
//! Needs Delete on the group (GROUP_AUTHORIZATION_FAILED), then Read on each topic (its
//! partitions answer TOPIC_AUTHORIZATION_FAILED and keep their offsets).

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use strom_broker::group::TopicPartitions;

use super::auth::Access;
use super::common::topic_name;
use super::group_common::code;
use super::Context;
use kafka_protocol::ResponseError;
use strom_auth::Operation;

pub async fn handle(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    if !access.group(Operation::Delete, &request.group_id) {
        return OffsetDeleteResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let (allowed, denied): (Vec<_>, Vec<_>) = request
        .topics
        .iter()
        .partition(|t| access.topic(Operation::Read, &t.name));
    let wanted: Vec<TopicPartitions> = allowed
        .iter()
        .map(|t| TopicPartitions {
            topic: t.name.to_string(),
            partitions: t.partitions.iter().map(|p| p.partition_index).collect(),
        })
        .collect();
    match ctx.groups.delete_offsets(&request.group_id, &wanted).await {
        Err(err) => {
            OffsetDeleteResponse::default().with_error_code(crate::errors::group_error_code(&err))
        }
        Ok(results) => {
            let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
            for result in results {
                let partition = OffsetDeleteResponsePartition::default()
                    .with_partition_index(result.partition)
                    .with_error_code(code(&result.error));
                match topics.last_mut() {
                    Some(last) if last.name.0.as_str() == result.topic => {
                        last.partitions.push(partition)
                    }
                    _ => topics.push(
                        OffsetDeleteResponseTopic::default()
                            .with_name(topic_name(&result.topic))
                            .with_partitions(vec![partition]),
                    ),
                }
            }
            topics.extend(denied.iter().map(|t| {
                let partitions = t.partitions.iter().map(|p| {
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                });
                OffsetDeleteResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions.collect())
            }));
            OffsetDeleteResponse::default().with_topics(topics)
        }
    }
}
