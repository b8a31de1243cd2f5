//! DescribeGroups (v0–v5): state, protocol, members with their metadata and assignment.
//! Needs Describe on each group (GROUP_AUTHORIZATION_FAILED for that group). A KIP-848
//! consumer group answers GROUP_ID_NOT_FOUND, as Kafka does ("not a classic group"); clients
//! describe it with ConsumerGroupDescribe.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, GroupId};

use super::auth::Access;
use super::common::str_bytes;
use super::group_common::opt_str_bytes;
use super::Context;
use kafka_protocol::ResponseError;
use strom_auth::{Operation, ResourceType};

/// The operations Kafka reports for a group.
const GROUP_OPERATIONS: &[Operation] = &[Operation::Delete, Operation::Describe, Operation::Read];

/// `authorized_operations` when not requested (Kafka's INT32_MIN sentinel).
const OPERATIONS_OMITTED: i32 = i32::MIN;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let (ids, denied): (Vec<String>, Vec<String>) = request
        .groups
        .iter()
        .map(|g| g.to_string())
        .partition(|id| access.group(Operation::Describe, id));
    let mut described: Vec<DescribedGroup> = ctx
        .groups
        .describe_groups(&ids)
        .into_iter()
        .map(|g| {
            if ctx.groups.is_consumer_group(&g.group_id) {
                return DescribedGroup::default()
                    .with_group_id(GroupId(str_bytes(&g.group_id)))
                    .with_error_code(ResponseError::GroupIdNotFound.code());
            }
            let members = g
                .members
                .into_iter()
                .map(|m| {
                    let member = DescribedGroupMember::default()
                        .with_member_id(str_bytes(&m.member_id))
                        .with_client_id(str_bytes(&m.client_id))
                        .with_client_host(str_bytes(&m.client_host))
                        .with_member_metadata(m.metadata)
                        .with_member_assignment(m.assignment);
                    if version >= 4 {
                        member.with_group_instance_id(opt_str_bytes(&m.group_instance_id))
                    } else {
                        member
                    }
                })
                .collect();
            let described = DescribedGroup::default()
                .with_group_id(GroupId(str_bytes(&g.group_id)))
                .with_group_state(str_bytes(g.state.as_str()))
                .with_protocol_type(str_bytes(&g.protocol_type))
                .with_protocol_data(str_bytes(&g.protocol))
                .with_members(members);
            if version < 3 {
                described
            } else if request.include_authorized_operations {
                let ops = access.authorized_operations(
                    ResourceType::Group,
                    &g.group_id,
                    GROUP_OPERATIONS,
                );
                described.with_authorized_operations(ops)
            } else {
                described.with_authorized_operations(OPERATIONS_OMITTED)
            }
        })
        .collect();
    described.extend(denied.iter().map(|id| {
        let group = DescribedGroup::default()
            .with_group_id(GroupId(str_bytes(id)))
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
        if version >= 3 {
            group.with_authorized_operations(OPERATIONS_OMITTED)
        } else {
            group
        }
    }));
    // Answered in the order asked.
    let position = |id: &GroupId| request.groups.iter().position(|g| g == id);
    described.sort_by_key(|g| position(&g.group_id));
    DescribeGroupsResponse::default().with_groups(described)
}
