//! ConsumerGroupDescribe, the group type other APIs report (ListGroups, DescribeGroups), and
//! the member-epoch checks of offset commits and fetches in a consumer group.

use std::collections::BTreeMap;

use super::{ConsumerGroupDescription, ConsumerMemberDescription, Parts, TopicMeta};
use crate::group::{GroupCoordinator, GroupError};

/// `(topic id, name, partitions)` of each known topic in `parts`.
fn named(parts: &Parts, topics: &BTreeMap<String, TopicMeta>) -> Vec<([u8; 16], String, Vec<i32>)> {
    parts
        .iter()
        .filter_map(|(t, ps)| {
            topics
                .get(t)
                .map(|meta| (meta.id, t.clone(), ps.iter().copied().collect()))
        })
        .collect()
}

impl GroupCoordinator {
    /// ConsumerGroupDescribe of one group. Errors: `GroupIdNotFound` for an unknown group or
    /// one that is not a consumer group (Kafka's answer; clients then use DescribeGroups).
    pub fn describe_consumer_group(
        &self,
        group_id: &str,
    ) -> Result<ConsumerGroupDescription, GroupError> {
        let group = self
            .shared
            .lookup(group_id)
            .ok_or(GroupError::GroupIdNotFound)?;
        let topics = self.shared.storage.topic_metadata();
        let g = group.lock();
        let cg = g
            .consumer
            .as_deref()
            .filter(|_| !g.removed)
            .ok_or(GroupError::GroupIdNotFound)?;
        let empty = Parts::new();
        let members = cg
            .members
            .values()
            .map(|m| ConsumerMemberDescription {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                rack_id: m.rack_id.clone(),
                member_epoch: m.epoch,
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                subscribed_topic_names: m.topic_names.clone(),
                subscribed_topic_regex: m.regex.as_ref().map(|(s, _)| s.clone()),
                assignment: named(&m.assigned, &topics),
                target_assignment: named(cg.target.get(&m.id).unwrap_or(&empty), &topics),
            })
            .collect();
        Ok(ConsumerGroupDescription {
            group_id: g.id.clone(),
            state: cg.state_name(),
            group_epoch: cg.epoch,
            assignment_epoch: cg.assignment_epoch,
            assignor: cg.assignor.clone(),
            members,
        })
    }

    /// OffsetFetch v9's member check (Kafka's `validateOffsetFetch`): in a consumer group, a
    /// fetch naming a member (or an epoch >= 0) needs that member at that epoch; a fetch with
    /// neither (admin tools, older clients) and fetches from other groups pass.
    /// Errors: `UnknownMemberId`, `StaleMemberEpoch`.
    pub fn check_fetch_member(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        epoch: i32,
    ) -> Result<(), GroupError> {
        if member_id.is_none() && epoch < 0 {
            return Ok(());
        }
        let Some(group) = self.shared.lookup(group_id) else {
            return Ok(());
        };
        let g = group.lock();
        let Some(cg) = g.consumer.as_deref() else {
            return Ok(());
        };
        let m = cg
            .members
            .get(member_id.unwrap_or_default())
            .ok_or(GroupError::UnknownMemberId)?;
        if m.epoch != epoch {
            return Err(super::stale_epoch(m));
        }
        Ok(())
    }

    /// Whether `group_id` names a consumer (KIP-848) group.
    pub fn is_consumer_group(&self, group_id: &str) -> bool {
        self.shared
            .lookup(group_id)
            .is_some_and(|g| g.lock().consumer.is_some())
    }
}

impl super::ConsumerGroup {
    /// Kafka's `validateOffsetCommit` for a consumer group: a commit without a member
    /// (epoch < 0) only while the group has no members; else the member must exist and name
    /// its current epoch. Errors: `UnknownMemberId`, `StaleMemberEpoch` (`IllegalGeneration`
    /// for a classic member).
    pub(crate) fn check_commit(&self, member_id: &str, epoch: i32) -> Result<(), GroupError> {
        if epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let m = self
            .members
            .get(member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        if m.epoch != epoch {
            return Err(super::stale_epoch(m));
        }
        Ok(())
    }
}
