//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete and consumer lag. A commit is
//! validated against the group's membership under the group lock, queued to
//! `__consumer_offsets` while still locked (so it is ordered with the group's other records),
//! and applied in memory only once written — a fetch never returns an offset a crash could undo.

use bytes::Bytes;

use crate::NewRecord;

use super::codec::OffsetValue;
use super::coordinator::{now_ms, Shared};
use super::metadata::{CommittedOffset, Group};
use super::{
    decode_subscription, FetchedOffset, GroupCoordinator, GroupError, GroupState,
    OffsetCommitRequest, PartitionLag, PartitionResult, TopicPartitions,
};

impl Shared {
    /// The record for one committed offset, or its tombstone.
    pub(crate) fn offset_record(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
        value: Option<&OffsetValue>,
    ) -> NewRecord {
        super::codec::offset_record(group, topic, partition, value)
    }
}

/// Checks who may commit to `g` (Kafka's `doCommitOffsets`).
fn check_committer(g: &mut Group, req: &OffsetCommitRequest) -> Result<(), GroupError> {
    if g.removed || g.state == GroupState::Dead {
        return Err(GroupError::CoordinatorNotAvailable);
    }
    // A consumer using `assign()` commits with generation -1 and no member id; Kafka accepts
    // that only while no members use the group for coordination.
    if let Some(consumer) = &g.consumer {
        return consumer.check_commit(&req.member_id, req.generation_id);
    }
    if req.generation_id < 0 && g.state == GroupState::Empty {
        return Ok(());
    }
    let state = g.touch_current_member(
        &req.member_id,
        req.group_instance_id.as_deref(),
        req.generation_id,
    )?;
    match state {
        // Members of the current generation may still commit while a rebalance gathers
        // rejoins, so the work they did before revoking is not lost.
        GroupState::Stable | GroupState::PreparingRebalance => Ok(()),
        GroupState::CompletingRebalance => Err(GroupError::RebalanceInProgress),
        GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
    }
}

impl GroupCoordinator {
    /// OffsetCommit. Commits of partitions that fail validation get a per-partition error
    /// (`UnknownTopicOrPartition`, `OffsetMetadataTooLarge`); the rest are written durably
    /// before this returns.
    ///
    /// Errors (whole request): `InvalidGroupId`, `IllegalGeneration` (generation given for an
    /// unknown group, or stale), `UnknownMemberId`, `FencedInstanceId`,
    /// `RebalanceInProgress`, `CoordinatorNotAvailable`; a failed write reports `Storage` for
    /// every partition.
    pub async fn commit_offsets(
        &self,
        req: OffsetCommitRequest,
    ) -> Result<Vec<PartitionResult>, GroupError> {
        self.commit_offsets_as(req, true).await
    }

    /// The offsets of a committing transaction (TxnOffsetCommit, applied at EndTxn): the
    /// transaction coordinator checked the producer, and group membership no longer matters
    /// (Kafka writes them with the commit marker). Errors: those of `commit_offsets`.
    pub async fn commit_transactional_offsets(
        &self,
        group_id: &str,
        offsets: Vec<super::OffsetCommitEntry>,
    ) -> Result<Vec<PartitionResult>, GroupError> {
        let req = OffsetCommitRequest {
            group_id: group_id.to_string(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            offsets,
        };
        self.commit_offsets_as(req, false).await
    }

    async fn commit_offsets_as(
        &self,
        req: OffsetCommitRequest,
        member_check: bool,
    ) -> Result<Vec<PartitionResult>, GroupError> {
        super::coordinator::check_group_id(&req.group_id)?;
        let shared = &*self.shared;
        let group = match shared.lookup(&req.group_id) {
            Some(group) => group,
            None if req.generation_id < 0 => shared.lookup_or_create(&req.group_id).0,
            // A member of a generation of a group that no longer exists.
            None => return Err(GroupError::IllegalGeneration),
        };
        let now = now_ms();
        let mut results = Vec::with_capacity(req.offsets.len());
        let mut accepted = Vec::new();
        let pending = {
            let mut g = group.lock();
            if member_check {
                check_committer(&mut g, &req)?;
            } else if g.removed || g.state == GroupState::Dead {
                return Err(GroupError::CoordinatorNotAvailable);
            }
            let mut records = Vec::new();
            for entry in &req.offsets {
                let metadata = entry.metadata.clone().unwrap_or_default();
                let error = if shared
                    .storage
                    .log_end_offset(&entry.topic, entry.partition)
                    .is_none()
                {
                    Some(GroupError::UnknownTopicOrPartition)
                } else if metadata.len() > shared.config.max_metadata_bytes {
                    Some(GroupError::OffsetMetadataTooLarge)
                } else {
                    None
                };
                results.push(PartitionResult {
                    topic: entry.topic.clone(),
                    partition: entry.partition,
                    error: error.clone(),
                });
                if error.is_some() {
                    continue;
                }
                let value = OffsetValue {
                    offset: entry.offset,
                    leader_epoch: entry.leader_epoch,
                    metadata,
                    commit_timestamp_ms: now,
                };
                records.push(shared.offset_record(
                    &g.id,
                    &entry.topic,
                    entry.partition,
                    Some(&value),
                ));
                accepted.push((results.len() - 1, value));
            }
            shared.writer.write(shared.partition_for(&g.id), records)
        };
        let written = pending
            .await
            .unwrap_or(Err(GroupError::CoordinatorNotAvailable));
        match written {
            Ok(base) => {
                let mut g = group.lock();
                for (i, (result_index, value)) in accepted.into_iter().enumerate() {
                    let result = &results[result_index];
                    let committed = CommittedOffset {
                        offset: value.offset,
                        leader_epoch: value.leader_epoch,
                        metadata: value.metadata,
                        commit_timestamp_ms: value.commit_timestamp_ms,
                        position: base + i as i64,
                    };
                    let key = (result.topic.clone(), result.partition);
                    let newer = g
                        .offsets
                        .get(&key)
                        .is_none_or(|old| old.position < committed.position);
                    if newer {
                        g.offsets.insert(key, committed);
                    }
                }
            }
            Err(err) => {
                for (result_index, _) in accepted {
                    results[result_index].error = Some(err.clone());
                }
            }
        }
        Ok(results)
    }

    /// OffsetFetch: the committed offsets of `topics`, or of every partition with a commit
    /// when `topics` is `None`. Partitions without a commit (or of an unknown group) report
    /// offset -1, as Kafka does.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<&[TopicPartitions]>,
    ) -> Vec<FetchedOffset> {
        let group = self.shared.lookup(group_id);
        let g = group.as_ref().map(|g| g.lock());
        let offsets = g.as_ref().filter(|g| !g.removed).map(|g| &g.offsets);
        let fetched =
            |topic: &str, partition: i32, committed: Option<&CommittedOffset>| FetchedOffset {
                topic: topic.to_string(),
                partition,
                offset: committed.map_or(-1, |c| c.offset),
                leader_epoch: committed.map_or(-1, |c| c.leader_epoch),
                metadata: committed.map(|c| c.metadata.clone()).unwrap_or_default(),
                commit_timestamp_ms: committed.map_or(-1, |c| c.commit_timestamp_ms),
            };
        match topics {
            None => offsets
                .into_iter()
                .flatten()
                .map(|((topic, partition), c)| fetched(topic, *partition, Some(c)))
                .collect(),
            Some(topics) => topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| (t.topic.as_str(), *p)))
                .map(|(topic, partition)| {
                    let committed = offsets.and_then(|o| o.get(&(topic.to_string(), partition)));
                    fetched(topic, partition, committed)
                })
                .collect(),
        }
    }

    /// OffsetDelete: removes committed offsets of partitions the group is not consuming.
    /// Per-partition error: `GroupSubscribedToTopic` for a topic a member of a consumer group
    /// subscribes to.
    ///
    /// Errors: `GroupIdNotFound`, `NonEmptyGroup` (members of a non-consumer group),
    /// `Storage` when the tombstones cannot be written.
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        topics: &[TopicPartitions],
    ) -> Result<Vec<PartitionResult>, GroupError> {
        let shared = &*self.shared;
        let group = shared.lookup(group_id).ok_or(GroupError::GroupIdNotFound)?;
        let (results, pending) = {
            let mut g = group.lock();
            if g.removed || g.state == GroupState::Dead {
                return Err(GroupError::GroupIdNotFound);
            }
            let subscribed = subscribed_topics(&g)?;
            let mut results = Vec::new();
            let mut records = Vec::new();
            for t in topics {
                for &partition in &t.partitions {
                    let error = subscribed
                        .iter()
                        .any(|s| s == &t.topic)
                        .then_some(GroupError::GroupSubscribedToTopic);
                    if error.is_none() && g.offsets.remove(&(t.topic.clone(), partition)).is_some()
                    {
                        records.push(shared.offset_record(&g.id, &t.topic, partition, None));
                    }
                    results.push(PartitionResult {
                        topic: t.topic.clone(),
                        partition,
                        error,
                    });
                }
            }
            (
                results,
                shared.writer.write(shared.partition_for(&g.id), records),
            )
        };
        pending
            .await
            .unwrap_or(Err(GroupError::CoordinatorNotAvailable))?;
        Ok(results)
    }

    /// Consumer lag of every partition the group has committed to: the partition's log end
    /// (high watermark) minus the committed offset. Errors: `GroupIdNotFound`.
    pub fn lag(&self, group_id: &str) -> Result<Vec<PartitionLag>, GroupError> {
        let group = self
            .shared
            .lookup(group_id)
            .ok_or(GroupError::GroupIdNotFound)?;
        let committed: Vec<((String, i32), i64)> = {
            let g = group.lock();
            if g.removed {
                return Err(GroupError::GroupIdNotFound);
            }
            g.offsets
                .iter()
                .map(|(k, c)| (k.clone(), c.offset))
                .collect()
        };
        Ok(committed
            .into_iter()
            .map(|((topic, partition), committed_offset)| {
                let log_end_offset = self.shared.storage.log_end_offset(&topic, partition);
                PartitionLag {
                    lag: log_end_offset.map(|end| (end - committed_offset).max(0)),
                    topic,
                    partition,
                    committed_offset,
                    log_end_offset,
                }
            })
            .collect())
    }

    /// Runs offset expiry now as of `now_ms` (normally periodic); returns how many offsets expired.
    pub fn expire_offsets(&self, now_ms: i64) -> usize {
        self.shared.expire_offsets(now_ms)
    }
}

/// Topics the members of a non-empty consumer group subscribe to. Errors: `NonEmptyGroup`
/// for a non-empty group of another protocol type, whose subscriptions cannot be read.
fn subscribed_topics(g: &Group) -> Result<Vec<String>, GroupError> {
    if g.members.is_empty() {
        return Ok(Vec::new());
    }
    if g.protocol_type.as_deref() != Some("consumer") {
        return Err(GroupError::NonEmptyGroup);
    }
    let protocol = g.protocol.clone().unwrap_or_default();
    let mut topics = Vec::new();
    for member in g.members.values() {
        let metadata: Bytes = match g.protocol {
            Some(_) => member.metadata(&protocol),
            None => member
                .protocols
                .first()
                .map(|p| p.metadata.clone())
                .unwrap_or_default(),
        };
        // An undecodable subscription protects nothing; Kafka ignores it the same way.
        if let Ok(subscription) = decode_subscription(&metadata) {
            topics.extend(subscription.topics);
        }
    }
    Ok(topics)
}
