//! Protocol-agnostic request and response types of the group coordinator. The Kafka front end
//! converts its wire messages to these; the HTTP consumer API builds them directly.

use std::time::Duration;

use bytes::Bytes;

use super::{GroupError, GroupState};

/// One protocol a joining member supports, in its order of preference (for consumers:
/// an assignor name such as `range`, with the encoded subscription as metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupProtocol {
    pub name: String,
    pub metadata: Bytes,
}

#[derive(Debug, Clone)]
pub struct JoinGroupRequest {
    pub group_id: String,
    /// Empty for a member joining for the first time.
    pub member_id: String,
    /// `group.instance.id` of a static member (KIP-345).
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    /// How long the group waits for members to rejoin during a rebalance (JoinGroup v0 has
    /// none: pass the session timeout, as Kafka does).
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<GroupProtocol>,
    /// JoinGroup v4+: a new dynamic member first gets `MemberIdRequired` with its id (KIP-394).
    pub require_known_member_id: bool,
    /// JoinGroup v9+ (KIP-814): the client understands `skip_assignment`, so a restarted
    /// static leader can take its place back without a rebalance.
    pub supports_skip_assignment: bool,
}

/// A member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// This member's metadata for the selected protocol.
    pub metadata: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponse {
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: String,
    pub member_id: String,
    /// Every member with its metadata for the leader; empty for followers.
    pub members: Vec<JoinedMember>,
    /// The leader must not compute an assignment: it is a restarted static leader taking its
    /// place back in a Stable group whose assignment stands (KIP-814).
    pub skip_assignment: bool,
}

impl JoinGroupResponse {
    pub fn is_leader(&self) -> bool {
        self.leader_id == self.member_id
    }
}

#[derive(Debug, Clone)]
pub struct SyncGroupRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// SyncGroup v5+: checked against the group's when present.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// The leader's assignment per member id; empty from followers.
    pub assignments: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupResponse {
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

#[derive(Debug, Clone)]
pub struct HeartbeatRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// One member leaving (LeaveGroup v3+ removes several at once). A static member may be named
/// by its instance id alone, with an empty member id (the admin client's `removeMembers`).
#[derive(Debug, Clone)]
pub struct LeavingMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveResult {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub error: Option<GroupError>,
}

/// One partition's offset in an OffsetCommit.
#[derive(Debug, Clone)]
pub struct OffsetCommitEntry {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// -1 when unknown.
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OffsetCommitRequest {
    pub group_id: String,
    /// -1 (with an empty member id) for a standalone commit by a consumer outside any group
    /// membership; only accepted while the group has no members.
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub offsets: Vec<OffsetCommitEntry>,
}

/// The outcome for one partition of a commit or offset delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResult {
    pub topic: String,
    pub partition: i32,
    pub error: Option<GroupError>,
}

/// A committed offset as returned by OffsetFetch; `offset` is -1 when nothing is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    /// -1 when nothing is committed.
    pub commit_timestamp_ms: i64,
}

/// Topics and partitions named in OffsetFetch or OffsetDelete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPartitions {
    pub topic: String,
    pub partitions: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    /// Empty for a group that only ever had standalone commits.
    pub protocol_type: String,
    pub state: GroupState,
    /// KIP-848's group type: `consumer` or `classic`.
    pub group_type: &'static str,
    /// The state as Kafka names it for the group's type (a consumer group may also be
    /// `Assigning` or `Reconciling`).
    pub state_name: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Metadata for the selected protocol; empty unless the group is Stable (as in Kafka).
    pub metadata: Bytes,
    /// Empty unless the group is Stable.
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    /// `Dead` for a group that does not exist.
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol: String,
    pub generation_id: i32,
    pub leader_id: Option<String>,
    pub members: Vec<MemberDescription>,
}

/// Consumer lag of one partition: how far the committed offset trails the log end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub committed_offset: i64,
    /// The partition's high watermark, or `None` if it no longer exists.
    pub log_end_offset: Option<i64>,
    /// `log_end_offset - committed_offset`, never negative; `None` if the partition is gone.
    pub lag: Option<i64>,
}
