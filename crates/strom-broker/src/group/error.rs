//! [`GroupError`]: every way a group or offset operation can fail, in the vocabulary of the
//! Kafka group protocol. Front ends map a variant to a Kafka error code with
//! [`GroupError::kafka_error`] or to an HTTP status themselves.

use kafka_protocol::ResponseError;

/// A typed group-coordinator error. `Clone` because one error is often reported for many
/// partitions or members of one request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("invalid group id")]
    InvalidGroupId,
    /// The group is being deleted or the coordinator is not ready; clients retry.
    #[error("the group coordinator is not available")]
    CoordinatorNotAvailable,
    #[error("unknown member id")]
    UnknownMemberId,
    /// JoinGroup v4+ (KIP-394): the member must rejoin with this server-assigned id.
    #[error("a member id is required: rejoin with member id '{member_id}'")]
    MemberIdRequired { member_id: String },
    #[error("illegal generation")]
    IllegalGeneration,
    #[error("the group is rebalancing")]
    RebalanceInProgress,
    /// A static member (`group.instance.id`) was replaced by a newer instance (KIP-345).
    #[error("fenced by a newer member with the same group instance id")]
    FencedInstanceId,
    #[error("inconsistent group protocol")]
    InconsistentGroupProtocol,
    #[error("session timeout {0} ms is outside the allowed range")]
    InvalidSessionTimeout(i32),
    #[error("group not found")]
    GroupIdNotFound,
    #[error("the group is not empty")]
    NonEmptyGroup,
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("the group is subscribed to the topic")]
    GroupSubscribedToTopic,
    #[error("offset metadata is too large")]
    OffsetMetadataTooLarge,
    #[error("the group has reached its maximum size")]
    GroupMaxSizeReached,
    /// KIP-848: the member's epoch is not (or no longer) valid; it must rejoin.
    #[error("the member epoch is fenced")]
    FencedMemberEpoch,
    /// KIP-848: a static instance id is still used by another member.
    #[error("the instance id is still used by another member")]
    UnreleasedInstanceId,
    #[error("unsupported server-side assignor")]
    UnsupportedAssignor,
    /// KIP-848: an offset commit named an epoch other than the member's current one.
    #[error("stale member epoch")]
    StaleMemberEpoch,
    #[error("invalid regular expression")]
    InvalidRegularExpression,
    /// Writing to or reading from `__consumer_offsets` failed.
    #[error("group storage error: {0}")]
    Storage(String),
}

impl GroupError {
    /// The Kafka error this maps to on the wire.
    pub fn kafka_error(&self) -> ResponseError {
        match self {
            GroupError::InvalidGroupId => ResponseError::InvalidGroupId,
            GroupError::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable,
            GroupError::UnknownMemberId => ResponseError::UnknownMemberId,
            GroupError::MemberIdRequired { .. } => ResponseError::MemberIdRequired,
            GroupError::IllegalGeneration => ResponseError::IllegalGeneration,
            GroupError::RebalanceInProgress => ResponseError::RebalanceInProgress,
            GroupError::FencedInstanceId => ResponseError::FencedInstanceId,
            GroupError::InconsistentGroupProtocol => ResponseError::InconsistentGroupProtocol,
            GroupError::InvalidSessionTimeout(_) => ResponseError::InvalidSessionTimeout,
            GroupError::GroupIdNotFound => ResponseError::GroupIdNotFound,
            GroupError::NonEmptyGroup => ResponseError::NonEmptyGroup,
            GroupError::UnknownTopicOrPartition => ResponseError::UnknownTopicOrPartition,
            GroupError::GroupSubscribedToTopic => ResponseError::GroupSubscribedToTopic,
            GroupError::OffsetMetadataTooLarge => ResponseError::OffsetMetadataTooLarge,
            GroupError::GroupMaxSizeReached => ResponseError::GroupMaxSizeReached,
            GroupError::FencedMemberEpoch => ResponseError::FencedMemberEpoch,
            GroupError::UnreleasedInstanceId => ResponseError::UnreleasedInstanceId,
            GroupError::UnsupportedAssignor => ResponseError::UnsupportedAssignor,
            GroupError::StaleMemberEpoch => ResponseError::StaleMemberEpoch,
            GroupError::InvalidRegularExpression => ResponseError::InvalidRegularExpression,
            // Kafka turns a failed offsets-topic write into a retriable coordinator error so
            // clients retry instead of giving up (GroupMetadataManager's error mapping).
            GroupError::Storage(_) => ResponseError::CoordinatorNotAvailable,
        }
    }

    /// The Kafka error code (`kafka_error().code()`).
    pub fn code(&self) -> i16 {
        self.kafka_error().code()
    }
}
