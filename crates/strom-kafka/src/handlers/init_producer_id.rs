//! InitProducerId: hands idempotent producers a fresh producer id at epoch 0.
//!
//! Transactions are not supported yet, so a request with a transactional id is refused with
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED: a non-retriable error that makes a transactional
//! producer fail fast with a clear message instead of retrying forever. An idempotent
//! producer needs IdempotentWrite on the cluster or Write on any topic (Kafka 3.0+), else
//! CLUSTER_AUTHORIZATION_FAILED; a transactional one Write on its transactional id.

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
        // Denied or not, the answer is the same code; the check writes the audit line.
        access.transactional_id(Operation::Write, id);
        tracing::info!(transactional_id = %id.0, "refusing transactional producer: transactions are not supported");
        return response.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
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
