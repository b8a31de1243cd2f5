//! InitProducerId: hands idempotent producers a fresh producer id at epoch 0, and
//! transactional producers their id's producer id at a bumped epoch through the transaction
//! coordinator (fencing older instances; KIP-360 bumps when the request names its current
//! producer id and epoch). An idempotent producer needs IdempotentWrite on the cluster or
//! Write on any topic (Kafka 3.0+), else CLUSTER_AUTHORIZATION_FAILED; a transactional one
//! Write on its transactional id, else TRANSACTIONAL_ID_AUTHORIZATION_FAILED.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::auth::Access;
use super::Context;
use crate::errors::response_error;
use strom_auth::Operation;

pub fn handle(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    // Kafka treats a null transactional id as idempotent-only; an empty one carries no more
    // meaning, so it gets the same answer instead of an error.
    if let Some(id) = request
        .transactional_id
        .as_ref()
        .filter(|id| !id.is_empty())
    {
        if !access.transactional_id(Operation::Write, id) {
            return response
                .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
        }
        let Some(coordinator) = ctx.broker.transactions() else {
            return response.with_error_code(ResponseError::CoordinatorNotAvailable.code());
        };
        let given = (request.producer_id.0, request.producer_epoch);
        return match coordinator.init_producer_id(id, request.transaction_timeout_ms, given) {
            Ok((pid, epoch)) => response
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch),
            Err(err) => {
                tracing::debug!(transactional_id = %id.0, error = %err, "InitProducerId refused");
                response.with_error_code(crate::errors::txn_error(&err).code())
            }
        };
    }
    if !access.may_write_idempotently() {
        return response.with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    match ctx.broker.allocate_producer_id() {
        Ok(id) => response
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(err) => {
            tracing::error!(error = %err, "cannot allocate a producer id");
            response.with_error_code(response_error(&err).code())
        }
    }
}
