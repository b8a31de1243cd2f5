//! The classic protocol's requests after the join: SyncGroup (the leader hands in the
//! assignment), Heartbeat and LeaveGroup. JoinGroup, which may start a rebalance, stays in
//! `coordinator.rs`. In a consumer group, classic members are served by the consumer group
//! (`consumer/classic.rs`).

use tokio::sync::oneshot;

use super::metadata::Group;
use super::{
    GroupCoordinator, GroupError, GroupState, HeartbeatRequest, LeaveResult, LeavingMember,
    SyncGroupRequest, SyncGroupResponse,
};

impl GroupCoordinator {
    /// SyncGroup: the leader hands in the assignment; everyone waits for it (or gets it at once
    /// if the group is already Stable).
    ///
    /// Errors: `UnknownMemberId`, `FencedInstanceId`, `IllegalGeneration`,
    /// `InconsistentGroupProtocol` (v5+ type/name mismatch), `RebalanceInProgress` (a new
    /// rebalance started first), `CoordinatorNotAvailable`.
    pub async fn sync_group(&self, req: SyncGroupRequest) -> Result<SyncGroupResponse, GroupError> {
        let group = self
            .shared
            .lookup(&req.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        let rx = {
            let mut g = group.lock();
            if g.removed {
                return Err(GroupError::CoordinatorNotAvailable);
            }
            if g.consumer.is_some() {
                return self.shared.classic_sync_consumer(&mut g, &req);
            }
            g.check_fenced(&req.member_id, req.group_instance_id.as_deref())?;
            if !g.members.contains_key(&req.member_id) {
                return Err(GroupError::UnknownMemberId);
            }
            if req.generation_id != g.generation {
                return Err(GroupError::IllegalGeneration);
            }
            let type_mismatch = req
                .protocol_type
                .as_ref()
                .is_some_and(|t| Some(t) != g.protocol_type.as_ref());
            let name_mismatch = req
                .protocol_name
                .as_ref()
                .is_some_and(|n| Some(n) != g.protocol.as_ref());
            if type_mismatch || name_mismatch {
                return Err(GroupError::InconsistentGroupProtocol);
            }
            match g.state {
                GroupState::Empty => return Err(GroupError::UnknownMemberId),
                GroupState::Dead => return Err(GroupError::CoordinatorNotAvailable),
                GroupState::PreparingRebalance => return Err(GroupError::RebalanceInProgress),
                GroupState::Stable => {
                    g.pending_sync.remove(&req.member_id);
                    let Some(member) = g.members.get_mut(&req.member_id) else {
                        return Err(GroupError::UnknownMemberId);
                    };
                    member.touch();
                    let assignment = member.assignment.clone();
                    return Ok(g.sync_response(assignment));
                }
                GroupState::CompletingRebalance => {
                    let (tx, rx) = oneshot::channel();
                    g.pending_sync.remove(&req.member_id);
                    if let Some(member) = g.members.get_mut(&req.member_id) {
                        member.touch();
                        if let Some(old) = member.sync_waiter.replace(tx) {
                            let _ = old.send(Err(GroupError::RebalanceInProgress));
                        }
                    }
                    if g.is_leader(&req.member_id) {
                        self.shared.complete_sync(&mut g, req.assignments);
                    }
                    rx
                }
            }
        };
        rx.await.unwrap_or(Err(GroupError::CoordinatorNotAvailable))
    }

    /// Heartbeat: keeps the member's session alive.
    ///
    /// Errors: `UnknownMemberId`, `FencedInstanceId`, `IllegalGeneration`,
    /// `RebalanceInProgress` (the member must rejoin), `CoordinatorNotAvailable`.
    pub fn heartbeat(&self, req: HeartbeatRequest) -> Result<(), GroupError> {
        let group = self
            .shared
            .lookup(&req.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        let mut g = group.lock();
        if g.removed || g.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if g.consumer.is_some() {
            return self.shared.classic_heartbeat_consumer(&mut g, &req);
        }
        let state = g.touch_current_member(
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id,
        )?;
        match state {
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            // A member may heartbeat between its JoinGroup answer and its SyncGroup.
            GroupState::CompletingRebalance | GroupState::Stable => Ok(()),
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
        }
    }

    /// LeaveGroup (v3+ may remove several members, static ones by instance id alone).
    /// Per-member errors: `UnknownMemberId`, `FencedInstanceId`.
    /// Errors: `UnknownMemberId` if the group does not exist, `CoordinatorNotAvailable`.
    pub fn leave_group(
        &self,
        group_id: &str,
        members: &[LeavingMember],
    ) -> Result<Vec<LeaveResult>, GroupError> {
        let group = self
            .shared
            .lookup(group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        let mut g = group.lock();
        if g.removed || g.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        let consumer = g.consumer.is_some();
        let results = members
            .iter()
            .map(|leaving| LeaveResult {
                member_id: leaving.member_id.clone(),
                group_instance_id: leaving.group_instance_id.clone(),
                error: self.leave_one(&mut g, leaving).err(),
            })
            .collect();
        if consumer {
            let topics = self.shared.storage.topic_metadata();
            self.shared.persist_consumer(&mut g, &topics);
        }
        Ok(results)
    }

    fn leave_one(&self, g: &mut Group, leaving: &LeavingMember) -> Result<(), GroupError> {
        if g.consumer.is_some() {
            return self.shared.classic_leave_consumer(g, leaving);
        }
        let instance = leaving.group_instance_id.as_deref();
        let member_id = match (leaving.member_id.as_str(), instance) {
            ("", Some(instance)) => g
                .static_members
                .get(instance)
                .cloned()
                .ok_or(GroupError::UnknownMemberId)?,
            (id, _) => {
                g.check_fenced(id, instance)?;
                id.to_string()
            }
        };
        if g.pending_members.remove(&member_id) {
            self.shared.maybe_complete_join(g);
            return Ok(());
        }
        if !g.members.contains_key(&member_id) {
            return Err(GroupError::UnknownMemberId);
        }
        self.shared.remove_member(g, &member_id, "left the group");
        Ok(())
    }
}
