//! Admin APIs whose subject is replication, answered truthfully for one node:
//! DescribeLogDirs (one log dir under the logical name [`LOG_DIR_NAME`], never the server's
//! real path; each partition's size; Describe on the cluster),
//! ElectLeaders (every partition already has its preferred leader: ELECTION_NOT_NEEDED; Alter
//! on the cluster), AlterPartitionReassignments (the only assignment is this node: accepted as
//! a no-op, anything else INVALID_REPLICA_ASSIGNMENT, a cancel NO_REASSIGNMENT_IN_PROGRESS;
//! Alter on the cluster) and ListPartitionReassignments (none; Describe on the cluster).

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
    DescribeLogDirsRequest, DescribeLogDirsResponse, ElectLeadersRequest, ElectLeadersResponse,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::ResponseError;

use super::auth::{denied_message, Access};
use super::common::{node_id, str_bytes};
use super::Context;
use strom_auth::Operation;

/// Partitions named by `(topic, partitions)`, or every partition when `None`: each with
/// whether it exists.
fn partitions_of(
    ctx: &Context,
    requested: Option<Vec<(TopicName, Vec<i32>)>>,
) -> Vec<(TopicName, Vec<(i32, bool)>)> {
    match requested {
        None => ctx
            .broker
            .topics()
            .iter()
            .filter(|t| !strom_broker::is_internal_topic(t.name()))
            .map(|t| {
                let name = TopicName(str_bytes(t.name()));
                (name, (0..t.partition_count()).map(|p| (p, true)).collect())
            })
            .collect(),
        Some(list) => list
            .into_iter()
            .map(|(name, partitions)| {
                let topic = ctx.broker.topic(&name);
                let known = partitions
                    .into_iter()
                    .map(|p| (p, topic.as_ref().is_some_and(|t| t.partition(p).is_some())))
                    .collect();
                (name, known)
            })
            .collect(),
    }
}

/// The name DescribeLogDirs gives the data directory: a fixed logical name, so no answer
/// shows a server path (admin tools only display it; nothing takes it back).
pub const LOG_DIR_NAME: &str = "/strom/data";

pub fn describe_log_dirs(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let response = DescribeLogDirsResponse::default();
    if !access.cluster(Operation::Describe) {
        // Kafka answers an empty result list (v3+ also sets the top-level code).
        return if version >= 3 {
            response.with_error_code(ResponseError::ClusterAuthorizationFailed.code())
        } else {
            response
        };
    }
    let requested = request
        .topics
        .map(|ts| ts.into_iter().map(|t| (t.topic, t.partitions)).collect());
    let topics = partitions_of(ctx, requested)
        .into_iter()
        .filter_map(|(name, partitions)| {
            let topic = ctx.broker.topic(&name)?;
            let partitions: Vec<_> = partitions
                .into_iter()
                .filter_map(|(p, known)| known.then(|| topic.partition(p)).flatten())
                .map(|p| {
                    DescribeLogDirsPartition::default()
                        .with_partition_index(p.index())
                        .with_partition_size(p.size_bytes() as i64)
                        .with_offset_lag(0)
                })
                .collect();
            Some(
                DescribeLogDirsTopic::default()
                    .with_name(name)
                    .with_partitions(partitions),
            )
        })
        .collect();
    let mut result = DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(LOG_DIR_NAME))
        .with_topics(topics);
    if version >= 4 {
        let status = ctx.broker.storage_status();
        result.total_bytes = status.total_bytes as i64;
        result.usable_bytes = status.free_bytes as i64;
    }
    response.with_results(vec![result])
}

pub fn elect_leaders(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let allowed = access.cluster(Operation::Alter);
    let requested = request
        .topic_partitions
        .map(|ts| ts.into_iter().map(|t| (t.topic, t.partitions)).collect());
    let results = partitions_of(ctx, requested)
        .into_iter()
        .map(|(topic, partitions)| {
            let partition_result = partitions
                .into_iter()
                .map(|(p, known)| {
                    let (code, message) = if !allowed {
                        (ResponseError::ClusterAuthorizationFailed, denied_message())
                    } else if !known {
                        (ResponseError::UnknownTopicOrPartition, None)
                    } else {
                        let msg = "the partition's only replica already leads it";
                        (ResponseError::ElectionNotNeeded, Some(str_bytes(msg)))
                    };
                    PartitionResult::default()
                        .with_partition_id(p)
                        .with_error_code(code.code())
                        .with_error_message(message)
                })
                .collect();
            ReplicaElectionResult::default()
                .with_topic(topic)
                .with_partition_result(partition_result)
        })
        .collect();
    let mut response = ElectLeadersResponse::default().with_replica_election_results(results);
    if version >= 1 && !allowed {
        response.error_code = ResponseError::ClusterAuthorizationFailed.code();
    }
    response
}

pub fn alter_reassignments(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    if !access.cluster(Operation::Alter) {
        return AlterPartitionReassignmentsResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(denied_message());
    }
    let node = node_id(&ctx.broker);
    let responses = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = ctx.broker.topic(&t.name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let known = topic
                        .as_ref()
                        .is_some_and(|t| t.partition(p.partition_index).is_some());
                    let (code, message) = match p.replicas {
                        _ if !known => (ResponseError::UnknownTopicOrPartition, None),
                        None => (
                            ResponseError::NoReassignmentInProgress,
                            Some("no reassignment is in progress".to_string()),
                        ),
                        Some(r) if r.len() == 1 && r[0] == node => {
                            return ok_partition(p.partition_index)
                        }
                        Some(_) => (
                            ResponseError::InvalidReplicaAssignment,
                            Some(format!("this cluster has one broker, {}", node.0)),
                        ),
                    };
                    ReassignablePartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code.code())
                        .with_error_message(message.map(|m| str_bytes(&m)))
                })
                .collect();
            ReassignableTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    AlterPartitionReassignmentsResponse::default().with_responses(responses)
}

fn ok_partition(index: i32) -> ReassignablePartitionResponse {
    ReassignablePartitionResponse::default().with_partition_index(index)
}

pub fn list_reassignments(
    _ctx: &Context,
    access: &Access,
    _version: i16,
    _request: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    let response = ListPartitionReassignmentsResponse::default();
    if !access.cluster(Operation::Describe) {
        return response
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(denied_message());
    }
    response
}
