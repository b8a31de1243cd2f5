//! The rebalance state machine: the transitions between [`GroupState`]s that joins, leaves,
//! session expiries and rebalance timeouts cause. Every function runs with the group locked
//! and only queues work (timers, detached writes) — it never awaits.

use bytes::Bytes;
use tokio::time::Instant;

use super::codec::{GroupValue, StoredMember};
use super::coordinator::{now_ms, Shared};
use super::metadata::{Group, Member};
use super::{GroupError, GroupState};

impl Shared {
    /// Adds a member (already holding its join waiter) and arms its session timer.
    pub(crate) fn add_member(&self, g: &mut Group, member: Member) {
        if let Some(instance) = &member.instance_id {
            g.static_members.insert(instance.clone(), member.id.clone());
        }
        self.spawn_session_timer(&g.id, &member.id, member.session_deadline);
        g.members.insert(member.id.clone(), member);
    }

    /// Moves the group to PreparingRebalance: answers pending SyncGroups with
    /// REBALANCE_IN_PROGRESS and gives members the rebalance timeout to rejoin.
    pub(crate) fn prepare_rebalance(&self, g: &mut Group) {
        if g.state == GroupState::CompletingRebalance {
            for member in g.members.values_mut() {
                member.assignment = Bytes::new();
                if let Some(waiter) = member.sync_waiter.take() {
                    let _ = waiter.send(Err(GroupError::RebalanceInProgress));
                }
            }
        }
        let was_empty = g.state == GroupState::Empty;
        g.state = GroupState::PreparingRebalance;
        g.state_timestamp_ms = now_ms();
        g.pending_sync.clear();
        g.rebalance_epoch += 1;
        let now = Instant::now();
        let timeout = g.max_rebalance_timeout();
        g.join_deadline_max = now + timeout;
        // Kafka's InitialDelayedJoin: the first rebalance of an empty group waits a little
        // for more members so a starting fleet does not rebalance once per member.
        let delay = self.config.initial_rebalance_delay;
        g.initial_delay = was_empty && !delay.is_zero();
        g.join_deadline = if g.initial_delay {
            now + delay.min(timeout)
        } else {
            g.join_deadline_max
        };
        self.spawn_join_timer(&g.id, g.rebalance_epoch);
    }

    /// Within the initial delay, a newly joined member pushes the deadline out again.
    pub(crate) fn extend_initial_delay(&self, g: &mut Group) {
        if g.initial_delay {
            let extended = Instant::now() + self.config.initial_rebalance_delay;
            g.join_deadline = extended.min(g.join_deadline_max).max(g.join_deadline);
        }
    }

    /// Completes the join phase if every known member has rejoined.
    pub(crate) fn maybe_complete_join(&self, g: &mut Group) {
        if g.state == GroupState::PreparingRebalance
            && !g.initial_delay
            && g.pending_members.is_empty()
            && g.members.values().all(Member::has_joined)
        {
            self.complete_join(g);
        }
    }

    /// Ends the join phase (all rejoined, or the rebalance timeout passed): drops dynamic
    /// members that did not rejoin, starts the next generation, selects the protocol and the
    /// leader, and answers every waiting JoinGroup.
    pub(crate) fn complete_join(&self, g: &mut Group) {
        // Static members keep their place: they are expected back under the same instance id
        // and only leave by session timeout (KIP-345).
        let gone: Vec<String> = g
            .members
            .values()
            .filter(|m| !m.has_joined() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::debug!(group = %g.id, member = %id, "member did not rejoin in time");
            self.drop_member(g, &id, GroupError::UnknownMemberId);
        }
        g.generation += 1;
        g.state_timestamp_ms = now_ms();
        g.rebalance_epoch += 1;
        if g.members.is_empty() {
            g.state = GroupState::Empty;
            g.protocol = None;
            g.leader = None;
            self.persist_group(g);
            return;
        }
        g.protocol = g.select_protocol();
        let leader_ok = g
            .leader
            .as_ref()
            .and_then(|l| g.members.get(l))
            .is_some_and(Member::has_joined);
        if !leader_ok {
            g.leader = g
                .members
                .values()
                .find(|m| m.has_joined())
                .or_else(|| g.members.values().next())
                .map(|m| m.id.clone());
        }
        g.state = GroupState::CompletingRebalance;
        g.pending_sync = g.members.keys().cloned().collect();
        let ids: Vec<String> = g.members.keys().cloned().collect();
        for id in ids {
            let response = g.join_response(&id);
            if let Some(member) = g.members.get_mut(&id) {
                member.assignment = Bytes::new();
                member.touch();
                if let Some(waiter) = member.join_waiter.take() {
                    let _ = waiter.send(Ok(response));
                }
            }
        }
        tracing::info!(group = %g.id, generation = g.generation, members = g.members.len(),
            protocol = g.protocol.as_deref().unwrap_or(""), "rebalance: members joined");
        let deadline = Instant::now() + g.max_rebalance_timeout();
        self.spawn_sync_timer(&g.id, g.rebalance_epoch, deadline);
    }

    /// The leader's SyncGroup: stores every member's assignment, answers waiting SyncGroups
    /// and makes the group Stable.
    pub(crate) fn complete_sync(&self, g: &mut Group, assignments: Vec<(String, Bytes)>) {
        for (member_id, assignment) in assignments {
            if let Some(member) = g.members.get_mut(&member_id) {
                member.assignment = assignment;
            }
        }
        g.state = GroupState::Stable;
        g.state_timestamp_ms = now_ms();
        let protocol_type = g.protocol_type.clone();
        let protocol = g.protocol.clone();
        for member in g.members.values_mut() {
            if let Some(waiter) = member.sync_waiter.take() {
                let _ = waiter.send(Ok(super::SyncGroupResponse {
                    protocol_type: protocol_type.clone(),
                    protocol_name: protocol.clone(),
                    assignment: member.assignment.clone(),
                }));
            }
        }
        tracing::info!(group = %g.id, generation = g.generation, "rebalance: group stable");
        self.persist_group(g);
    }

    /// Removes a member (leave, session expiry, sync timeout) and rebalances the rest.
    pub(crate) fn remove_member(&self, g: &mut Group, member_id: &str, reason: &str) {
        if !g.members.contains_key(member_id) {
            return;
        }
        tracing::info!(group = %g.id, member = %member_id, reason, "member removed");
        self.drop_member(g, member_id, GroupError::UnknownMemberId);
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(g);
                self.maybe_complete_join(g);
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(g),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Takes a member out of the group, failing its waiting requests with `error`.
    pub(crate) fn drop_member(&self, g: &mut Group, member_id: &str, error: GroupError) {
        let Some(member) = g.members.remove(member_id) else {
            return;
        };
        if let Some(instance) = &member.instance_id {
            if g.static_members.get(instance).map(String::as_str) == Some(member_id) {
                g.static_members.remove(instance);
            }
        }
        g.pending_sync.remove(member_id);
        if let Some(waiter) = member.join_waiter {
            let _ = waiter.send(Err(error.clone()));
        }
        if let Some(waiter) = member.sync_waiter {
            let _ = waiter.send(Err(error));
        }
        if g.is_leader(member_id) {
            g.leader = None;
        }
    }

    /// Queues the group's metadata record; members keep their place across a restart.
    pub(crate) fn persist_group(&self, g: &Group) {
        let protocol = g.protocol.clone().unwrap_or_default();
        let value = GroupValue {
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            generation: g.generation,
            protocol: g.protocol.clone(),
            leader: g.leader.clone(),
            state_timestamp_ms: g.state_timestamp_ms,
            members: g
                .members
                .values()
                .map(|m| StoredMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: duration_ms(m.session_timeout),
                    rebalance_timeout_ms: duration_ms(m.rebalance_timeout),
                    subscription: m.metadata(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        };
        self.write_group_record(&g.id, Some(value));
    }
}

pub(crate) fn duration_ms(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
