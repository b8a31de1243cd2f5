//! SyncGroup (v0–v5): the leader hands in the assignment; every member waits for its share.
//! Needs Read on the group.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use strom_broker::group;

use super::auth::Access;
use super::group_common::{opt_str_bytes, opt_string};
use super::Context;
use strom_auth::Operation;

pub async fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    if !access.group(Operation::Read, &request.group_id) {
        let mut response = SyncGroupResponse::default()
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code());
        if version >= 5 {
            response.protocol_type = None;
            response.protocol_name = None;
        }
        return response;
    }
    let sync = group::SyncGroupRequest {
        group_id: request.group_id.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: if version >= 3 {
            opt_string(&request.group_instance_id)
        } else {
            None
        },
        protocol_type: if version >= 5 {
            opt_string(&request.protocol_type)
        } else {
            None
        },
        protocol_name: if version >= 5 {
            opt_string(&request.protocol_name)
        } else {
            None
        },
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let mut response = SyncGroupResponse::default();
    match ctx.groups.sync_group(sync).await {
        Ok(synced) => {
            response.assignment = synced.assignment;
            if version >= 5 {
                response.protocol_type = opt_str_bytes(&synced.protocol_type);
                response.protocol_name = opt_str_bytes(&synced.protocol_name);
            }
        }
        Err(err) => response.error_code = crate::errors::group_error_code(&err),
    }
    response
}
