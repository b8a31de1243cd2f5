//! Online conversion between a classic group and a consumer group, as Kafka 4 does it
//! (`GroupMetadataManager.convertToConsumerGroup` / `convertToClassicGroup`, under
//! `group.consumer.migration.policy`; empty groups always convert):
//!
//! - **Upgrade**: a ConsumerGroupHeartbeat joining a classic group whose members use protocol
//!   type `consumer` makes it a consumer group. The group epoch and the target assignment
//!   epoch are the classic generation; each classic member becomes a consumer-group member that
//!   keeps using the classic protocol, owning (and targeted with) what its classic assignment
//!   bytes hold. Waiting JoinGroups and SyncGroups answer REBALANCE_IN_PROGRESS. The classic
//!   group record gets a tombstone; the KIP-848 records follow.
//! - **Downgrade**: when the last member using the consumer protocol leaves (or times out) and
//!   classic members remain, the group becomes a classic group of generation = group epoch,
//!   each member's assignment its target, and a rebalance starts.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use tokio::time::Instant;

use super::{ClassicMeta, ConsumerGroup, ConsumerMember, Parts, TopicMeta};
use crate::group::consumer_protocol::{
    decode_assignment, decode_subscription, encode_assignment, Assignment,
};
use crate::group::coordinator::{now_ms, Shared};
use crate::group::metadata::{Group, Member};
use crate::group::{GroupError, GroupState};

impl Shared {
    /// Makes the classic group `g` a consumer group. Errors: `GroupIdNotFound` when it has
    /// members and the policy forbids upgrades, its protocol type is not `consumer`, it is
    /// full, or a member's subscription or assignment bytes do not decode.
    pub(crate) fn upgrade(
        &self,
        g: &mut Group,
        topics: &BTreeMap<String, TopicMeta>,
    ) -> Result<(), GroupError> {
        let cg = if g.members.is_empty() {
            ConsumerGroup::default()
        } else {
            let allowed = self.config.consumer_migration_policy.upgrade_enabled()
                && g.protocol_type.as_deref() == Some("consumer")
                && g.members.len() < self.config.max_group_size;
            if !allowed {
                return Err(GroupError::GroupIdNotFound);
            }
            let mut cg = from_classic(g, topics).ok_or(GroupError::GroupIdNotFound)?;
            cg.assignor = self.choose_assignor(&cg);
            tracing::info!(group = %g.id, generation = g.generation, members = cg.members.len(),
                "classic group upgraded to a consumer group");
            cg
        };
        for member in g.members.values_mut() {
            if let Some(waiter) = member.join_waiter.take() {
                let _ = waiter.send(Err(GroupError::RebalanceInProgress));
            }
            if let Some(waiter) = member.sync_waiter.take() {
                let _ = waiter.send(Err(GroupError::RebalanceInProgress));
            }
        }
        for m in cg.members.values() {
            self.spawn_consumer_timer(&g.id, &m.id, m.session_deadline);
        }
        // Kafka's conversion: the classic group's metadata record goes.
        if g.protocol_type.is_some() || g.generation > 0 {
            self.write_group_record(&g.id, None);
        }
        g.members.clear();
        g.static_members.clear();
        g.pending_members.clear();
        g.pending_sync.clear();
        // Classic timers armed for an earlier step find nothing to do.
        g.rebalance_epoch += 1;
        g.protocol_type = Some("consumer".to_string());
        g.protocol = None;
        g.leader = None;
        g.consumer = Some(Box::new(cg));
        Ok(())
    }

    /// After a consumer-protocol member was removed: if only classic members remain and the
    /// policy allows it, `g` becomes a classic group again and rebalances.
    pub(crate) fn maybe_downgrade(&self, g: &mut Group) {
        let allowed = g.consumer.as_deref().is_some_and(|cg| {
            !cg.members.is_empty()
                && cg.members.values().all(|m| m.classic.is_some())
                && cg.members.len() <= self.config.max_group_size
        }) && self.config.consumer_migration_policy.downgrade_enabled();
        if !allowed {
            return;
        }
        let Some(cg) = g.consumer.take() else {
            return;
        };
        g.generation = cg.epoch;
        g.state = GroupState::Stable;
        g.state_timestamp_ms = now_ms();
        g.protocol_type = Some("consumer".to_string());
        let now = Instant::now();
        let ConsumerGroup {
            members, target, ..
        } = *cg;
        for (id, m) in members {
            let Some(classic) = m.classic else {
                continue;
            };
            let assignment = assignment_bytes(target.get(&id).unwrap_or(&Parts::new()));
            let member = Member {
                id,
                instance_id: m.instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout: classic.session_timeout,
                rebalance_timeout: m.rebalance_timeout,
                protocols: classic.protocols,
                assignment,
                join_waiter: None,
                sync_waiter: None,
                session_deadline: m.session_deadline.max(now),
            };
            self.add_member(g, member);
        }
        g.protocol = g.select_protocol();
        g.leader = g.members.keys().next().cloned();
        tracing::info!(group = %g.id, generation = g.generation, members = g.members.len(),
            "consumer group downgraded to a classic group");
        self.persist_group(g);
        self.prepare_rebalance(g);
    }
}

/// The consumer group a classic group's members stand for (`None` if a member's bytes do
/// not decode as the consumer protocol).
fn from_classic(g: &Group, topics: &BTreeMap<String, TopicMeta>) -> Option<ConsumerGroup> {
    let mut cg = ConsumerGroup {
        epoch: g.generation,
        assignment_epoch: g.generation,
        ..ConsumerGroup::default()
    };
    for m in g.members.values() {
        let protocol = g
            .protocol
            .clone()
            .or_else(|| m.protocols.first().map(|p| p.name.clone()))
            .unwrap_or_default();
        let subscription = decode_subscription(&m.metadata(&protocol)).ok()?;
        let assigned = to_parts(decode_assignment(&m.assignment).ok()?.partitions);
        let member = ConsumerMember {
            id: m.id.clone(),
            instance_id: m.instance_id.clone(),
            rack_id: None,
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            epoch: g.generation,
            previous_epoch: g.generation,
            rebalance_timeout: m.rebalance_timeout,
            subscribed: subscription.topics.iter().cloned().collect(),
            topic_names: subscription.topics,
            regex: None,
            server_assignor: None,
            assigned: assigned.clone(),
            revoking: Parts::new(),
            session_deadline: m.session_deadline,
            revoke_deadline: None,
            departed: false,
            classic: Some(ClassicMeta {
                session_timeout: m.session_timeout,
                protocols: m.protocols.clone(),
            }),
        };
        cg.target.insert(m.id.clone(), assigned);
        cg.members.insert(m.id.clone(), member);
    }
    let subscribed: BTreeSet<&String> = cg.members.values().flat_map(|m| &m.subscribed).collect();
    cg.topics = subscribed
        .into_iter()
        .filter_map(|t| topics.get(t).map(|meta| (t.clone(), *meta)))
        .collect();
    Some(cg)
}

/// Partitions by topic, as the consumer protocol's bytes give them, as [`Parts`].
pub(super) fn to_parts(partitions: BTreeMap<String, Vec<i32>>) -> Parts {
    partitions
        .into_iter()
        .map(|(t, ps)| (t, ps.into_iter().collect()))
        .filter(|(_, ps): &(String, BTreeSet<i32>)| !ps.is_empty())
        .collect()
}

/// An assignment in the consumer protocol's format.
pub(super) fn assignment_bytes(parts: &Parts) -> Bytes {
    encode_assignment(&Assignment {
        partitions: parts
            .iter()
            .map(|(t, ps)| (t.clone(), ps.iter().copied().collect()))
            .collect(),
        user_data: None,
    })
}

/// A classic JoinGroup meeting an empty consumer group: it becomes a classic group again, and
/// its KIP-848 records get tombstones.
pub(crate) fn empty_to_classic(shared: &Shared, g: &mut Group) {
    if g.consumer
        .as_deref()
        .is_some_and(|cg| cg.members.is_empty())
    {
        g.consumer = None;
        g.protocol_type = None;
        shared.persist_consumer(g, &BTreeMap::new());
    }
}
