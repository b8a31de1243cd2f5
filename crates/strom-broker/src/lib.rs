//! Strom's broker core, independent of any wire protocol.
//!
//! Owns topics and their partitions (each a [`strom_log::Log`]), topic configuration
//! persisted atomically, high-watermark notifications for long polls, the idempotent
//! producer state, and Kafka-compatible key partitioning. Front ends (Kafka, HTTP) are thin
//! adapters over [`Broker`], [`Topic`] and [`Partition`]; this crate never touches a socket.

mod append_policy;
mod broker;
mod connection_limits;
mod disk;
mod error;
mod event_log;
pub mod group;
mod internal;
mod layout;
mod listener_stats;
mod partition;
pub mod partition_txn;
mod partitioner;
mod producer_state;
mod records;
mod state_topic;
pub mod telemetry;
#[cfg(test)]
mod tests;
pub mod tiering;
mod topic;
pub mod topic_config;
mod topic_config_defs;
pub mod txn;

pub use append_policy::{AppendPolicy, RecordError, RecordErrorKind};
pub use broker::{random_bytes, Broker, BrokerConfig, MAX_PARTITIONS};
pub use connection_limits::{
    ConnectionLimits, ConnectionLimitsConfig, ConnectionPermit, ConnectionRefused,
};
pub use disk::{DiskConfig, DiskGuard, DiskState, StorageStatus};
pub use error::BrokerError;
pub use event_log::EventLog;
pub use group::{GroupCoordinator, GroupError};
pub use internal::{
    is_internal_topic, ClientOperation, CONSUMER_OFFSETS, RESERVED_PREFIX, TRANSACTION_STATE,
};
pub use listener_stats::{ListenerRegistry, ListenerSnapshot, ListenerStats};
pub use partition::{AppendResult, FetchResult, Partition};
pub use partitioner::{default_partition, murmur2};
pub use records::{
    decode_records, encode_records, for_each_record, NewRecord, RecordHeader, SizedRecord,
    StoredRecord,
};
pub use state_topic::StateTopic;
pub use tiering::{TierStatus, Tiering, TieringConfig};
pub use topic::Topic;
pub use topic_config::TopicConfig;
pub use topic_config_defs::{config_def, ConfigDef, ConfigKind, Effect, CONFIG_DEFS};
