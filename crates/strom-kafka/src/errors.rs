//! The one mapping from broker and log errors to Kafka error codes. Handlers never pick a
//! code for a broker error themselves, so every API answers the same failure the same way.

use kafka_protocol::ResponseError;
use strom_broker::BrokerError;
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
        BrokerError::DuplicateSequence { .. } => ResponseError::DuplicateSequenceNumber,
        BrokerError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        BrokerError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        BrokerError::UnknownProducerId(_) => ResponseError::UnknownProducerId,
        // Retriable: clients refresh metadata and retry, which succeeds once we are back.
        BrokerError::ShuttingDown => ResponseError::NotLeaderOrFollower,
        BrokerError::Log(log) => log_error(log),
        BrokerError::Io { .. } => ResponseError::KafkaStorageError,
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

/// The Kafka error code for a group coordinator error (the coordinator names its errors in
/// Kafka's vocabulary already).
pub fn group_error_code(err: &strom_broker::GroupError) -> i16 {
    err.code()
}

/// The Kafka error code (as sent on the wire) for a broker error.
pub fn error_code(err: &BrokerError) -> i16 {
    response_error(err).code()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
