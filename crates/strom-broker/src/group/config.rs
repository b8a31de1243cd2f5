//! [`GroupConfig`]: the coordinator's tunables, named after the Kafka broker settings they
//! mirror (`group.min.session.timeout.ms`, `offsets.retention.minutes`, ...).

use std::time::Duration;

/// Name of the internal compacted topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = crate::internal::CONSUMER_OFFSETS;

#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// Smallest session timeout a member may ask for (`group.min.session.timeout.ms`).
    pub min_session_timeout: Duration,
    /// Largest session timeout a member may ask for (`group.max.session.timeout.ms`).
    pub max_session_timeout: Duration,
    /// How long the first rebalance of an empty group waits for more members before it
    /// completes (`group.initial.rebalance.delay.ms`); each join within the window extends it,
    /// up to the rebalance timeout. Zero completes as soon as every known member has joined.
    pub initial_rebalance_delay: Duration,
    /// Maximum number of members per group (`group.max.size`).
    pub max_group_size: usize,
    /// Offsets of a group without members are deleted this long after the group became empty
    /// (or, for standalone committers, after the commit) (`offsets.retention.minutes`).
    pub offsets_retention: Duration,
    /// How often expired offsets are looked for (`offsets.retention.check.interval.ms`).
    pub offsets_retention_check_interval: Duration,
    /// Largest commit metadata string accepted (`offset.metadata.max.bytes`).
    pub max_metadata_bytes: usize,
    /// Partitions of `__consumer_offsets` when this coordinator creates it
    /// (`offsets.topic.num.partitions`); an existing topic keeps its count.
    pub offsets_topic_partitions: i32,
    /// KIP-848 consumer groups: a member is removed if silent this long
    /// (`group.consumer.session.timeout.ms`).
    pub consumer_session_timeout: Duration,
    /// How often consumer group members heartbeat (`group.consumer.heartbeat.interval.ms`).
    pub consumer_heartbeat_interval: Duration,
    /// The server-side assignors members may ask for, the default first
    /// (`group.consumer.assignors`).
    pub consumer_assignors: Vec<String>,
    /// Which online conversions of a group with members between the classic and the consumer
    /// protocol are allowed (`group.consumer.migration.policy`); empty groups always convert.
    pub consumer_migration_policy: MigrationPolicy,
}

/// Kafka's `group.consumer.migration.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrationPolicy {
    /// Classic groups upgrade and consumer groups downgrade.
    #[default]
    Bidirectional,
    Upgrade,
    Downgrade,
    Disabled,
}

impl MigrationPolicy {
    /// A ConsumerGroupHeartbeat may turn a classic group with members into a consumer group.
    pub fn upgrade_enabled(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Bidirectional | MigrationPolicy::Upgrade
        )
    }

    /// The last consumer-protocol member leaving turns the group back into a classic group.
    pub fn downgrade_enabled(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Bidirectional | MigrationPolicy::Downgrade
        )
    }
}

impl std::str::FromStr for MigrationPolicy {
    type Err = String;

    /// Kafka's names, case-insensitive.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "bidirectional" => Ok(MigrationPolicy::Bidirectional),
            "upgrade" => Ok(MigrationPolicy::Upgrade),
            "downgrade" => Ok(MigrationPolicy::Downgrade),
            "disabled" => Ok(MigrationPolicy::Disabled),
            _ => Err(format!(
                "unknown migration policy {s:?} (bidirectional, upgrade, downgrade, disabled)"
            )),
        }
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout: Duration::from_millis(1_000),
            max_session_timeout: Duration::from_secs(30 * 60),
            initial_rebalance_delay: Duration::ZERO,
            max_group_size: 1_000,
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            offsets_retention_check_interval: Duration::from_secs(600),
            max_metadata_bytes: 4096,
            offsets_topic_partitions: 4,
            consumer_session_timeout: Duration::from_secs(45),
            consumer_heartbeat_interval: Duration::from_secs(5),
            consumer_assignors: super::consumer::ASSIGNORS
                .iter()
                .map(|a| a.to_string())
                .collect(),
            consumer_migration_policy: MigrationPolicy::default(),
        }
    }
}
