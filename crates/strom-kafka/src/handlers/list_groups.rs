//! ListGroups (v0–v5), with the v4 state filter and the v5 type filter (KIP-848 group types:
//! `consumer` for groups of the new protocol, else `classic`). Lists every group with Describe on the cluster,
//! else only the groups the caller may Describe; never CLUSTER_AUTHORIZATION_FAILED.

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::auth::Access;
use super::common::str_bytes;
use super::Context;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    // States are matched by name, case-insensitively (a consumer group may be Assigning or
    // Reconciling, which classic groups never are); an unknown state matches nothing.
    let states: Vec<String> = request
        .states_filter
        .iter()
        .map(|s| s.to_string())
        .collect();
    let types: Vec<String> = if version >= 5 {
        request.types_filter.iter().map(|t| t.to_string()).collect()
    } else {
        Vec::new()
    };
    let groups = ctx
        .groups
        .list_groups(&[], &[])
        .into_iter()
        .filter(|g| {
            states.is_empty() || states.iter().any(|s| s.eq_ignore_ascii_case(g.state_name))
        })
        .filter(|g| types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(g.group_type)))
        .filter(|g| access.sees_group(&g.group_id))
        .map(|g| {
            let listed = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(&g.group_id)))
                .with_protocol_type(str_bytes(&g.protocol_type));
            let listed = if version >= 4 {
                listed.with_group_state(str_bytes(g.state_name))
            } else {
                listed
            };
            if version >= 5 {
                listed.with_group_type(str_bytes(g.group_type))
            } else {
                listed
            }
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
