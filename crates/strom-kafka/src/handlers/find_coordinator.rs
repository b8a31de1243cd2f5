//! FindCoordinator (v0–v6): Strom is a single node, so it coordinates every group (and every
//! transactional id); v4+ answers each of a batch of keys (KIP-699). Needs Describe on the
//! group (GROUP_AUTHORIZATION_FAILED) or transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::ResponseError;

use super::auth::Access;
use super::common::{node_id, str_bytes};
use super::Context;
use strom_auth::Operation;

/// Key types: 0 = consumer group, 1 = transactional id, 2 = share group (KIP-932).
const MAX_KEY_TYPE: i8 = 1;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let node = node_id(&ctx.broker);
    let host = str_bytes(&ctx.config.advertised_host);
    let port = i32::from(ctx.config.advertised_port);
    let error = (request.key_type < 0 || request.key_type > MAX_KEY_TYPE)
        .then_some(ResponseError::InvalidRequest);
    let error_for = |key: &str| error.or_else(|| denied(access, request.key_type, key));
    if version < 4 {
        let mut response = FindCoordinatorResponse::default();
        match error_for(&request.key) {
            Some(error) => response.error_code = error.code(),
            None => {
                response.node_id = node;
                response.host = host;
                response.port = port;
            }
        }
        return response;
    }
    let coordinators = request
        .coordinator_keys
        .into_iter()
        .map(|key| {
            let error = error_for(&key);
            let coordinator = Coordinator::default().with_key(key);
            match error {
                Some(error) => coordinator
                    .with_node_id(kafka_protocol::messages::BrokerId(-1))
                    .with_port(-1)
                    .with_error_code(error.code()),
                None => coordinator
                    .with_node_id(node)
                    .with_host(host.clone())
                    .with_port(port),
            }
        })
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}

/// The authorization error for coordinator key `key` of type `key_type`, if denied.
fn denied(access: &Access, key_type: i8, key: &str) -> Option<ResponseError> {
    if key_type == 1 {
        (!access.transactional_id(Operation::Describe, key))
            .then_some(ResponseError::TransactionalIdAuthorizationFailed)
    } else {
        (!access.group(Operation::Describe, key)).then_some(ResponseError::GroupAuthorizationFailed)
    }
}
