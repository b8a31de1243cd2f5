//! The broker's typed errors; front ends map each to a Kafka error code or an HTTP status.

use strom_log::LogError;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("unknown topic '{0}'")]
    UnknownTopic(String),
    #[error("unknown partition {partition} of topic '{topic}'")]
    UnknownPartition { topic: String, partition: i32 },
    #[error("topic '{0}' already exists")]
    TopicExists(String),
    #[error("invalid topic name '{name}': {reason}")]
    InvalidTopicName { name: String, reason: String },
    #[error("invalid partition count: {0}")]
    InvalidPartitions(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Records refused one by one (KIP-467); the batch is refused whole.
    #[error("{message}")]
    RecordErrors {
        kind: crate::RecordErrorKind,
        message: String,
        records: Vec<crate::RecordError>,
    },
    /// A retried idempotent batch that was already written; carries the original offsets.
    #[error("duplicate sequence number")]
    DuplicateSequence { base_offset: i64 },
    #[error("out of order sequence number: expected {expected}, got {got}")]
    OutOfOrderSequence { expected: i32, got: i32 },
    #[error("producer epoch {got} is older than the current epoch {current}")]
    InvalidProducerEpoch { current: i16, got: i16 },
    #[error("unknown producer id {0}")]
    UnknownProducerId(i64),
    /// A client tried to create, write, delete, trim or reconfigure an internal topic.
    #[error("topic '{topic}' is internal: clients cannot {operation} it")]
    InternalTopic {
        topic: String,
        operation: crate::ClientOperation,
    },
    #[error("broker is shutting down")]
    ShuttingDown,
    /// Refused before anything was written: free space on the data directory's file system
    /// is below the configured minimum. Retriable: writes resume once space is freed.
    #[error(
        "not enough free disk space: {free_bytes} bytes free, the minimum is {min_free_bytes} \
         (min_free_bytes); writes resume once space is freed"
    )]
    InsufficientSpace {
        free_bytes: u64,
        min_free_bytes: u64,
    },
    /// Refused before anything was written: the data directory's file system is read-only.
    /// Retriable: writes resume once it is writable again.
    #[error("the data directory is read-only; writes resume once it is writable again")]
    ReadOnlyStorage,
    /// A read below the local log needed the remote tier and the object store failed.
    /// Retriable. The store's own error text (it may name keys) is logged, not sent.
    #[error("remote storage is unavailable; retry later")]
    RemoteStorage,
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("storage error on {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}
