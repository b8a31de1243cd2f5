//! Heartbeat (v0–v4): keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.
//! Needs Read on the group.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};
use strom_broker::group;

use super::auth::Access;
use super::group_common::opt_string;
use super::Context;
use strom_auth::Operation;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    if !access.group(Operation::Read, &request.group_id) {
        return HeartbeatResponse::default()
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code());
    }
    let result = ctx.groups.heartbeat(group::HeartbeatRequest {
        group_id: request.group_id.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: if version >= 3 {
            opt_string(&request.group_instance_id)
        } else {
            None
        },
    });
    HeartbeatResponse::default().with_error_code(
        result
            .err()
            .as_ref()
            .map_or(0, crate::errors::group_error_code),
    )
}
