//! LeaveGroup (v0–v5): v0–v2 name one member; v3+ a batch, static members by instance id.
//! Needs Read on the group.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};
use strom_broker::group::LeavingMember;

use super::auth::Access;
use super::common::str_bytes;
use super::group_common::{code, opt_str_bytes, opt_string};
use super::Context;
use strom_auth::Operation;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    if !access.group(Operation::Read, &request.group_id) {
        return LeaveGroupResponse::default()
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code());
    }
    let leaving: Vec<LeavingMember> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.to_string(),
                group_instance_id: opt_string(&m.group_instance_id),
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: request.member_id.to_string(),
            group_instance_id: None,
        }]
    };
    let mut response = LeaveGroupResponse::default();
    match ctx.groups.leave_group(&request.group_id, &leaving) {
        Err(err) => response.error_code = crate::errors::group_error_code(&err),
        Ok(results) if version >= 3 => {
            response.members = results
                .into_iter()
                .map(|r| {
                    MemberResponse::default()
                        .with_member_id(str_bytes(&r.member_id))
                        .with_group_instance_id(opt_str_bytes(&r.group_instance_id))
                        .with_error_code(code(&r.error))
                })
                .collect();
        }
        // A single member's error is the request's error before v3.
        Ok(results) => response.error_code = results.first().map_or(0, |r| code(&r.error)),
    }
    response
}
