//! Produce: appends each partition's record batch exactly as received (compressed or not)
//! through `Partition::append_batch`, which validates it, stamps the base offset and applies
//! the idempotent-producer sequence checks.
//!
//! acks: 0 gets no response at all (the protocol says so); 1 and -1 are answered after the
//! append returns. Strom is a single replica, so the in-sync set is always just this node and
//! -1 is satisfied exactly when 1 is; how durable an acknowledged append is follows the
//! broker's fsync policy. `timeout_ms` (the replication wait) has nothing to wait for.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_broker::{BrokerError, Partition};
use strom_schema::validate::TopicValidation;

use super::auth::Access;
use super::{blocking, Context};
use crate::errors::response_error;
use strom_auth::Operation;

/// Offset of the `batchLength` field and the size of the fixed v2 batch header
/// (Kafka protocol guide, "Record Batch").
const BATCH_LENGTH_END: usize = 12;
const BATCH_HEADER_LEN: usize = 61;
const MAGIC_OFFSET: usize = 16;

/// A refusal: the code, the message and the refused records (KIP-467).
type Refusal = (ResponseError, String, Vec<BatchIndexAndErrorMessage>);

/// A topic's schema validation and the registry it checks against.
type Validation = Option<(Arc<strom_schema::Registry>, TopicValidation)>;

struct PartitionWork {
    index: i32,
    target: Result<(Arc<Partition>, Bytes), Refusal>,
    validation: Validation,
}

struct PartitionOutcome {
    index: i32,
    result: Result<(i64, i64, i64), Refusal>,
}

fn refusal((code, message): (ResponseError, String)) -> Refusal {
    (code, message, Vec::new())
}

/// Errors: a blocking append panicked.
pub async fn handle(
    ctx: &Arc<Context>,
    access: &Access,
    version: i16,
    request: ProduceRequest,
) -> anyhow::Result<Option<ProduceResponse>> {
    let acks = request.acks;
    let acks_valid = (-1..=1).contains(&acks);
    // Kafka checks the transactional id first and refuses the whole request.
    let transaction_denied = request
        .transactional_id
        .as_ref()
        .filter(|id| !id.is_empty())
        .is_some_and(|id| !access.transactional_id(Operation::Write, id));
    let mut work: Vec<(TopicName, Vec<PartitionWork>)> = Vec::new();
    for topic in request.topic_data {
        let denied = transaction_denied || !access.topic(Operation::Write, &topic.name);
        let found = ctx.broker.topic(&topic.name);
        let validation: Validation = match (&ctx.config.schemas, &found) {
            (Some(registry), Some(t)) => {
                TopicValidation::of(&topic.name, &t.config()).map(|v| (Arc::clone(registry), v))
            }
            _ => None,
        };
        let partitions = topic
            .partition_data
            .into_iter()
            .map(|p| {
                let target = if !acks_valid {
                    Err(refusal((
                        ResponseError::InvalidRequiredAcks,
                        format!("acks must be 0, 1 or -1, not {acks}"),
                    )))
                } else if transaction_denied {
                    Err(refusal((
                        ResponseError::TransactionalIdAuthorizationFailed,
                        super::auth::DENIED.to_string(),
                    )))
                } else if denied {
                    Err(refusal((
                        ResponseError::TopicAuthorizationFailed,
                        super::auth::DENIED.to_string(),
                    )))
                } else {
                    resolve(found.as_deref(), &topic.name, p.index, p.records)
                        .and_then(|t| enough_replicas(found.as_deref(), acks).map(|()| t))
                        .map_err(refusal)
                };
                PartitionWork {
                    index: p.index,
                    target,
                    validation: validation.clone(),
                }
            })
            .collect();
        work.push((topic.name, partitions));
    }

    let gate = TxnGate {
        id: request
            .transactional_id
            .as_ref()
            .map(|id| id.0.to_string())
            .filter(|id| !id.is_empty()),
        coordinator: ctx.broker.transactions(),
    };
    let outcomes = blocking(ctx, move |_| {
        work.into_iter()
            .map(|(name, partitions)| {
                let outcomes: Vec<PartitionOutcome> =
                    partitions.into_iter().map(|w| append(w, &gate)).collect();
                (name, outcomes)
            })
            .collect::<Vec<_>>()
    })
    .await?;

    if acks == 0 {
        for (name, partitions) in &outcomes {
            for p in partitions {
                if let Err((code, reason, _)) = &p.result {
                    tracing::warn!(topic = %name.0, partition = p.index, error = ?code, %reason,
                        "acks=0 produce failed; the protocol gives no way to tell the client");
                }
            }
        }
        return Ok(None);
    }

    let responses = outcomes
        .into_iter()
        .map(|(name, partitions)| {
            let partition_responses = partitions
                .into_iter()
                .map(|p| partition_response(version, p))
                .collect();
            TopicProduceResponse::default()
                .with_name(name)
                .with_partition_responses(partition_responses)
        })
        .collect();
    Ok(Some(ProduceResponse::default().with_responses(responses)))
}

fn resolve(
    topic: Option<&strom_broker::Topic>,
    name: &TopicName,
    index: i32,
    records: Option<Bytes>,
) -> Result<(Arc<Partition>, Bytes), (ResponseError, String)> {
    let unknown = || {
        (
            ResponseError::UnknownTopicOrPartition,
            format!("unknown topic-partition {}-{index}", name.0),
        )
    };
    let partition = topic
        .ok_or_else(unknown)?
        .partition(index)
        .ok_or_else(unknown)?;
    let records = records.ok_or((ResponseError::InvalidRecord, "null record set".to_string()))?;
    check_single_batch(&records)?;
    Ok((partition, records))
}

/// `min.insync.replicas` with Kafka's semantics: an acks=all write needs that many in-sync
/// replicas, and a single node has one, so it fails with NOT_ENOUGH_REPLICAS while the
/// topic asks for more (acks 0 and 1 are not affected).
fn enough_replicas(
    topic: Option<&strom_broker::Topic>,
    acks: i16,
) -> Result<(), (ResponseError, String)> {
    let required = topic.map_or(1, |t| t.config().min_insync_replicas());
    if acks == -1 && required > 1 {
        return Err((
            ResponseError::NotEnoughReplicas,
            format!(
                "the in-sync replica set has 1 replica, fewer than min.insync.replicas ({required})"
            ),
        ));
    }
    Ok(())
}

/// Produce v3+ carries exactly one v2 record batch per partition (as Kafka enforces); the
/// log validates everything inside the batch.
fn check_single_batch(records: &[u8]) -> Result<(), (ResponseError, String)> {
    if records.len() < BATCH_HEADER_LEN {
        return Err((
            ResponseError::CorruptMessage,
            format!(
                "{} bytes is shorter than a record batch header",
                records.len()
            ),
        ));
    }
    if records[MAGIC_OFFSET] != 2 {
        return Err((
            ResponseError::UnsupportedForMessageFormat,
            format!(
                "record batch magic {} (only v2 is stored)",
                records[MAGIC_OFFSET]
            ),
        ));
    }
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&records[8..BATCH_LENGTH_END]);
    let batch_length = i64::from(i32::from_be_bytes(len_bytes));
    if batch_length + BATCH_LENGTH_END as i64 != records.len() as i64 {
        return Err((
            ResponseError::InvalidRecord,
            "a produce request must carry exactly one record batch per partition".to_string(),
        ));
    }
    Ok(())
}

/// The request's transactional id and the coordinator that verifies its writes.
struct TxnGate {
    id: Option<String>,
    coordinator: Option<Arc<strom_broker::txn::TxnCoordinator>>,
}

/// Appends a batch; a transactional one only to a partition of the producer's ongoing
/// transaction (KIP-890), checked under the transaction's lock. The outer error is a
/// refusal by the coordinator, the inner result the append's.
fn append_gated(
    partition: &Partition,
    batch: &mut [u8],
    gate: &TxnGate,
) -> Result<Result<strom_broker::AppendResult, BrokerError>, (ResponseError, String)> {
    let header =
        strom_log::BatchHeader::parse(batch).filter(strom_broker::partition_txn::is_transactional);
    let Some(h) = header else {
        return Ok(partition.append_batch(batch));
    };
    let (Some(id), Some(coordinator)) = (&gate.id, &gate.coordinator) else {
        return Err((
            ResponseError::InvalidTxnState,
            "a transactional batch needs the producer's transactional id".to_string(),
        ));
    };
    coordinator
        .with_verified_write(
            id,
            h.producer_id,
            h.producer_epoch,
            partition.topic(),
            partition.index(),
            || partition.append_batch(batch),
        )
        .map_err(|err| match err {
            strom_broker::txn::TxnError::ProducerFenced => (
                ResponseError::InvalidProducerEpoch,
                "the producer epoch is stale: a newer producer took over".to_string(),
            ),
            err => (crate::errors::txn_error(&err), err.to_string()),
        })
}

/// Blocking: checks the records' schema ids when the topic asks for it. Errors:
/// `INVALID_RECORD` with the first reason, and every refused record.
fn validate(validation: &Validation, partition: &Partition, records: &[u8]) -> Result<(), Refusal> {
    let Some((registry, checks)) = validation else {
        return Ok(());
    };
    let limits = partition.log().config().decode;
    checks
        .check_batches(registry, records, limits)
        .map_err(|refused| {
            let first = refused.first().map(|(_, r)| r.clone()).unwrap_or_default();
            let message = format!(
                "{} record(s) refused by schema validation: {first}",
                refused.len()
            );
            let records = refused
                .into_iter()
                .filter(|(index, _)| *index >= 0)
                .map(|(index, why)| {
                    BatchIndexAndErrorMessage::default()
                        .with_batch_index(index)
                        .with_batch_index_error_message(Some(StrBytes::from_string(why)))
                })
                .collect();
            (ResponseError::InvalidRecord, message, records)
        })
}

/// Blocking: appends one partition's batch.
fn append(work: PartitionWork, gate: &TxnGate) -> PartitionOutcome {
    if let Ok((partition, records)) = &work.target {
        if let Err(refused) = validate(&work.validation, partition, records) {
            return PartitionOutcome {
                index: work.index,
                result: Err(refused),
            };
        }
    }
    let result = work.target.and_then(|(partition, records)| {
        // The broker stamps the base offset into the batch, so it needs its own copy.
        let mut batch = records.to_vec();
        match append_gated(&partition, &mut batch, gate)
            .map_err(|(code, message)| (code, message, Vec::new()))?
        {
            Ok(r) => Ok((r.base_offset, r.log_append_time, r.log_start_offset)),
            // A retry of a batch already written: success with the original offset, which is
            // what makes the idempotent producer exactly-once across reconnects.
            Err(BrokerError::DuplicateSequence { base_offset }) => {
                tracing::debug!(
                    topic = partition.topic(),
                    partition = partition.index(),
                    base_offset,
                    "retried batch already written; acknowledging its original offset"
                );
                Ok((base_offset, -1, partition.log_start_offset()))
            }
            Err(err) => {
                let code = response_error(&err);
                if code == ResponseError::KafkaStorageError {
                    tracing::error!(topic = partition.topic(), partition = partition.index(),
                        error = %err, "append failed");
                } else {
                    tracing::debug!(topic = partition.topic(), partition = partition.index(),
                        error = %err, "append refused");
                }
                let records = match &err {
                    BrokerError::RecordErrors { records, .. } => records
                        .iter()
                        .map(|r| {
                            BatchIndexAndErrorMessage::default()
                                .with_batch_index(r.batch_index)
                                .with_batch_index_error_message(Some(StrBytes::from_string(
                                    r.message.clone(),
                                )))
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                Err((code, crate::errors::error_message(&err), records))
            }
        }
    });
    PartitionOutcome {
        index: work.index,
        result,
    }
}

fn partition_response(version: i16, outcome: PartitionOutcome) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default().with_index(outcome.index);
    match outcome.result {
        Ok((base_offset, log_append_time, log_start_offset)) => response
            .with_base_offset(base_offset)
            .with_log_append_time_ms(log_append_time)
            .with_log_start_offset(log_start_offset),
        Err((code, reason, records)) => {
            let mut r = response.with_error_code(code.code()).with_base_offset(-1);
            if version >= 8 {
                r.error_message = Some(StrBytes::from_string(reason));
                r.record_errors = records;
            }
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(len: usize, magic: u8) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[8..12].copy_from_slice(&((len - 12) as i32).to_be_bytes());
        b[MAGIC_OFFSET] = magic;
        b
    }

    #[test]
    fn exactly_one_v2_batch_per_partition() {
        assert!(check_single_batch(&batch(70, 2)).is_ok());
        assert_eq!(
            check_single_batch(&batch(70, 1)).map_err(|e| e.0),
            Err(ResponseError::UnsupportedForMessageFormat)
        );
        let mut two = batch(70, 2);
        two.extend_from_slice(&batch(70, 2));
        assert_eq!(
            check_single_batch(&two).map_err(|e| e.0),
            Err(ResponseError::InvalidRecord)
        );
        assert_eq!(
            check_single_batch(&[0u8; 20]).map_err(|e| e.0),
            Err(ResponseError::CorruptMessage)
        );
    }
}
