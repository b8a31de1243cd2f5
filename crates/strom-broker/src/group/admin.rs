//! Group administration: ListGroups, DescribeGroups and DeleteGroups.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::coordinator::Shared;
use super::metadata::Group;
use super::{
    GroupCoordinator, GroupDescription, GroupError, GroupListing, GroupState, MemberDescription,
};

impl Shared {
    /// Deletes the group if `handle` is still the registered group and it is still empty
    /// (no members, no pending members, no offsets); writes its tombstone.
    pub(crate) fn delete_if_unchanged(&self, group_id: &str, handle: &Arc<Mutex<Group>>) -> bool {
        let mut map = self.groups.lock();
        if !map.get(group_id).is_some_and(|g| Arc::ptr_eq(g, handle)) {
            return false;
        }
        let mut g = handle.lock();
        let empty = g.members.is_empty() && g.pending_members.is_empty() && g.offsets.is_empty();
        if !empty || g.state != GroupState::Empty {
            return false;
        }
        g.removed = true;
        g.state = GroupState::Dead;
        map.remove(group_id);
        self.write_group_record(group_id, None);
        self.persist_consumer(&mut g, &std::collections::BTreeMap::new());
        true
    }
}

impl GroupCoordinator {
    /// ListGroups, optionally filtered by state (v4+) and protocol type (v5+); an empty filter
    /// matches everything. Sorted by group id.
    pub fn list_groups(&self, states: &[GroupState], types: &[String]) -> Vec<GroupListing> {
        let groups: Vec<_> = self.shared.groups.lock().values().cloned().collect();
        let mut listings: Vec<GroupListing> = groups
            .iter()
            .filter_map(|group| {
                let g = group.lock();
                let protocol_type = g.protocol_type.clone().unwrap_or_default();
                let wanted = !g.removed
                    && (states.is_empty() || states.contains(&g.state))
                    && (types.is_empty()
                        || types.iter().any(|t| t.eq_ignore_ascii_case(&protocol_type)));
                wanted.then(|| GroupListing {
                    group_id: g.id.clone(),
                    protocol_type,
                    state: g.state,
                    group_type: if g.consumer.is_some() {
                        "consumer"
                    } else {
                        "classic"
                    },
                    state_name: g
                        .consumer
                        .as_ref()
                        .map_or(g.state.as_str(), |c| c.state_name()),
                })
            })
            .collect();
        listings.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        listings
    }

    /// DescribeGroups; an unknown group is described as `Dead` with no members (Kafka's answer).
    pub fn describe_groups(&self, group_ids: &[String]) -> Vec<GroupDescription> {
        group_ids.iter().map(|id| self.describe_group(id)).collect()
    }

    fn describe_group(&self, group_id: &str) -> GroupDescription {
        let dead = GroupDescription {
            group_id: group_id.to_string(),
            state: GroupState::Dead,
            protocol_type: String::new(),
            protocol: String::new(),
            generation_id: -1,
            leader_id: None,
            members: Vec::new(),
        };
        let Some(group) = self.shared.lookup(group_id) else {
            return dead;
        };
        let g = group.lock();
        if g.removed {
            return dead;
        }
        // Like Kafka, metadata and assignments are shown only once they are settled.
        let stable = g.state == GroupState::Stable;
        let protocol = g.protocol.clone().unwrap_or_default();
        GroupDescription {
            group_id: group_id.to_string(),
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: protocol.clone(),
            generation_id: g.generation,
            leader_id: g.leader.clone(),
            members: g
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        }
    }

    /// DeleteGroups: deletes each group without members, with its committed offsets.
    /// Per-group errors: `InvalidGroupId`, `GroupIdNotFound`, `NonEmptyGroup`, `Storage`.
    pub async fn delete_groups(&self, group_ids: &[String]) -> Vec<(String, Option<GroupError>)> {
        let shared = &*self.shared;
        let mut outcomes = Vec::with_capacity(group_ids.len());
        for id in group_ids {
            let pending = {
                let mut map = shared.groups.lock();
                let Some(group) = map.get(id).cloned() else {
                    let error = if id.is_empty() {
                        GroupError::InvalidGroupId
                    } else {
                        GroupError::GroupIdNotFound
                    };
                    outcomes.push((id.clone(), Some(error)));
                    continue;
                };
                let mut g = group.lock();
                if !g.members.is_empty() || g.state != GroupState::Empty {
                    outcomes.push((id.clone(), Some(GroupError::NonEmptyGroup)));
                    continue;
                }
                g.removed = true;
                g.state = GroupState::Dead;
                map.remove(id);
                let mut records: Vec<_> = g
                    .offsets
                    .keys()
                    .map(|(topic, partition)| shared.offset_record(id, topic, *partition, None))
                    .collect();
                g.offsets.clear();
                records.push(shared.group_record(id, None));
                records.extend(shared.consumer_diff(&mut g, Default::default()));
                shared.writer.write(shared.partition_for(id), records)
            };
            let written = pending
                .await
                .unwrap_or(Err(GroupError::CoordinatorNotAvailable));
            outcomes.push((id.clone(), written.err()));
        }
        outcomes
    }
}
