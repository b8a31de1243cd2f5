//! Unit tests of the coordinator over in-memory storage, with tokio's paused clock so session
//! and rebalance timeouts run instantly and deterministically.

mod broker_storage;
mod consumer;
mod consumer_persist;
mod membership;
mod migrate;
mod mixed;
mod offsets;
mod static_members;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::storage::memory::MemoryStorage;
use super::*;

pub(super) const SESSION: Duration = Duration::from_secs(10);
pub(super) const REBALANCE: Duration = Duration::from_secs(30);

pub(super) fn config() -> GroupConfig {
    GroupConfig::default()
}

pub(super) async fn coordinator() -> (GroupCoordinator, Arc<MemoryStorage>) {
    let storage = MemoryStorage::new(3);
    storage.add_topic("t", 4, 100);
    let c = GroupCoordinator::with_storage(storage.clone(), config())
        .await
        .unwrap();
    (c, storage)
}

pub(super) async fn reopen(storage: &Arc<MemoryStorage>) -> GroupCoordinator {
    GroupCoordinator::with_storage(storage.clone(), config())
        .await
        .unwrap()
}

pub(super) fn subscription(topics: &[&str]) -> Bytes {
    encode_subscription(&Subscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        ..Subscription::default()
    })
}

pub(super) fn join_req(group: &str, member_id: &str, protocols: &[&str]) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: group.into(),
        member_id: member_id.into(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| GroupProtocol {
                name: (*p).into(),
                metadata: subscription(&["t"]),
            })
            .collect(),
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

pub(super) fn spawn_join(
    c: &GroupCoordinator,
    req: JoinGroupRequest,
) -> JoinHandle<Result<JoinGroupResponse, GroupError>> {
    let c = c.clone();
    tokio::spawn(async move { c.join_group(req).await })
}

/// The v4+ flow: the first join returns MEMBER_ID_REQUIRED with the id to rejoin with.
pub(super) async fn member_id(c: &GroupCoordinator, group: &str) -> String {
    match c.join_group(join_req(group, "", &["range"])).await {
        Err(GroupError::MemberIdRequired { member_id }) => member_id,
        other => panic!("expected MEMBER_ID_REQUIRED, got {other:?}"),
    }
}

pub(super) fn sync_req(
    group: &str,
    join: &JoinGroupResponse,
    assignments: Vec<(String, Bytes)>,
) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: group.into(),
        generation_id: join.generation_id,
        member_id: join.member_id.clone(),
        group_instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: join.protocol_name.clone(),
        assignments,
    }
}

pub(super) fn heartbeat(
    c: &GroupCoordinator,
    group: &str,
    member: &str,
    generation: i32,
) -> Result<(), GroupError> {
    c.heartbeat(HeartbeatRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
    })
}

/// One member joins an empty group and syncs its own assignment: a Stable group of one.
pub(super) async fn stable_single(c: &GroupCoordinator, group: &str) -> JoinGroupResponse {
    let id = member_id(c, group).await;
    let join = c
        .join_group(join_req(group, &id, &["range"]))
        .await
        .unwrap();
    assert!(join.is_leader());
    let assignments = leader_range_assignments(&join, |_| Some(4)).unwrap();
    c.sync_group(sync_req(group, &join, assignments))
        .await
        .unwrap();
    join
}

pub(super) fn state(c: &GroupCoordinator, group: &str) -> GroupState {
    c.describe_groups(&[group.to_string()])[0].state
}

pub(super) fn commit_req(
    group: &str,
    generation: i32,
    member: &str,
    offsets: &[(&str, i32, i64)],
) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        offsets: offsets
            .iter()
            .map(|(topic, partition, offset)| OffsetCommitEntry {
                topic: (*topic).into(),
                partition: *partition,
                offset: *offset,
                leader_epoch: -1,
                metadata: Some("m".into()),
            })
            .collect(),
    }
}
