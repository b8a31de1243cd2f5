//! The target assignment of a consumer group: when a new one is due (the group epoch moved
//! past it, or a subscribed topic appeared, vanished or grew) and which assignor computes it.

use std::collections::{BTreeMap, BTreeSet};

use super::{assign, ConsumerGroup, TopicMeta};
use crate::group::coordinator::Shared;

impl Shared {
    /// Bumps the group epoch if a subscribed topic appeared, vanished or grew, and computes
    /// a new target assignment when the group epoch is ahead of it.
    pub(crate) fn refresh_target(
        &self,
        cg: &mut ConsumerGroup,
        topics: &BTreeMap<String, TopicMeta>,
    ) {
        let snapshot: BTreeMap<String, TopicMeta> = cg
            .members
            .values()
            .flat_map(|m| m.subscribed.iter())
            .filter_map(|t| topics.get(t).map(|meta| (t.clone(), *meta)))
            .collect();
        if snapshot != cg.topics {
            cg.epoch += 1;
        }
        if cg.assignment_epoch >= cg.epoch {
            return;
        }
        let assignor = self.choose_assignor(cg);
        let members: BTreeMap<String, BTreeSet<String>> = cg
            .members
            .values()
            .map(|m| (m.id.clone(), m.subscribed.clone()))
            .collect();
        let counts = snapshot
            .iter()
            .map(|(t, m)| (t.clone(), m.partitions))
            .collect();
        cg.target = assign(&assignor, &members, &counts, &cg.target);
        cg.topics = snapshot;
        cg.assignment_epoch = cg.epoch;
        cg.assignor = assignor;
    }

    /// The assignor most members ask for, else the first configured one.
    pub(crate) fn choose_assignor(&self, cg: &ConsumerGroup) -> String {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in cg.members.values() {
            if let Some(a) = m.server_assignor.as_deref().filter(|a| !a.is_empty()) {
                *votes.entry(a).or_default() += 1;
            }
        }
        let default = self.config.consumer_assignors.first().cloned();
        votes
            .into_iter()
            .max_by_key(|(name, n)| (*n, std::cmp::Reverse(*name)))
            .map(|(name, _)| name.to_string())
            .or(default)
            .unwrap_or_else(|| super::ASSIGNORS[0].to_string())
    }
}
