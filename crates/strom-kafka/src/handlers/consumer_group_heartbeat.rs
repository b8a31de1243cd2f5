//! ConsumerGroupHeartbeat (v0–v1, KIP-848): a consumer group member joins, heartbeats and
//! leaves, and learns its server-computed assignment. Topics travel by id on the wire and by
//! name in the coordinator. Needs Read on the group (GROUP_AUTHORIZATION_FAILED); subscribed
//! topic names need Describe on each (TOPIC_AUTHORIZATION_FAILED), and a regex only matches
//! the topics the caller may Describe (Kafka's KIP-848 table).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_auth::Operation;
use strom_broker::group::consumer::{ConsumerHeartbeatRequest, Parts};
use strom_broker::GroupError;
use uuid::Uuid;

use super::auth::Access;
use super::common::str_bytes;
use super::group_common::opt_string;
use super::Context;

fn failed(error: ResponseError, message: Option<String>) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(error.code())
        .with_error_message(message.map(StrBytes::from_string))
}

fn group_failure(err: &GroupError) -> ConsumerGroupHeartbeatResponse {
    let message = match err {
        GroupError::Storage(_) => None,
        other => Some(other.to_string()),
    };
    failed(err.kafka_error(), message)
}

/// Owned partitions by topic name; ids of unknown topics are dropped (the member no longer
/// owns partitions of a deleted topic).
fn owned_by_name(
    ctx: &Context,
    owned: &[kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions],
) -> Parts {
    let names: BTreeMap<Uuid, String> = ctx
        .broker
        .topics()
        .into_iter()
        .map(|t| (Uuid::from_bytes(t.id()), t.name().to_string()))
        .collect();
    let mut parts = Parts::new();
    for tp in owned {
        if let Some(name) = names.get(&tp.topic_id) {
            let set: BTreeSet<i32> = tp.partitions.iter().copied().collect();
            parts.entry(name.clone()).or_default().extend(set);
        }
    }
    parts
}

pub fn handle(
    ctx: &Context,
    access: &Access,
    client_id: &str,
    peer: SocketAddr,
    request: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    if !access.group(Operation::Read, &request.group_id) {
        return failed(ResponseError::GroupAuthorizationFailed, None);
    }
    if let Some(names) = &request.subscribed_topic_names {
        if names.iter().any(|t| !access.topic(Operation::Describe, t)) {
            return failed(ResponseError::TopicAuthorizationFailed, None);
        }
    }
    let heartbeat = ConsumerHeartbeatRequest {
        group_id: request.group_id.to_string(),
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        instance_id: opt_string(&request.instance_id),
        rack_id: opt_string(&request.rack_id),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topic_names: request
            .subscribed_topic_names
            .as_ref()
            .map(|names| names.iter().map(|t| t.to_string()).collect()),
        subscribed_topic_regex: opt_string(&request.subscribed_topic_regex),
        server_assignor: opt_string(&request.server_assignor),
        owned: request
            .topic_partitions
            .as_ref()
            .map(|owned| owned_by_name(ctx, owned)),
        client_id: client_id.to_string(),
        client_host: format!("/{}", peer.ip()),
    };
    let can_describe = |topic: &str| access.sees_topic(topic);
    match ctx.groups.consumer_heartbeat(heartbeat, &can_describe) {
        Ok(r) => {
            let assignment = r.assignment.map(|topics| {
                Assignment::default().with_topic_partitions(
                    topics
                        .into_iter()
                        .map(|(id, partitions)| {
                            TopicPartitions::default()
                                .with_topic_id(Uuid::from_bytes(id))
                                .with_partitions(partitions)
                        })
                        .collect(),
                )
            });
            ConsumerGroupHeartbeatResponse::default()
                .with_member_id(Some(str_bytes(&r.member_id)))
                .with_member_epoch(r.member_epoch)
                .with_heartbeat_interval_ms(r.heartbeat_interval_ms)
                .with_assignment(assignment)
        }
        Err(err) => group_failure(&err),
    }
}
