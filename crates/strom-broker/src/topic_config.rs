//! Topic configuration: the Kafka config names Strom honours, validation and defaults.

use std::collections::BTreeMap;

/// Config keys that Strom honours (Kafka names).
pub const TOPIC_CONFIG_KEYS: &[&str] = &[
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "segment.bytes",
    "segment.ms",
    "max.message.bytes",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "max.compaction.lag.ms",
    "delete.retention.ms",
    "message.timestamp.type",
];

/// A topic's explicit config overrides (only keys from [`TOPIC_CONFIG_KEYS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicConfig {
    pub overrides: BTreeMap<String, String>,
}
