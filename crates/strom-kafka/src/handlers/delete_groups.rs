//! DeleteGroups (v0–v2): deletes groups without members, with their committed offsets.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, GroupId};

use super::common::str_bytes;
use super::group_common::code;
use super::Context;

pub async fn handle(
    ctx: &Context,
    _version: i16,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let ids: Vec<String> = request.groups_names.iter().map(|g| g.to_string()).collect();
    let results = ctx
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
    DeleteGroupsResponse::default().with_results(results)
}
