//! Classic members of a consumer group (Kafka's `classicGroup*ToConsumerGroup`): a consumer
//! using JoinGroup/SyncGroup/Heartbeat/LeaveGroup in a group that is a KIP-848 group.
//!
//! - **JoinGroup** records the member: its subscription decoded from the ConsumerProtocol
//!   bytes of its first protocol, and its session timeout and protocols as [`ClassicMeta`];
//!   the target assignment is recomputed by the server-side assignor and the member takes one
//!   reconciliation step with the partitions its subscription says it owns. The answer's
//!   generation is the member epoch, with no leader: nobody computes an assignment.
//! - **SyncGroup** returns what the member may own now (never a partition another member has
//!   not released yet), in the ConsumerProtocol assignment format.
//! - **Heartbeat** answers REBALANCE_IN_PROGRESS when the member must rejoin: the group epoch
//!   moved past its epoch, it has partitions to give up (it keeps only the rest in its next
//!   SyncGroup, then rejoins once more to get new ones), or target partitions are free now.
//!   From then it has its rebalance timeout to rejoin; its session timeout applies throughout.
//! - **LeaveGroup** removes it; the last consumer-protocol member leaving downgrades the group.

use std::collections::BTreeSet;

use tokio::time::Instant;

use super::convert::{assignment_bytes, to_parts};
use super::heartbeat::{new_member, take_over};
use super::{holds, ClassicMeta, ConsumerGroup, ConsumerMember};
use crate::group::consumer_protocol::decode_subscription;
use crate::group::coordinator::Shared;
use crate::group::metadata::Group;
use crate::group::{
    GroupError, GroupProtocol, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
    LeavingMember, SyncGroupRequest, SyncGroupResponse,
};

const PROTOCOL_TYPE: &str = "consumer";

impl Shared {
    /// JoinGroup of a classic member into the consumer group `g` (which has members).
    /// Errors: `InconsistentGroupProtocol`, `MemberIdRequired`, `UnknownMemberId`,
    /// `FencedInstanceId`, `GroupMaxSizeReached`.
    pub(crate) fn classic_join_consumer(
        &self,
        g: &mut Group,
        req: JoinGroupRequest,
    ) -> Result<JoinGroupResponse, GroupError> {
        let topics = self.storage.topic_metadata();
        let group_id = g.id.clone();
        let Some(cg) = g.consumer.as_deref_mut() else {
            return Err(GroupError::CoordinatorNotAvailable);
        };
        let Some(first) = req.protocols.first() else {
            return Err(GroupError::InconsistentGroupProtocol);
        };
        if req.protocol_type != PROTOCOL_TYPE || !supports(cg, &req.member_id, &req.protocols) {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        let subscription = decode_subscription(&first.metadata)?;
        let protocol_name = first.name.clone();
        let (id, created) = self.classic_member_id(cg, &req)?;
        let Some(m) = cg.members.get_mut(&id) else {
            return Err(GroupError::UnknownMemberId);
        };
        if req.group_instance_id.is_some() {
            m.instance_id = req.group_instance_id.clone();
        }
        m.rebalance_timeout = req.rebalance_timeout;
        m.server_assignor = None;
        m.regex = None;
        m.topic_names = subscription.topics.clone();
        m.client_id = req.client_id;
        m.client_host = req.client_host;
        m.classic = Some(ClassicMeta {
            session_timeout: req.session_timeout,
            protocols: req.protocols,
        });
        m.session_deadline = Instant::now() + req.session_timeout;
        // It rejoined: no rejoin deadline now (a new one comes with partitions to give up).
        m.revoke_deadline = None;
        let subscribed: BTreeSet<String> = subscription.topics.into_iter().collect();
        if subscribed != m.subscribed {
            m.subscribed = subscribed;
            cg.epoch += 1;
        }
        let deadline = m.session_deadline;
        self.refresh_target(cg, &topics);
        cg.reconcile(&id, Some(&to_parts(subscription.owned_partitions)));
        if created {
            self.spawn_consumer_timer(&group_id, &id, deadline);
        }
        let epoch = cg.members.get(&id).map_or(0, |m| m.epoch);
        tracing::debug!(group = %group_id, member = %id, epoch, "classic member joined the consumer group");
        Ok(JoinGroupResponse {
            generation_id: epoch,
            protocol_type: Some(PROTOCOL_TYPE.to_string()),
            protocol_name: Some(protocol_name),
            leader_id: String::new(),
            member_id: id,
            members: Vec::new(),
            skip_assignment: false,
        })
    }

    /// The member a classic JoinGroup is for, created if new (`true`); a new incarnation of
    /// a static member takes over the old one's place and assignment.
    fn classic_member_id(
        &self,
        cg: &mut ConsumerGroup,
        req: &JoinGroupRequest,
    ) -> Result<(String, bool), GroupError> {
        if let Some(instance) = &req.group_instance_id {
            if let Some(old) = cg.by_instance(instance) {
                let old_id = old.id.clone();
                if req.member_id.is_empty() {
                    let id = self.new_member_id(instance);
                    take_over(cg, &old_id, &id);
                    return Ok((id, true));
                }
                if old_id != req.member_id {
                    return Err(GroupError::FencedInstanceId);
                }
                return Ok((old_id, false));
            }
        } else if req.member_id.is_empty() && req.require_known_member_id {
            let member_id = self.new_member_id(&req.client_id);
            return Err(GroupError::MemberIdRequired { member_id });
        }
        if let Some(m) = cg.members.get(&req.member_id) {
            if m.classic.is_none() {
                return Err(GroupError::UnknownMemberId);
            }
            return Ok((m.id.clone(), false));
        }
        if cg.members.len() >= self.config.max_group_size {
            return Err(GroupError::GroupMaxSizeReached);
        }
        let id = match (&req.group_instance_id, req.member_id.is_empty()) {
            (_, false) => req.member_id.clone(),
            (Some(instance), true) => self.new_member_id(instance),
            (None, true) => self.new_member_id(&req.client_id),
        };
        // The group epoch moves with its subscription, in the caller.
        cg.members
            .insert(id.clone(), new_member(&id, req.group_instance_id.clone()));
        Ok((id, true))
    }

    /// SyncGroup of a classic member of a consumer group. Errors: `UnknownMemberId`,
    /// `FencedInstanceId`, `IllegalGeneration`, `InconsistentGroupProtocol`,
    /// `RebalanceInProgress`.
    pub(crate) fn classic_sync_consumer(
        &self,
        g: &mut Group,
        req: &SyncGroupRequest,
    ) -> Result<SyncGroupResponse, GroupError> {
        let Some(cg) = g.consumer.as_deref_mut() else {
            return Err(GroupError::CoordinatorNotAvailable);
        };
        let id = find_classic(cg, &req.member_id, req.group_instance_id.as_deref())?;
        let group_epoch = cg.epoch;
        let Some(m) = cg.members.get_mut(&id) else {
            return Err(GroupError::UnknownMemberId);
        };
        if req.generation_id != m.epoch {
            return Err(GroupError::IllegalGeneration);
        }
        let Some(classic) = &m.classic else {
            return Err(GroupError::UnknownMemberId);
        };
        let name = classic.protocols.first().map(|p| p.name.clone());
        let type_mismatch = req
            .protocol_type
            .as_deref()
            .is_some_and(|t| t != PROTOCOL_TYPE);
        let name_mismatch = req.protocol_name.is_some() && req.protocol_name != name;
        if type_mismatch || name_mismatch {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        m.session_deadline = Instant::now() + classic.session_timeout;
        if group_epoch > m.epoch && m.revoking.is_empty() {
            rejoin_by(m);
            return Err(GroupError::RebalanceInProgress);
        }
        Ok(SyncGroupResponse {
            protocol_type: Some(PROTOCOL_TYPE.to_string()),
            protocol_name: req.protocol_name.clone().or(name),
            assignment: assignment_bytes(&m.assigned),
        })
    }

    /// Heartbeat of a classic member of a consumer group. Errors: `UnknownMemberId`,
    /// `FencedInstanceId`, `IllegalGeneration`, `RebalanceInProgress` (it must rejoin).
    pub(crate) fn classic_heartbeat_consumer(
        &self,
        g: &mut Group,
        req: &HeartbeatRequest,
    ) -> Result<(), GroupError> {
        let Some(cg) = g.consumer.as_deref_mut() else {
            return Err(GroupError::CoordinatorNotAvailable);
        };
        let id = find_classic(cg, &req.member_id, req.group_instance_id.as_deref())?;
        let rejoin = cg.must_rejoin(&id);
        let Some(m) = cg.members.get_mut(&id) else {
            return Err(GroupError::UnknownMemberId);
        };
        if req.generation_id != m.epoch {
            return Err(GroupError::IllegalGeneration);
        }
        if let Some(classic) = &m.classic {
            m.session_deadline = Instant::now() + classic.session_timeout;
        }
        if rejoin {
            rejoin_by(m);
            return Err(GroupError::RebalanceInProgress);
        }
        Ok(())
    }

    /// LeaveGroup of one classic member of a consumer group (by instance id alone for a
    /// static member). Errors: `UnknownMemberId`, `FencedInstanceId`.
    pub(crate) fn classic_leave_consumer(
        &self,
        g: &mut Group,
        leaving: &LeavingMember,
    ) -> Result<(), GroupError> {
        let Some(cg) = g.consumer.as_deref() else {
            return Err(GroupError::UnknownMemberId);
        };
        let instance = leaving.group_instance_id.as_deref();
        let id = match (leaving.member_id.is_empty(), instance) {
            (true, Some(instance)) => {
                let m = cg
                    .by_instance(instance)
                    .ok_or(GroupError::UnknownMemberId)?;
                find_classic(cg, &m.id, Some(instance))?
            }
            _ => find_classic(cg, &leaving.member_id, instance)?,
        };
        self.remove_consumer_member(g, &id, "left the group");
        Ok(())
    }
}

/// Kafka's `validateConsumerGroupMember` plus "uses the classic protocol".
/// Errors: `UnknownMemberId`, `FencedInstanceId`.
fn find_classic(
    cg: &ConsumerGroup,
    member_id: &str,
    instance: Option<&str>,
) -> Result<String, GroupError> {
    let m = match instance {
        Some(instance) => {
            let m = cg
                .by_instance(instance)
                .ok_or(GroupError::UnknownMemberId)?;
            if m.id != member_id {
                return Err(GroupError::FencedInstanceId);
            }
            m
        }
        None => cg
            .members
            .get(member_id)
            .ok_or(GroupError::UnknownMemberId)?,
    };
    if m.classic.is_none() || m.departed {
        return Err(GroupError::UnknownMemberId);
    }
    Ok(m.id.clone())
}

/// Kafka's `supportsClassicProtocols`: one of the protocols is supported by every other
/// classic member.
fn supports(cg: &ConsumerGroup, member_id: &str, protocols: &[GroupProtocol]) -> bool {
    let others: Vec<&ClassicMeta> = cg
        .members
        .values()
        .filter(|m| m.id != member_id)
        .filter_map(|m| m.classic.as_ref())
        .collect();
    protocols.iter().any(|p| {
        others
            .iter()
            .all(|c| c.protocols.iter().any(|q| q.name == p.name))
    })
}

/// The member was told to rejoin: it has its rebalance timeout to do so.
fn rejoin_by(m: &mut ConsumerMember) {
    if m.revoke_deadline.is_none() {
        m.revoke_deadline = Some(Instant::now() + m.rebalance_timeout);
    }
}

impl ConsumerGroup {
    /// Whether a classic member must rejoin (Kafka's heartbeat rule): the group epoch moved
    /// past it, it has partitions to give up, or every target partition it lacks is free.
    pub(super) fn must_rejoin(&self, id: &str) -> bool {
        let Some(m) = self.members.get(id) else {
            return false;
        };
        if m.epoch < self.epoch || !m.revoking.is_empty() {
            return true;
        }
        let Some(target) = self.target.get(id) else {
            return false;
        };
        let held = self.held_by_others(id);
        let mut missing = target
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t, *p)))
            .filter(|(t, p)| !holds(&m.assigned, t, *p))
            .peekable();
        missing.peek().is_some() && missing.all(|(t, p)| !holds(&held, t, p))
    }
}
