//! ConsumerGroupDescribe (v0–v1, KIP-848): a consumer group's epochs, assignor and members
//! with their current and target assignments. Needs Describe on each group
//! (GROUP_AUTHORIZATION_FAILED) and Describe on the topics its members subscribe to or are
//! assigned (else TOPIC_AUTHORIZATION_FAILED for the group, as Kafka). A classic or unknown
//! group answers GROUP_ID_NOT_FOUND, on which clients fall back to DescribeGroups.

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, GroupId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_auth::{Operation, ResourceType};
use strom_broker::group::consumer::{ConsumerGroupDescription, ConsumerMemberDescription};
use uuid::Uuid;

use super::auth::Access;
use super::common::str_bytes;
use super::group_common::opt_str_bytes;
use super::Context;

/// The operations Kafka reports for a group.
const GROUP_OPERATIONS: &[Operation] = &[Operation::Delete, Operation::Describe, Operation::Read];

/// `authorized_operations` when not requested (Kafka's INT32_MIN sentinel).
const OPERATIONS_OMITTED: i32 = i32::MIN;

/// KIP-1099's member type: 1 for a member using the consumer protocol.
const CONSUMER_MEMBER: i8 = 1;

fn assignment(parts: &[([u8; 16], String, Vec<i32>)]) -> Assignment {
    Assignment::default().with_topic_partitions(
        parts
            .iter()
            .map(|(id, name, partitions)| {
                TopicPartitions::default()
                    .with_topic_id(Uuid::from_bytes(*id))
                    .with_topic_name(TopicName(str_bytes(name)))
                    .with_partitions(partitions.clone())
            })
            .collect(),
    )
}

fn member(version: i16, m: &ConsumerMemberDescription) -> Member {
    let member = Member::default()
        .with_member_id(str_bytes(&m.member_id))
        .with_instance_id(opt_str_bytes(&m.instance_id))
        .with_rack_id(opt_str_bytes(&m.rack_id))
        .with_member_epoch(m.member_epoch)
        .with_client_id(str_bytes(&m.client_id))
        .with_client_host(str_bytes(&m.client_host))
        .with_subscribed_topic_names(
            m.subscribed_topic_names
                .iter()
                .map(|t| TopicName(str_bytes(t)))
                .collect(),
        )
        .with_subscribed_topic_regex(opt_str_bytes(&m.subscribed_topic_regex))
        .with_assignment(assignment(&m.assignment))
        .with_target_assignment(assignment(&m.target_assignment));
    if version >= 1 {
        member.with_member_type(CONSUMER_MEMBER)
    } else {
        member
    }
}

/// Whether the caller may Describe every topic the group's members use.
fn sees_topics(access: &Access, g: &ConsumerGroupDescription) -> bool {
    g.members.iter().all(|m| {
        m.subscribed_topic_names
            .iter()
            .all(|t| access.sees_topic(t))
            && m.assignment.iter().all(|(_, t, _)| access.sees_topic(t))
            && m.target_assignment
                .iter()
                .all(|(_, t, _)| access.sees_topic(t))
    })
}

fn describe_one(
    ctx: &Context,
    access: &Access,
    version: i16,
    id: &str,
    with_operations: bool,
) -> DescribedGroup {
    let base = DescribedGroup::default()
        .with_group_id(GroupId(str_bytes(id)))
        .with_authorized_operations(OPERATIONS_OMITTED);
    if !access.group(Operation::Describe, id) {
        return base.with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let g = match ctx.groups.describe_consumer_group(id) {
        Ok(g) => g,
        Err(err) => {
            return base
                .with_error_code(err.kafka_error().code())
                .with_error_message(Some(StrBytes::from_string(format!(
                    "Group {id} is not a consumer group."
                ))))
        }
    };
    if !sees_topics(access, &g) {
        return base.with_error_code(ResponseError::TopicAuthorizationFailed.code());
    }
    let operations = if with_operations {
        access.authorized_operations(ResourceType::Group, id, GROUP_OPERATIONS)
    } else {
        OPERATIONS_OMITTED
    };
    base.with_group_state(str_bytes(g.state))
        .with_group_epoch(g.group_epoch)
        .with_assignment_epoch(g.assignment_epoch)
        .with_assignor_name(str_bytes(&g.assignor))
        .with_members(g.members.iter().map(|m| member(version, m)).collect())
        .with_authorized_operations(operations)
}

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let groups = request
        .group_ids
        .iter()
        .map(|id| {
            describe_one(
                ctx,
                access,
                version,
                id,
                request.include_authorized_operations,
            )
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}
