//! DeleteRecords: advances a partition's log start offset. Offset -1 means "up to the high
//! watermark" (Kafka's convention for deleting everything). Needs Delete on the topic.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::ResponseError;

use super::auth::Access;
use super::Context;
use crate::errors::response_error;
use strom_auth::Operation;

pub fn handle(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let allowed = access.topic(Operation::Delete, &t.name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index);
                    let deleted = if allowed {
                        delete(ctx, &t.name, p.partition_index, p.offset)
                    } else {
                        Err(ResponseError::TopicAuthorizationFailed)
                    };
                    match deleted {
                        Ok(low_watermark) => result.with_low_watermark(low_watermark),
                        Err(code) => result.with_error_code(code.code()).with_low_watermark(-1),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}

fn delete(ctx: &Context, topic: &str, index: i32, offset: i64) -> Result<i64, ResponseError> {
    let partition = ctx
        .broker
        .partition(topic, index)
        .map_err(|e| response_error(&e))?;
    let offset = if offset == -1 {
        partition.high_watermark()
    } else {
        offset
    };
    if offset < 0 || offset > partition.high_watermark() {
        return Err(ResponseError::OffsetOutOfRange);
    }
    partition.delete_records_before(offset).map_err(|err| {
        tracing::warn!(topic, partition = index, error = %err, "delete records failed");
        response_error(&err)
    })
}
