//! [`Broker`]: the registry of topics, their persisted metadata, and broker-wide services
//! (interval flusher, retention, producer id allocation).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use strom_log::Durability;

use crate::{BrokerError, Partition, Topic};

/// Broker-wide settings; topic configs override the log defaults.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub data_dir: PathBuf,
    pub node_id: i32,
    pub auto_create_topics: bool,
    pub default_partitions: i32,
    pub durability: Durability,
    /// Defaults for topics without overrides.
    pub log_defaults: strom_log::LogConfig,
    /// How often retention runs.
    pub retention_check_interval_ms: u64,
}

pub struct Broker {
    config: BrokerConfig,
}

impl Broker {
    /// Opens the data directory (creating it), restores every topic and recovers its logs.
    /// Errors: `Io` for an unusable data directory, `Log` for an unrecoverable segment.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>, BrokerError> {
        let _ = config;
        todo!()
    }
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }
    /// Creates a topic; its metadata is persisted atomically before this returns.
    /// Errors: `TopicExists`, `InvalidTopicName`, `InvalidPartitions`, `InvalidConfig`.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, BrokerError> {
        let _ = (name, partitions, configs);
        todo!()
    }
    /// Validates a create request without creating anything (Kafka `validate_only`).
    pub fn validate_new_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), BrokerError> {
        let _ = (name, partitions, configs);
        todo!()
    }
    /// Deletes a topic and its data. Errors: `UnknownTopic`.
    pub fn delete_topic(&self, name: &str) -> Result<(), BrokerError> {
        let _ = name;
        todo!()
    }
    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        let _ = name;
        todo!()
    }
    /// The topic, auto-created with the default partition count when the broker allows it.
    pub fn topic_or_create(&self, name: &str) -> Result<Arc<Topic>, BrokerError> {
        let _ = name;
        todo!()
    }
    /// All topics, sorted by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        todo!()
    }
    pub fn partition(&self, topic: &str, partition: i32) -> Result<Arc<Partition>, BrokerError> {
        let _ = (topic, partition);
        todo!()
    }
    /// Grows a topic to `total` partitions. Errors: `InvalidPartitions` if not larger.
    pub fn create_partitions(&self, topic: &str, total: i32) -> Result<(), BrokerError> {
        let _ = (topic, total);
        todo!()
    }
    /// Applies config changes (`None` removes the override); validated as a whole first.
    pub fn alter_topic_config(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<(), BrokerError> {
        let _ = (topic, changes);
        todo!()
    }
    /// Effective value of every honoured config key for `topic` (override or default),
    /// with whether it is the default.
    pub fn effective_topic_config(
        &self,
        topic: &str,
    ) -> Result<Vec<(String, String, bool)>, BrokerError> {
        let _ = topic;
        todo!()
    }
    /// Allocates a new producer id for the idempotent producer (persisted, never reused).
    pub fn allocate_producer_id(&self) -> Result<i64, BrokerError> {
        todo!()
    }
    /// Flushes and cleanly closes every log. Appends afterwards fail with `ShuttingDown`.
    pub fn shutdown(&self) -> Result<(), BrokerError> {
        todo!()
    }
}
