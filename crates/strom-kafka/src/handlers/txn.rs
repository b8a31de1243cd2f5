//! The transactional producer's APIs (KIP-98), over the broker's transaction coordinator:
//! AddPartitionsToTxn (v0-v3, the client path), AddOffsetsToTxn, TxnOffsetCommit, EndTxn.
//! InitProducerId is in `init_producer_id.rs`. All blocking (the coordinator fsyncs).
//!
//! Authorization (Kafka's table): every one needs Write on the transactional id
//! (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); AddPartitionsToTxn also Write on each topic
//! (TOPIC_AUTHORIZATION_FAILED for those, OPERATION_NOT_ATTEMPTED for the others);
//! AddOffsetsToTxn and TxnOffsetCommit Read on the group (GROUP_AUTHORIZATION_FAILED), and
//! TxnOffsetCommit Read on each topic.

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use kafka_protocol::ResponseError;
use strom_auth::Operation;
use strom_broker::txn::{PendingOffset, TxnCoordinator, TxnError};

use super::auth::Access;
use super::Context;
use crate::errors::txn_error;

/// The coordinator, or COORDINATOR_NOT_AVAILABLE when none runs (tests without one).
fn coordinator(ctx: &Context) -> Result<std::sync::Arc<TxnCoordinator>, ResponseError> {
    ctx.broker
        .transactions()
        .ok_or(ResponseError::CoordinatorNotAvailable)
}

fn code(result: Result<(), TxnError>) -> i16 {
    match result {
        Ok(()) => 0,
        Err(err) => {
            tracing::debug!(error = %err, "transaction request refused");
            txn_error(&err).code()
        }
    }
}

pub fn add_partitions(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let id = request.v3_and_below_transactional_id.0.to_string();
    let whole = if !access.transactional_id(Operation::Write, &id) {
        Some(ResponseError::TransactionalIdAuthorizationFailed)
    } else {
        coordinator(ctx).err()
    };
    let denied: Vec<bool> = request
        .v3_and_below_topics
        .iter()
        .map(|t| !access.topic(Operation::Write, &t.name))
        .collect();
    let any_denied = denied.iter().any(|d| *d);
    let partitions: Vec<(String, i32)> = request
        .v3_and_below_topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.0.to_string(), *p)))
        .collect();
    let outcome = match (whole, any_denied) {
        (Some(err), _) => err.code(),
        (None, true) => ResponseError::OperationNotAttempted.code(),
        (None, false) => match coordinator(ctx) {
            Ok(c) => code(c.add(
                &id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                &partitions,
                None,
            )),
            Err(err) => err.code(),
        },
    };
    let results = request
        .v3_and_below_topics
        .into_iter()
        .zip(denied)
        .map(|(t, denied)| {
            let error = if denied && whole.is_none() {
                ResponseError::TopicAuthorizationFailed.code()
            } else {
                outcome
            };
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name)
                .with_results_by_partition(
                    t.partitions
                        .into_iter()
                        .map(|p| {
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(p)
                                .with_partition_error_code(error)
                        })
                        .collect(),
                )
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

pub fn add_offsets(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let id = request.transactional_id.0.to_string();
    let error = if !access.transactional_id(Operation::Write, &id) {
        ResponseError::TransactionalIdAuthorizationFailed.code()
    } else if !access.group(Operation::Read, &request.group_id) {
        ResponseError::GroupAuthorizationFailed.code()
    } else {
        match coordinator(ctx) {
            Ok(c) => code(c.add(
                &id,
                request.producer_id.0,
                request.producer_epoch,
                &[],
                Some(&request.group_id),
            )),
            Err(err) => err.code(),
        }
    };
    AddOffsetsToTxnResponse::default().with_error_code(error)
}

pub fn offset_commit(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let id = request.transactional_id.0.to_string();
    let group = request.group_id.0.to_string();
    let whole = if !access.transactional_id(Operation::Write, &id) {
        Some(ResponseError::TransactionalIdAuthorizationFailed)
    } else if !access.group(Operation::Read, &group) {
        Some(ResponseError::GroupAuthorizationFailed)
    } else {
        coordinator(ctx).err()
    };
    let mut staged = Vec::new();
    let mut denied = Vec::new();
    for t in &request.topics {
        let ok = whole.is_none() && access.topic(Operation::Read, &t.name);
        denied.push(!ok);
        if ok {
            staged.extend(t.partitions.iter().map(|p| PendingOffset {
                group: group.clone(),
                topic: t.name.0.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
            }));
        }
    }
    let outcome = match (whole, coordinator(ctx)) {
        (Some(err), _) => err.code(),
        (None, Err(err)) => err.code(),
        (None, Ok(c)) => {
            code(c.stage_offsets(&id, request.producer_id.0, request.producer_epoch, staged))
        }
    };
    let topics = request
        .topics
        .into_iter()
        .zip(denied)
        .map(|(t, denied)| {
            let error = if denied && whole.is_none() {
                ResponseError::TopicAuthorizationFailed.code()
            } else {
                outcome
            };
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(
                    t.partitions
                        .into_iter()
                        .map(|p| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(error)
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

pub fn end(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: EndTxnRequest,
) -> EndTxnResponse {
    let id = request.transactional_id.0.to_string();
    let error = if !access.transactional_id(Operation::Write, &id) {
        ResponseError::TransactionalIdAuthorizationFailed.code()
    } else {
        match coordinator(ctx) {
            Ok(c) => code(c.end(
                &id,
                request.producer_id.0,
                request.producer_epoch,
                request.committed,
            )),
            Err(err) => err.code(),
        }
    };
    EndTxnResponse::default().with_error_code(error)
}
