//! In-memory state of one group: [`Group`] with its [`Member`]s and committed offsets, plus
//! the pure queries the rebalance logic needs (protocol selection, join responses). No
//! timers and no I/O here: transitions live in `rebalance.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{
    GroupError, GroupProtocol, GroupState, JoinGroupResponse, JoinedMember, SyncGroupResponse,
};

pub(crate) type JoinWaiter = oneshot::Sender<Result<JoinGroupResponse, GroupError>>;
pub(crate) type SyncWaiter = oneshot::Sender<Result<SyncGroupResponse, GroupError>>;

pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// In the member's order of preference.
    pub protocols: Vec<GroupProtocol>,
    /// The leader's assignment for this member in the current generation.
    pub assignment: Bytes,
    /// Set while the member waits in JoinGroup for the rebalance to complete.
    pub join_waiter: Option<JoinWaiter>,
    /// Set while the member waits in SyncGroup for the leader's assignment.
    pub sync_waiter: Option<SyncWaiter>,
    /// The member is removed if it is not heard from (heartbeat, join, sync, commit) by then.
    pub session_deadline: Instant,
}

impl Member {
    /// A member has rejoined in this rebalance if its JoinGroup is still waiting; a waiter
    /// whose client went away (connection closed) does not count, so a rebalance does not
    /// stall on a member that can no longer receive the answer.
    pub fn has_joined(&self) -> bool {
        self.join_waiter.as_ref().is_some_and(|w| !w.is_closed())
    }

    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    pub fn touch(&mut self) {
        self.session_deadline = Instant::now() + self.session_timeout;
    }
}

/// A committed offset with where its record sits in `__consumer_offsets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Offset of the record in `__consumer_offsets`. Commits of one group are written in
    /// order but their acknowledgements may be applied out of order; the newer record wins.
    pub position: i64,
}

pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    /// Wall-clock time of the last state change; offset expiry of an empty group counts from it.
    pub state_timestamp_ms: i64,
    pub generation: i32,
    /// `None` for a group that only ever received standalone commits.
    pub protocol_type: Option<String>,
    /// The protocol selected in the current generation.
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// `group.instance.id` → current member id of each static member.
    pub static_members: HashMap<String, String>,
    /// Ids handed out with MEMBER_ID_REQUIRED that have not rejoined yet (KIP-394).
    pub pending_members: HashSet<String>,
    /// Members of the current generation that have not sent SyncGroup yet.
    pub pending_sync: HashSet<String>,
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// Bumped on every rebalance step, so a timer armed for an earlier step does nothing.
    pub rebalance_epoch: u64,
    /// When the current PreparingRebalance gives up on members that have not rejoined.
    pub join_deadline: Instant,
    /// Latest the join deadline may be pushed by the initial rebalance delay.
    pub join_deadline_max: Instant,
    /// True during the initial delay of a rebalance of an empty group: no early completion.
    pub initial_delay: bool,
    /// Set when the group is deleted; holders of the old handle must not use it.
    pub removed: bool,
    /// `Some` for a KIP-848 consumer group (whose members are not in `members`).
    pub consumer: Option<Box<super::consumer::ConsumerGroup>>,
    /// The KIP-848 records last queued for this group (`consumer/persist.rs`), by key.
    pub consumer_written: BTreeMap<super::codec_consumer::ConsumerKey, bytes::Bytes>,
}

impl Group {
    pub fn new(id: String, now_ms: i64) -> Group {
        let now = Instant::now();
        Group {
            id,
            state: GroupState::Empty,
            state_timestamp_ms: now_ms,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_members: HashSet::new(),
            pending_sync: HashSet::new(),
            offsets: BTreeMap::new(),
            rebalance_epoch: 0,
            join_deadline: now,
            join_deadline_max: now,
            initial_delay: false,
            removed: false,
            consumer: None,
            consumer_written: BTreeMap::new(),
        }
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// Checks a request naming both a member id and an instance id against the static member
    /// registry: another member id registered for the instance means this one is stale.
    pub fn check_fenced(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        match instance_id.and_then(|i| self.static_members.get(i)) {
            Some(current) if current != member_id => Err(GroupError::FencedInstanceId),
            _ => Ok(()),
        }
    }

    /// Checks that `member_id` (with `instance_id`, if static) is a member of the current
    /// generation and touches its session; the group's state, for the caller's own rules.
    /// Errors: `FencedInstanceId`, `UnknownMemberId`, `IllegalGeneration`.
    pub fn touch_current_member(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<GroupState, GroupError> {
        self.check_fenced(member_id, instance_id)?;
        let generation = self.generation;
        let Some(member) = self.members.get_mut(member_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        if generation_id != generation {
            return Err(GroupError::IllegalGeneration);
        }
        member.touch();
        Ok(self.state)
    }

    /// Protocol names every member supports, in the first member's order of preference.
    pub fn candidate_protocols(&self) -> Vec<String> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return Vec::new();
        };
        let mut candidates: Vec<String> = first.protocols.iter().map(|p| p.name.clone()).collect();
        for member in members {
            candidates.retain(|c| member.protocols.iter().any(|p| &p.name == c));
        }
        candidates
    }

    /// Whether a member with these protocols may join (Kafka's `supportsProtocols`).
    pub fn supports(&self, protocol_type: &str, protocols: &[GroupProtocol]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && self
                .candidate_protocols()
                .iter()
                .any(|c| protocols.iter().any(|p| &p.name == c))
    }

    /// Each member votes for its most preferred candidate; the most votes wins, ties going to
    /// the earlier candidate (Kafka's `selectProtocol`).
    pub fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes = vec![0usize; candidates.len()];
        for member in self.members.values() {
            if let Some(i) = member
                .protocols
                .iter()
                .find_map(|p| candidates.iter().position(|c| c == &p.name))
            {
                votes[i] += 1;
            }
        }
        let mut best: Option<usize> = None;
        for (i, v) in votes.iter().enumerate() {
            if best.is_none_or(|b| *v > votes[b]) {
                best = Some(i);
            }
        }
        best.map(|i| candidates[i].clone())
    }

    /// The longest rebalance timeout of any member: how long a rebalance waits for rejoins.
    pub fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The JoinGroup answer for `member_id` in the current generation: the leader also gets
    /// every member's metadata for the selected protocol.
    pub fn join_response(&self, member_id: &str) -> JoinGroupResponse {
        let protocol = self.protocol.clone().unwrap_or_default();
        let members = if self.is_leader(member_id) {
            self.members
                .values()
                .map(|m| JoinedMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    metadata: m.metadata(&protocol),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinGroupResponse {
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader_id: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members,
            skip_assignment: false,
        }
    }

    pub fn sync_response(&self, assignment: Bytes) -> SyncGroupResponse {
        SyncGroupResponse {
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            assignment,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, protocols: &[&str]) -> Member {
        Member {
            id: id.into(),
            instance_id: None,
            client_id: "c".into(),
            client_host: "h".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            protocols: protocols
                .iter()
                .map(|p| GroupProtocol {
                    name: (*p).into(),
                    metadata: Bytes::new(),
                })
                .collect(),
            assignment: Bytes::new(),
            join_waiter: None,
            sync_waiter: None,
            session_deadline: Instant::now(),
        }
    }

    #[tokio::test]
    async fn protocol_selection_uses_common_protocols_and_votes() {
        let mut g = Group::new("g".into(), 0);
        g.protocol_type = Some("consumer".into());
        g.members
            .insert("a".into(), member("a", &["sticky", "range", "rr"]));
        g.members.insert("b".into(), member("b", &["range", "rr"]));
        g.members.insert("c".into(), member("c", &["rr", "range"]));
        assert_eq!(g.candidate_protocols(), vec!["range", "rr"]);
        // a and b prefer range among the candidates, c prefers rr.
        assert_eq!(g.select_protocol().as_deref(), Some("range"));
        let only_sticky = [GroupProtocol {
            name: "sticky".into(),
            metadata: Bytes::new(),
        }];
        assert!(!g.supports("consumer", &only_sticky));
        assert!(!g.supports("connect", &member("x", &["range"]).protocols));
        assert!(g.supports("consumer", &member("x", &["rr"]).protocols));
    }
}
