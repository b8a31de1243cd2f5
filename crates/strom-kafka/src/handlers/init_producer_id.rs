//! InitProducerId: hands idempotent producers a fresh producer id at epoch 0.
//!
//! Transactions are not supported yet, so a request with a transactional id is refused with
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED: a non-retriable error that makes a transactional
//! producer fail fast with a clear message instead of retrying forever.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::Context;
use crate::errors::response_error;

pub fn handle(
    ctx: &Context,
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
        tracing::info!(transactional_id = %id.0, "refusing transactional producer: transactions are not supported");
        return response.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
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
