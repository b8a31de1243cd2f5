//! Transaction administration (KIP-664): DescribeTransactions, ListTransactions and
//! DescribeProducers, as `kafka-transactions.sh` and admin clients use them.
//!
//! Authorization (Kafka's table): DescribeTransactions needs Describe on each transactional
//! id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); ListTransactions lists only the ids the caller
//! may Describe (silently filtered, as Kafka does); DescribeProducers needs Read on the topic
//! (TOPIC_AUTHORIZATION_FAILED).

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::list_transactions_response::TransactionState as Listed;
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId,
    TopicName, TransactionalId,
};
use kafka_protocol::ResponseError;
use strom_auth::Operation;
use strom_broker::txn::TxnMeta;

use super::auth::Access;
use super::common::str_bytes;
use super::Context;

const STATES: [&str; 6] = [
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
];

fn described(id: TransactionalId, meta: &TxnMeta) -> TransactionState {
    let mut topics: Vec<TopicData> = Vec::new();
    for (topic, partition) in &meta.partitions {
        match topics.last_mut() {
            Some(t) if t.topic.0.as_str() == topic => t.partitions.push(*partition),
            _ => topics.push(
                TopicData::default()
                    .with_topic(TopicName(str_bytes(topic)))
                    .with_partitions(vec![*partition]),
            ),
        }
    }
    TransactionState::default()
        .with_transactional_id(id)
        .with_transaction_state(str_bytes(meta.state.as_str()))
        .with_transaction_timeout_ms(meta.timeout_ms)
        .with_transaction_start_time_ms(meta.started_ms)
        .with_producer_id(ProducerId(meta.producer_id))
        .with_producer_epoch(meta.epoch)
        .with_topics(topics)
}

pub fn describe_transactions(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let coordinator = ctx.broker.transactions();
    let states = request
        .transactional_ids
        .into_iter()
        .map(|id| {
            let error = if !access.transactional_id(Operation::Describe, &id) {
                Some(ResponseError::TransactionalIdAuthorizationFailed)
            } else if coordinator.is_none() {
                Some(ResponseError::CoordinatorNotAvailable)
            } else {
                None
            };
            let meta = coordinator.as_ref().and_then(|c| c.describe(&id));
            match (error, meta) {
                (Some(err), _) => TransactionState::default()
                    .with_transactional_id(id)
                    .with_error_code(err.code()),
                (None, None) => TransactionState::default()
                    .with_transactional_id(id)
                    .with_error_code(ResponseError::TransactionalIdNotFound.code()),
                (None, Some(meta)) => described(id, &meta),
            }
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

pub fn list_transactions(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let Some(coordinator) = ctx.broker.transactions() else {
        return ListTransactionsResponse::default()
            .with_error_code(ResponseError::CoordinatorNotAvailable.code());
    };
    let unknown: Vec<_> = request
        .state_filters
        .iter()
        .filter(|s| !STATES.contains(&s.as_str()))
        .cloned()
        .collect();
    let now = strom_log::now_ms();
    let listed = coordinator
        .list()
        .into_iter()
        .filter(|t| {
            request.state_filters.is_empty()
                || request
                    .state_filters
                    .iter()
                    .any(|s| s.as_str() == t.meta.state.as_str())
        })
        .filter(|t| {
            request.producer_id_filters.is_empty()
                || request
                    .producer_id_filters
                    .contains(&ProducerId(t.meta.producer_id))
        })
        .filter(|t| {
            request.duration_filter < 0
                || (t.meta.started_ms >= 0
                    && now.saturating_sub(t.meta.started_ms) >= request.duration_filter)
        })
        .filter(|t| access.sees_transactional_id(&t.transactional_id))
        .map(|t| {
            Listed::default()
                .with_transactional_id(TransactionalId(str_bytes(&t.transactional_id)))
                .with_producer_id(ProducerId(t.meta.producer_id))
                .with_transaction_state(str_bytes(t.meta.state.as_str()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(listed)
}

pub fn describe_producers(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let allowed = access.topic(Operation::Read, &t.name);
            let partitions =
                t.partition_indexes
                    .iter()
                    .map(|&index| {
                        let response = PartitionResponse::default().with_partition_index(index);
                        if !allowed {
                            return response
                                .with_error_code(ResponseError::TopicAuthorizationFailed.code());
                        }
                        match ctx.broker.partition(&t.name, index) {
                            Err(_) => response
                                .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                            Ok(p) => response.with_active_producers(
                                p.producers()
                                    .into_iter()
                                    .map(|(pid, epoch, seq, txn_start)| {
                                        ProducerState::default()
                                            .with_producer_id(ProducerId(pid))
                                            .with_producer_epoch(i32::from(epoch))
                                            .with_last_sequence(seq)
                                            .with_last_timestamp(-1)
                                            .with_coordinator_epoch(0)
                                            .with_current_txn_start_offset(txn_start)
                                    })
                                    .collect(),
                            ),
                        }
                    })
                    .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
