//! OffsetCommit (v2–v9): member commits are checked against the group's generation; a
//! generation of -1 with no member id is a standalone commit. v9's member epoch (KIP-848) is
//! the classic generation for the groups Strom runs. Needs Read on the group (else every
//! partition answers GROUP_AUTHORIZATION_FAILED), then Read on each topic (else its
//! partitions answer TOPIC_AUTHORIZATION_FAILED and are not committed).

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use strom_broker::group::{self, OffsetCommitEntry};

use super::auth::Access;
use super::group_common::{code, opt_string};
use super::Context;
use kafka_protocol::ResponseError;
use strom_auth::Operation;

pub async fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let group_allowed = access.group(Operation::Read, &request.group_id);
    // Per topic: its partitions, and the error that answers them all when denied.
    let mut order: Vec<(kafka_protocol::messages::TopicName, Vec<i32>, Option<i16>)> = Vec::new();
    let mut offsets = Vec::new();
    for topic in &request.topics {
        let denied = if !group_allowed {
            Some(ResponseError::GroupAuthorizationFailed.code())
        } else if !access.topic(Operation::Read, &topic.name) {
            Some(ResponseError::TopicAuthorizationFailed.code())
        } else {
            None
        };
        order.push((
            topic.name.clone(),
            topic.partitions.iter().map(|p| p.partition_index).collect(),
            denied,
        ));
        if denied.is_some() {
            continue;
        }
        for p in &topic.partitions {
            offsets.push(OffsetCommitEntry {
                topic: topic.name.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: opt_string(&p.committed_metadata),
            });
        }
    }
    let commit = group::OffsetCommitRequest {
        group_id: request.group_id.to_string(),
        generation_id: request.generation_id_or_member_epoch,
        member_id: request.member_id.to_string(),
        group_instance_id: if version >= 7 {
            opt_string(&request.group_instance_id)
        } else {
            None
        },
        offsets,
    };
    let committed = commit.offsets.len();
    // The whole request's error goes to every partition, which is how Kafka reports it.
    let errors: Vec<i16> = if committed == 0 {
        Vec::new()
    } else {
        match ctx.groups.commit_offsets(commit).await {
            Ok(results) => results.iter().map(|r| code(&r.error)).collect(),
            Err(err) => vec![crate::errors::group_error_code(&err); committed],
        }
    };
    let mut errors = errors.into_iter();
    let topics = order
        .into_iter()
        .map(|(name, partitions, denied)| {
            OffsetCommitResponseTopic::default()
                .with_name(name)
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p)
                                .with_error_code(
                                    denied.unwrap_or_else(|| errors.next().unwrap_or(0)),
                                )
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
