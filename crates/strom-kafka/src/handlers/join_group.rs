//! JoinGroup (v0–v9): waits, like Kafka, until the rebalance the member takes part in has
//! completed; the coordinator parks the request and this handler just awaits it. Needs Read
//! on the group.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use strom_broker::group::{self, GroupProtocol};
use strom_broker::GroupError;

use super::auth::Access;
use super::common::str_bytes;
use super::group_common::{opt_str_bytes, opt_string};
use super::Context;
use strom_auth::Operation;

fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

pub async fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    client_id: &str,
    peer: SocketAddr,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    if !access.group(Operation::Read, &request.group_id) {
        let mut response = JoinGroupResponse::default()
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code())
            .with_generation_id(-1)
            .with_member_id(request.member_id);
        if version < 7 {
            response.protocol_name = Some(str_bytes(""));
        }
        return response;
    }
    let join = group::JoinGroupRequest {
        group_id: request.group_id.to_string(),
        member_id: request.member_id.to_string(),
        group_instance_id: if version >= 5 {
            opt_string(&request.group_instance_id)
        } else {
            None
        },
        client_id: client_id.to_string(),
        // Kafka's format, which its tools print as the member's host.
        client_host: format!("/{}", peer.ip()),
        session_timeout: millis(request.session_timeout_ms),
        // v0 has no rebalance timeout; Kafka uses the session timeout.
        rebalance_timeout: millis(if version >= 1 {
            request.rebalance_timeout_ms
        } else {
            request.session_timeout_ms
        }),
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| GroupProtocol {
                name: p.name.to_string(),
                metadata: p.metadata,
            })
            .collect(),
        // KIP-394: from v4 a new member first learns its id from MEMBER_ID_REQUIRED.
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    let mut response = JoinGroupResponse::default();
    match ctx.groups.join_group(join).await {
        Ok(joined) => {
            response.generation_id = joined.generation_id;
            response.leader = str_bytes(&joined.leader_id);
            response.member_id = str_bytes(&joined.member_id);
            if version >= 9 {
                response.skip_assignment = joined.skip_assignment;
            }
            if version >= 7 {
                response.protocol_type = opt_str_bytes(&joined.protocol_type);
                response.protocol_name = opt_str_bytes(&joined.protocol_name);
            } else {
                // Before v7 the protocol name is not nullable.
                response.protocol_name = Some(str_bytes(
                    joined.protocol_name.as_deref().unwrap_or_default(),
                ));
            }
            response.members = joined
                .members
                .into_iter()
                .map(|m| {
                    let member = JoinGroupResponseMember::default()
                        .with_member_id(str_bytes(&m.member_id))
                        .with_metadata(m.metadata);
                    if version >= 5 {
                        member.with_group_instance_id(opt_str_bytes(&m.group_instance_id))
                    } else {
                        member
                    }
                })
                .collect();
        }
        Err(err) => {
            response.error_code = crate::errors::group_error_code(&err);
            response.generation_id = -1;
            // The member id goes back with MEMBER_ID_REQUIRED (it is the point of the error),
            // and otherwise echoes the request's.
            response.member_id = match &err {
                GroupError::MemberIdRequired { member_id } => str_bytes(member_id),
                _ => request.member_id,
            };
            if version < 7 {
                response.protocol_name = Some(str_bytes(""));
            }
        }
    }
    response
}
