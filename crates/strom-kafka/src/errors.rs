//! The one mapping from broker and log errors to Kafka error codes. Handlers never pick a
//! code for a broker error themselves, so every API answers the same failure the same way.

use kafka_protocol::ResponseError;
use strom_broker::{BrokerError, ClientOperation};
use strom_log::LogError;

/// The Kafka error for a broker error.
pub fn response_error(err: &BrokerError) -> ResponseError {
    match err {
        BrokerError::UnknownTopic(_) | BrokerError::UnknownPartition { .. } => {
            ResponseError::UnknownTopicOrPartition
        }
        BrokerError::TopicExists(_) => ResponseError::TopicAlreadyExists,
        BrokerError::InvalidTopicName { .. } => ResponseError::InvalidTopicException,
        BrokerError::InvalidPartitions(_) => ResponseError::InvalidPartitions,
        BrokerError::InvalidConfig(_) => ResponseError::InvalidConfig,
        BrokerError::InvalidRecord(_) => ResponseError::InvalidRecord,
        BrokerError::RecordErrors { kind, .. } => match kind {
            strom_broker::RecordErrorKind::InvalidRecord => ResponseError::InvalidRecord,
            strom_broker::RecordErrorKind::InvalidTimestamp => ResponseError::InvalidTimestamp,
        },
        BrokerError::DuplicateSequence { .. } => ResponseError::DuplicateSequenceNumber,
        BrokerError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        BrokerError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        BrokerError::UnknownProducerId(_) => ResponseError::UnknownProducerId,
        BrokerError::InternalTopic { operation, .. } => internal_topic_error(*operation),
        // Retriable: clients refresh metadata and retry, which succeeds once we are back.
        BrokerError::ShuttingDown => ResponseError::NotLeaderOrFollower,
        BrokerError::Log(log) => log_error(log),
        // Retriable, and true: the write succeeds once space is freed or the disk is writable.
        BrokerError::Io { .. }
        | BrokerError::InsufficientSpace { .. }
        | BrokerError::ReadOnlyStorage
        | BrokerError::RemoteStorage => ResponseError::KafkaStorageError,
    }
}

/// The Kafka error for a refused transaction request.
pub fn txn_error(err: &strom_broker::txn::TxnError) -> ResponseError {
    use strom_broker::txn::TxnError;
    match err {
        TxnError::ProducerFenced => ResponseError::ProducerFenced,
        TxnError::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping,
        TxnError::InvalidTxnState | TxnError::PartitionNotInTransaction => {
            ResponseError::InvalidTxnState
        }
        TxnError::ConcurrentTransactions => ResponseError::ConcurrentTransactions,
        TxnError::InvalidTimeout(_) => ResponseError::InvalidTransactionTimeout,
        TxnError::UnknownTopicOrPartition => ResponseError::UnknownTopicOrPartition,
        TxnError::Storage(_) => ResponseError::CoordinatorNotAvailable,
    }
}

/// The Kafka error and message for a failed ACL change (CreateAcls, DeleteAcls): an invalid
/// binding or filter is INVALID_REQUEST with its reason; a storage failure is logged and
/// answered with a fixed message.
pub fn acl_error(err: &strom_auth::AuthError) -> (ResponseError, String) {
    match err {
        strom_auth::AuthError::Invalid(reason) => (ResponseError::InvalidRequest, reason.clone()),
        other => {
            tracing::error!(error = %other, "ACL change failed");
            (
                ResponseError::UnknownServerError,
                "the ACL change could not be stored; see the server log".to_string(),
            )
        }
    }
}

/// Kafka refuses produce and DeleteRecords on internal topics with INVALID_TOPIC_EXCEPTION
/// (`ReplicaManager`: "Cannot append to internal topic"); what it guards with ACLs (create,
/// delete, configs, partitions) Strom refuses as an ACL would, TOPIC_AUTHORIZATION_FAILED,
/// which is also Kafka's answer to creating its own metadata topic. Both are not retriable.
fn internal_topic_error(operation: ClientOperation) -> ResponseError {
    match operation {
        ClientOperation::Write | ClientOperation::DeleteRecords => {
            ResponseError::InvalidTopicException
        }
        ClientOperation::Create
        | ClientOperation::Delete
        | ClientOperation::AlterConfig
        | ClientOperation::CreatePartitions => ResponseError::TopicAuthorizationFailed,
    }
}

fn log_error(err: &LogError) -> ResponseError {
    match err {
        LogError::CorruptBatch(_) | LogError::RecordTooLarge { .. } => {
            ResponseError::CorruptMessage
        }
        LogError::InvalidRecord { .. } => ResponseError::InvalidRecord,
        LogError::BatchTooLarge { .. } | LogError::DecompressedTooLarge { .. } => {
            ResponseError::MessageTooLarge
        }
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        // A log closed under us means its topic was deleted concurrently.
        LogError::Closed => ResponseError::UnknownTopicOrPartition,
        LogError::Poisoned(_)
        | LogError::CorruptSegment { .. }
        | LogError::Io { .. }
        | LogError::Interrupted => ResponseError::KafkaStorageError,
    }
}

/// What a client is told about a storage failure; the details are in the server log only.
pub const STORAGE_FAILURE: &str =
    "the request failed with a storage error on the server (the details are in the server log); \
     a partition whose disk failed is reopened from disk automatically once it accepts writes again";

/// The error message field for a broker error. Errors that name server paths (storage and
/// I/O failures) are logged here and answered with [`STORAGE_FAILURE`]: no path reaches a
/// client.
pub fn error_message(err: &BrokerError) -> String {
    let names_paths = matches!(
        err,
        BrokerError::Io { .. }
            | BrokerError::Log(
                LogError::Poisoned(_) | LogError::CorruptSegment { .. } | LogError::Io { .. }
            )
    );
    if names_paths {
        tracing::error!(error = %err, "request failed with a storage error");
        return STORAGE_FAILURE.to_string();
    }
    err.to_string()
}

/// The Kafka error and a client-safe message for a security-service error (user and
/// credential management).
pub fn auth_error(err: &strom_auth::AuthError) -> (ResponseError, String) {
    use strom_auth::AuthError;
    match err {
        AuthError::Storage(_) => {
            tracing::error!(error = %err, "security state could not be stored");
            (
                ResponseError::KafkaStorageError,
                STORAGE_FAILURE.to_string(),
            )
        }
        AuthError::Invalid(m) => (ResponseError::UnacceptableCredential, m.clone()),
        AuthError::Authentication(m) => (ResponseError::SaslAuthenticationFailed, m.clone()),
        AuthError::NotFound(m) => (ResponseError::ResourceNotFound, m.clone()),
    }
}

/// The Kafka error code for a group coordinator error (the coordinator names its errors in
/// Kafka's vocabulary already).
pub fn group_error_code(err: &strom_broker::GroupError) -> i16 {
    err.code()
}

/// The Kafka error and message for a failed quota request (DescribeClientQuotas,
/// AlterClientQuotas). Storage failures are logged by the quota service and answered with
/// [`STORAGE_FAILURE`].
pub fn quota_error(err: &strom_auth::AuthError) -> (ResponseError, String) {
    use strom_auth::AuthError;
    match err {
        AuthError::Invalid(_) => (ResponseError::InvalidRequest, err.to_string()),
        AuthError::NotFound(_) => (ResponseError::ResourceNotFound, err.to_string()),
        AuthError::Authentication(_) => (ResponseError::SaslAuthenticationFailed, err.to_string()),
        AuthError::Storage(_) => (
            ResponseError::KafkaStorageError,
            STORAGE_FAILURE.to_string(),
        ),
    }
}

/// The Kafka error code (as sent on the wire) for a broker error.
pub fn error_code(err: &BrokerError) -> i16 {
    response_error(err).code()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(topic: &str, operation: ClientOperation) -> BrokerError {
        BrokerError::InternalTopic {
            topic: topic.into(),
            operation,
        }
    }

    #[test]
    fn maps_each_broker_error_to_its_kafka_code() {
        let io = || std::io::Error::other("disk gone");
        let cases: Vec<(BrokerError, i16)> = vec![
            (BrokerError::UnknownTopic("t".into()), 3),
            (
                BrokerError::UnknownPartition {
                    topic: "t".into(),
                    partition: 9,
                },
                3,
            ),
            (BrokerError::TopicExists("t".into()), 36),
            (
                BrokerError::InvalidTopicName {
                    name: "a/b".into(),
                    reason: "slash".into(),
                },
                17,
            ),
            (BrokerError::InvalidPartitions("0".into()), 37),
            (BrokerError::InvalidConfig("x".into()), 40),
            (BrokerError::InvalidRecord("x".into()), 87),
            (BrokerError::DuplicateSequence { base_offset: 3 }, 46),
            (
                BrokerError::OutOfOrderSequence {
                    expected: 1,
                    got: 5,
                },
                45,
            ),
            (BrokerError::InvalidProducerEpoch { current: 2, got: 1 }, 47),
            (BrokerError::UnknownProducerId(7), 59),
            (BrokerError::ShuttingDown, 6),
            (internal("__consumer_offsets", ClientOperation::Write), 17),
            (
                internal("__consumer_offsets", ClientOperation::DeleteRecords),
                17,
            ),
            (internal("__strom_x", ClientOperation::Create), 29),
            (internal("__consumer_offsets", ClientOperation::Delete), 29),
            (
                internal("__consumer_offsets", ClientOperation::AlterConfig),
                29,
            ),
            (
                internal("__consumer_offsets", ClientOperation::CreatePartitions),
                29,
            ),
            (
                BrokerError::Io {
                    path: "/x".into(),
                    source: io(),
                },
                56,
            ),
            (LogError::CorruptBatch("crc".into()).into(), 2),
            (LogError::BatchTooLarge { size: 2, max: 1 }.into(), 10),
            (
                LogError::InvalidRecord {
                    reason: "count".into(),
                }
                .into(),
                87,
            ),
            (LogError::DecompressedTooLarge { max: 1 }.into(), 10),
            (
                LogError::OffsetOutOfRange {
                    offset: 9,
                    start: 0,
                    end: 3,
                }
                .into(),
                1,
            ),
            (LogError::Poisoned("/x".into()).into(), 56),
            (
                BrokerError::InsufficientSpace {
                    free_bytes: 1,
                    min_free_bytes: 2,
                },
                56,
            ),
            (BrokerError::ReadOnlyStorage, 56),
            (BrokerError::RemoteStorage, 56),
            (LogError::Closed.into(), 3),
            (
                LogError::Io {
                    path: "/x".into(),
                    source: io(),
                }
                .into(),
                56,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(error_code(&err), code, "{err}");
        }
    }

    #[test]
    fn storage_error_messages_name_no_path() {
        let io = || std::io::Error::other("disk gone");
        let cases: Vec<BrokerError> = vec![
            BrokerError::Io {
                path: "/srv/strom-data/topics/t".into(),
                source: io(),
            },
            LogError::Poisoned("/srv/strom-data/topics/t/0".into()).into(),
            LogError::Io {
                path: "/srv/strom-data/topics/t/0/00.log".into(),
                source: io(),
            }
            .into(),
            LogError::CorruptSegment {
                file: "/srv/strom-data/topics/t/0/00.log".into(),
                position: 7,
                reason: "crc".into(),
            }
            .into(),
        ];
        for err in cases {
            assert_eq!(error_message(&err), STORAGE_FAILURE, "{err}");
        }
        let unknown = BrokerError::UnknownTopic("t".into());
        assert_eq!(error_message(&unknown), unknown.to_string());
    }

    #[test]
    fn storage_messages_name_no_server_path() {
        let io = LogError::Io {
            path: "/srv/strom/topics/t/0/0.log".into(),
            source: std::io::Error::from_raw_os_error(28),
        };
        for err in [
            io.into(),
            LogError::Poisoned("/srv/strom/t/0".into()).into(),
        ] {
            let message = error_message(&err);
            assert!(!message.contains("/srv"), "{message}");
        }
        let full = BrokerError::InsufficientSpace {
            free_bytes: 10,
            min_free_bytes: 20,
        };
        assert!(error_message(&full).contains("free disk space"));
    }
}
