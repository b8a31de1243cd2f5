//! OffsetDelete (v0, KIP-496): deletes committed offsets of topics the group no longer reads.

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use strom_broker::group::TopicPartitions;

use super::common::topic_name;
use super::group_common::code;
use super::Context;

pub async fn handle(
    ctx: &Context,
    _version: i16,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let wanted: Vec<TopicPartitions> = request
        .topics
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
            OffsetDeleteResponse::default().with_topics(topics)
        }
    }
}
