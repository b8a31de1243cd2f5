//! KIP-848's consumer group protocol ("consumer" groups): the server owns the assignment.
//! Members send ConsumerGroupHeartbeat with their subscription (topic names and/or an RE2-style
//! regex); the coordinator bumps the *group epoch* whenever membership, a subscription or a
//! subscribed topic's partition count changes, computes a *target assignment* for that epoch
//! with a server-side assignor (`uniform` or `range`, `assignor.rs`), and moves each member
//! towards its target one heartbeat at a time (`reconcile.rs`): partitions are revoked first,
//! and a partition is handed to its new owner only after the previous owner acknowledged
//! giving it up. Epochs, members, the target and current assignments are written to
//! `__consumer_offsets` in Kafka's record types (`persist.rs`) and restored at start-up, so a
//! restart keeps members and their epochs; committed offsets go through the classic path.
//!
//! A consumer group shares the classic [`super::metadata::Group`] (one id space, one offset
//! store, one lock): `Group::consumer` is `Some` for a consumer group, and the classic member
//! map stays empty. Members of the classic protocol (JoinGroup/SyncGroup) may be members of a
//! consumer group too, as in Kafka (`classic.rs`), and groups with members convert between
//! the two types online (`convert.rs`, Kafka's `group.consumer.migration.policy`).
//!
//! Layout: `mod.rs` (state and messages), `assignor.rs`, `target.rs` (when a new target is
//! due), `heartbeat.rs` (the request, join/leave, session timers), `reconcile.rs` (the
//! per-member state machine), `persist.rs` (records and restore), `describe.rs` (ConsumerGroupDescribe and offset-commit
//! validation), `classic.rs` (classic members), `convert.rs` (upgrade and downgrade).

mod assignor;
mod classic;
mod convert;
mod describe;
mod heartbeat;
mod persist;
mod reconcile;
mod target;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

pub use assignor::{assign, ASSIGNORS};
pub(crate) use convert::empty_to_classic;
pub(crate) use persist::restore;

/// Partitions by topic name.
pub type Parts = BTreeMap<String, BTreeSet<i32>>;

/// A data topic as the assignors see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicMeta {
    pub id: [u8; 16],
    pub partitions: i32,
}

/// One ConsumerGroupHeartbeat, with topics by name (the front end maps topic ids).
#[derive(Debug, Clone, Default)]
pub struct ConsumerHeartbeatRequest {
    pub group_id: String,
    /// Empty on a v0 join: the coordinator makes one up.
    pub member_id: String,
    /// 0 joins, -1 leaves, -2 leaves temporarily (static member), else the current epoch.
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1 when unchanged.
    pub rebalance_timeout_ms: i32,
    /// `None` when unchanged.
    pub subscribed_topic_names: Option<Vec<String>>,
    /// `None` when unchanged; an empty string clears it.
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns; `None` when unchanged since the last heartbeat.
    pub owned: Option<Parts>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerHeartbeatResponse {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// The member's assignment, when the member must (re)learn it; `None` otherwise.
    pub assignment: Option<Vec<([u8; 16], Vec<i32>)>>,
}

/// ConsumerGroupDescribe's view of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    /// `(topic id, topic name, partitions)`.
    pub assignment: Vec<([u8; 16], String, Vec<i32>)>,
    pub target_assignment: Vec<([u8; 16], String, Vec<i32>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescription {
    pub group_id: String,
    /// Kafka's consumer group states: Empty, Assigning, Reconciling, Stable.
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    pub members: Vec<ConsumerMemberDescription>,
}

/// A member of a consumer group.
pub(crate) struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub epoch: i32,
    pub previous_epoch: i32,
    pub rebalance_timeout: Duration,
    pub topic_names: Vec<String>,
    pub regex: Option<(String, regex::Regex)>,
    pub server_assignor: Option<String>,
    /// The topics the names and the regex resolve to.
    pub subscribed: BTreeSet<String>,
    /// What the member may own now.
    pub assigned: Parts,
    /// What it was asked to give up and has not yet confirmed giving up.
    pub revoking: Parts,
    pub session_deadline: Instant,
    /// Set while revoking: the member is fenced if it has not confirmed by then.
    pub revoke_deadline: Option<Instant>,
    /// A static member that left with epoch -2 and may come back under a new member id.
    pub departed: bool,
    /// Set for a member using the classic protocol (JoinGroup/SyncGroup/Heartbeat).
    pub classic: Option<ClassicMeta>,
}

/// What a classic member of a consumer group joined with (Kafka's `ClassicMemberMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClassicMeta {
    pub session_timeout: Duration,
    /// In the member's order of preference; the first one's metadata is its subscription.
    pub protocols: Vec<crate::group::GroupProtocol>,
}

/// The KIP-848 state of a consumer group.
#[derive(Default)]
pub(crate) struct ConsumerGroup {
    /// Bumped by every change that calls for a new target assignment.
    pub epoch: i32,
    /// The group epoch the target assignment was computed for.
    pub assignment_epoch: i32,
    /// The assignor of the current target assignment.
    pub assignor: String,
    pub members: BTreeMap<String, ConsumerMember>,
    /// The target assignment, by member id.
    pub target: BTreeMap<String, Parts>,
    /// The subscribed topics' metadata the target was computed from.
    pub topics: BTreeMap<String, TopicMeta>,
}

impl ConsumerGroup {
    /// Kafka's state names: Assigning while the target lags the group epoch, Reconciling
    /// while a member has not reached its target, else Stable (Empty without members).
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.assignment_epoch < self.epoch {
            "Assigning"
        } else if self.members.values().any(|m| !self.reconciled(m)) {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    pub fn reconciled(&self, m: &ConsumerMember) -> bool {
        let empty = Parts::new();
        let target = self.target.get(&m.id).unwrap_or(&empty);
        m.epoch == self.assignment_epoch && m.revoking.is_empty() && &m.assigned == target
    }

    /// The member registered for a static instance id.
    pub fn by_instance(&self, instance: &str) -> Option<&ConsumerMember> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance))
    }
}

/// Counts the partitions in `parts`.
#[cfg(test)]
pub(crate) fn count(parts: &Parts) -> usize {
    parts.values().map(BTreeSet::len).sum()
}

/// Whether `parts` holds `topic`-`partition`.
pub(crate) fn holds(parts: &Parts, topic: &str, partition: i32) -> bool {
    parts.get(topic).is_some_and(|p| p.contains(&partition))
}

/// A wrong epoch from `m`: `IllegalGeneration` for a classic member (its epoch is its
/// generation), as Kafka answers, else `StaleMemberEpoch`.
pub(crate) fn stale_epoch(m: &ConsumerMember) -> crate::group::GroupError {
    if m.classic.is_some() {
        crate::group::GroupError::IllegalGeneration
    } else {
        crate::group::GroupError::StaleMemberEpoch
    }
}
