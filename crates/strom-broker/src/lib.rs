//! Strom's broker core, independent of any wire protocol.
//!
//! Owns topics and their partitions (each a [`strom_log::Log`]), topic configuration
//! persisted atomically, high-watermark notifications for long polls, the idempotent
//! producer state, and Kafka-compatible key partitioning. Front ends (Kafka, HTTP) are thin
//! adapters over [`Broker`], [`Topic`] and [`Partition`]; this crate never touches a socket.

mod broker;
mod error;
pub mod group;
mod partition;
mod partitioner;
mod producer_state;
mod records;
#[cfg(test)]
mod tests;
mod topic;
mod topic_config;

pub use broker::{Broker, BrokerConfig, MAX_PARTITIONS};
pub use error::BrokerError;
pub use group::{GroupCoordinator, GroupError};
pub use partition::{AppendResult, FetchResult, Partition};
pub use partitioner::{default_partition, murmur2};
pub use records::{
    decode_records, encode_records, for_each_record, NewRecord, RecordHeader, SizedRecord,
    StoredRecord,
};
pub use topic::Topic;
pub use topic_config::{TopicConfig, TOPIC_CONFIG_KEYS};
