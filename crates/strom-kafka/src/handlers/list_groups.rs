//! ListGroups (v0–v5), with the v4 state filter and the v5 type filter (KIP-848 group types:
//! every Strom group is a `classic` group). Lists every group with Describe on the cluster,
//! else only the groups the caller may Describe; never CLUSTER_AUTHORIZATION_FAILED.

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};
use strom_broker::group::GroupState;

use super::auth::Access;
use super::common::str_bytes;
use super::Context;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    // An unknown state in the filter matches nothing, rather than everything.
    let states: Vec<GroupState> = request
        .states_filter
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    if !request.states_filter.is_empty() && states.is_empty() {
        return ListGroupsResponse::default();
    }
    let wants_classic = request.types_filter.is_empty()
        || request
            .types_filter
            .iter()
            .any(|t| t.eq_ignore_ascii_case("classic"));
    if version >= 5 && !wants_classic {
        return ListGroupsResponse::default();
    }
    let groups = ctx
        .groups
        .list_groups(&states, &[])
        .into_iter()
        .filter(|g| access.sees_group(&g.group_id))
        .map(|g| {
            let listed = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(&g.group_id)))
                .with_protocol_type(str_bytes(&g.protocol_type));
            let listed = if version >= 4 {
                listed.with_group_state(str_bytes(g.state.as_str()))
            } else {
                listed
            };
            if version >= 5 {
                listed.with_group_type(str_bytes("classic"))
            } else {
                listed
            }
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
