//! Metadata: the one broker, and every requested topic with its partitions (all led by this
//! node). Auto-creates requested topics when both the client (v4+ flag) and the broker allow.
//! Needs Describe on each topic: a listing of all topics leaves out the others, a named one
//! answers TOPIC_AUTHORIZATION_FAILED (whether or not it exists); auto-creation needs Create
//! on the cluster or on the topic. KIP-430: when asked (v8+), each topic and (v8-10) the
//! cluster carry the operations this principal may perform, from the one Authorizer.

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
use kafka_protocol::ResponseError;
use strom_broker::{BrokerError, Topic};

use super::auth::Access;
use super::common::{node_id, str_bytes, topic_by_id, topic_name, topic_uuid, CLUSTER_ID};
use super::Context;
use crate::errors::response_error;
use strom_auth::{Operation, ResourceType, CLUSTER_NAME};

/// The operations Kafka reports for a topic resource (KIP-430).
const TOPIC_OPERATIONS: &[Operation] = &[
    Operation::Alter,
    Operation::AlterConfigs,
    Operation::Create,
    Operation::Delete,
    Operation::Describe,
    Operation::DescribeConfigs,
    Operation::Read,
    Operation::Write,
];

/// Strom never changes leaders, so every partition stays at leader epoch 0.
pub const LEADER_EPOCH: i32 = 0;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let broker = &ctx.broker;
    // Before v4 there was no flag and requesting a topic always allowed auto-creation.
    let auto_create = version < 4 || request.allow_auto_topic_creation;
    let topic_ops = version >= 8 && request.include_topic_authorized_operations;
    let cluster_ops = (8..=10).contains(&version) && request.include_cluster_authorized_operations;
    let mut topics = match request.topics {
        None => all_topics(ctx, access, version),
        // v0 had no null: an empty list meant "all topics".
        Some(list) if list.is_empty() && version == 0 => all_topics(ctx, access, version),
        Some(list) => list
            .into_iter()
            .map(|t| requested_topic(ctx, access, version, t, auto_create))
            .collect(),
    };
    if topic_ops {
        for t in topics.iter_mut().filter(|t| t.error_code == 0) {
            let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
            t.topic_authorized_operations =
                access.authorized_operations(ResourceType::Topic, &name, TOPIC_OPERATIONS);
        }
    }
    let mut response = MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(node_id(broker))
            .with_host(str_bytes(&ctx.config.advertised_host))
            .with_port(i32::from(ctx.config.advertised_port))])
        .with_topics(topics);
    if version >= 1 {
        response.controller_id = node_id(broker);
    }
    if version >= 2 {
        response.cluster_id = Some(str_bytes(CLUSTER_ID));
    }
    if cluster_ops {
        response.cluster_authorized_operations = access.authorized_operations(
            ResourceType::Cluster,
            CLUSTER_NAME,
            super::describe_cluster::CLUSTER_OPERATIONS,
        );
    }
    response
}

fn all_topics(ctx: &Context, access: &Access, version: i16) -> Vec<MetadataResponseTopic> {
    ctx.broker
        .topics()
        .iter()
        .filter(|t| access.sees_topic(t.name()))
        .map(|t| describe(ctx, version, t))
        .collect()
}

fn requested_topic(
    ctx: &Context,
    access: &Access,
    version: i16,
    requested: MetadataRequestTopic,
    auto_create: bool,
) -> MetadataResponseTopic {
    let Some(name) = requested.name else {
        // v10+: a topic asked for by id only.
        return match topic_by_id(&ctx.broker, requested.topic_id) {
            Some(topic) if !access.topic(Operation::Describe, topic.name()) => {
                MetadataResponseTopic::default()
                    .with_name(None)
                    .with_topic_id(requested.topic_id)
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code())
            }
            Some(topic) => describe(ctx, version, &topic),
            None => MetadataResponseTopic::default()
                .with_name(None)
                .with_topic_id(requested.topic_id)
                .with_error_code(ResponseError::UnknownTopicId.code()),
        };
    };
    let denied = |name| {
        MetadataResponseTopic::default()
            .with_name(Some(name))
            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
    };
    if !access.topic(Operation::Describe, &name) {
        return denied(name);
    }
    let creates = auto_create && ctx.broker.config().auto_create_topics;
    let found = if creates && ctx.broker.topic(&name).is_none() {
        if !access.may_create_topic(&name) {
            return denied(name);
        }
        ctx.broker.topic_or_create(&name)
    } else if auto_create {
        ctx.broker.topic_or_create(&name)
    } else {
        ctx.broker
            .topic(&name)
            .ok_or_else(|| BrokerError::UnknownTopic(name.to_string()))
    };
    match found {
        Ok(topic) => describe(ctx, version, &topic),
        Err(err) => {
            if !matches!(err, BrokerError::UnknownTopic(_)) {
                tracing::warn!(topic = %name.0, error = %err, "metadata: topic unavailable");
            }
            MetadataResponseTopic::default()
                .with_name(Some(name))
                .with_error_code(response_error(&err).code())
        }
    }
}

fn describe(ctx: &Context, version: i16, topic: &Topic) -> MetadataResponseTopic {
    let node = node_id(&ctx.broker);
    let partitions = (0..topic.partition_count())
        .map(|index| {
            let mut p = MetadataResponsePartition::default()
                .with_partition_index(index)
                .with_leader_id(node)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node]);
            if version >= 7 {
                p.leader_epoch = LEADER_EPOCH;
            }
            p
        })
        .collect();
    let mut t = MetadataResponseTopic::default()
        .with_name(Some(topic_name(topic.name())))
        .with_partitions(partitions);
    if version >= 10 {
        t.topic_id = topic_uuid(topic);
    }
    t
}
