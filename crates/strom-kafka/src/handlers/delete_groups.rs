//! DeleteGroups (v0–v2): deletes groups without members, with their committed offsets.
//! Needs Delete on each group (GROUP_AUTHORIZATION_FAILED for that group).

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, GroupId};

use super::auth::Access;
use super::common::str_bytes;
use super::group_common::code;
use super::Context;
use kafka_protocol::ResponseError;
use strom_auth::Operation;

pub async fn handle(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let (ids, denied): (Vec<String>, Vec<String>) = request
        .groups_names
        .iter()
        .map(|g| g.to_string())
        .partition(|id| access.group(Operation::Delete, id));
    let mut results: Vec<DeletableGroupResult> = ctx
        .groups
        .delete_groups(&ids)
        .await
        .into_iter()
        .map(|(id, error)| {
            DeletableGroupResult::default()
                .with_group_id(GroupId(str_bytes(&id)))
                .with_error_code(code(&error))
        })
        .collect();
    results.extend(denied.iter().map(|id| {
        DeletableGroupResult::default()
            .with_group_id(GroupId(str_bytes(id)))
            .with_error_code(ResponseError::GroupAuthorizationFailed.code())
    }));
    let position = |id: &GroupId| request.groups_names.iter().position(|g| g == id);
    results.sort_by_key(|r| position(&r.group_id));
    DeleteGroupsResponse::default().with_results(results)
}
