//! KIP-848 consumer groups over in-memory storage: revoke before assign, epoch fencing,
//! offset commits checked against member epochs, session expiry, and empty groups changing
//! type (groups with members: `mixed.rs`).

use super::*;
use crate::group::consumer::{ConsumerHeartbeatRequest, ConsumerHeartbeatResponse, Parts};

pub(super) fn hb(member: &str, epoch: i32, owned: Option<Parts>) -> ConsumerHeartbeatRequest {
    ConsumerHeartbeatRequest {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: if epoch == 0 { 30_000 } else { -1 },
        subscribed_topic_names: (epoch == 0).then(|| vec!["t".to_string()]),
        owned,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        ..ConsumerHeartbeatRequest::default()
    }
}

pub(super) fn beat(
    c: &GroupCoordinator,
    req: ConsumerHeartbeatRequest,
) -> Result<ConsumerHeartbeatResponse, GroupError> {
    c.consumer_heartbeat(req, &|_| true)
}

pub(super) fn partitions(r: &ConsumerHeartbeatResponse) -> Vec<i32> {
    r.assignment
        .as_ref()
        .map(|a| a.iter().flat_map(|(_, p)| p.clone()).collect())
        .unwrap_or_default()
}

pub(super) fn owned(ps: &[i32]) -> Option<Parts> {
    Some(Parts::from([(
        "t".to_string(),
        ps.iter().copied().collect(),
    )]))
}

#[tokio::test(start_paused = true)]
async fn a_partition_moves_only_after_its_owner_released_it() {
    let (c, _) = coordinator().await;
    let a = beat(&c, hb("a", 0, owned(&[]))).unwrap();
    assert_eq!(partitions(&a), vec![0, 1, 2, 3]);
    let b = beat(&c, hb("b", 0, owned(&[]))).unwrap();
    assert!(b.member_epoch > a.member_epoch);
    assert_eq!(partitions(&b), Vec::<i32>::new(), "a still owns everything");
    // a is asked to give up two partitions, at its old epoch.
    let a2 = beat(&c, hb("a", a.member_epoch, None)).unwrap();
    assert_eq!(a2.member_epoch, a.member_epoch);
    let kept = partitions(&a2);
    assert_eq!(kept.len(), 2);
    let b2 = beat(&c, hb("b", b.member_epoch, None)).unwrap();
    assert_eq!(partitions(&b2), Vec::<i32>::new(), "not released yet");
    // a confirms: it moves to the new epoch, and b gets the released partitions.
    let a3 = beat(&c, hb("a", a.member_epoch, owned(&kept))).unwrap();
    assert_eq!(a3.member_epoch, b.member_epoch);
    let b3 = beat(&c, hb("b", b.member_epoch, None)).unwrap();
    let mut all = kept.clone();
    all.extend(partitions(&b3));
    all.sort();
    assert_eq!(all, vec![0, 1, 2, 3]);
    let described = c.describe_consumer_group("g").unwrap();
    assert_eq!(described.state, "Stable");
    assert_eq!(described.assignor, "uniform");
}

#[tokio::test(start_paused = true)]
async fn stale_epochs_are_fenced_and_commits_need_the_current_epoch() {
    let (c, _) = coordinator().await;
    let a = beat(&c, hb("a", 0, owned(&[]))).unwrap();
    assert_eq!(
        beat(&c, hb("a", a.member_epoch + 1, None)),
        Err(GroupError::FencedMemberEpoch)
    );
    assert_eq!(beat(&c, hb("x", 5, None)), Err(GroupError::UnknownMemberId));
    let commit = |epoch: i32| commit_req("g", epoch, "a", &[("t", 0, 7)]);
    assert_eq!(
        c.commit_offsets(commit(a.member_epoch - 1)).await,
        Err(GroupError::StaleMemberEpoch)
    );
    assert_eq!(
        c.commit_offsets(commit_req("g", -1, "", &[("t", 0, 7)]))
            .await,
        Err(GroupError::UnknownMemberId),
        "no standalone commits while the group has members"
    );
    let results = c.commit_offsets(commit(a.member_epoch)).await.unwrap();
    assert_eq!(results[0].error, None);
}

#[tokio::test(start_paused = true)]
async fn a_silent_member_is_removed_after_the_session_timeout() {
    let (c, _) = coordinator().await;
    beat(&c, hb("a", 0, owned(&[]))).unwrap();
    let b = beat(&c, hb("b", 0, owned(&[]))).unwrap();
    tokio::time::sleep(config().consumer_session_timeout / 2).await;
    let b = beat(&c, hb("b", b.member_epoch, None)).unwrap();
    tokio::time::sleep(config().consumer_session_timeout / 2 + Duration::from_secs(1)).await;
    let members = c.describe_consumer_group("g").unwrap().members;
    assert_eq!(members.len(), 1, "a timed out, b heartbeated");
    let b = beat(&c, hb("b", b.member_epoch, None)).unwrap();
    assert_eq!(partitions(&b), vec![0, 1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn empty_groups_convert_and_only_consumer_protocol_groups_upgrade() {
    let (c, _) = coordinator().await;
    beat(&c, hb("a", 0, owned(&[]))).unwrap();
    assert_eq!(c.list_groups(&[], &[])[0].group_type, "consumer");
    beat(&c, hb("a", -1, None)).unwrap();
    let mut join = join_req("g", "", &["range"]);
    join.require_known_member_id = false;
    join.protocol_type = "connect".into();
    let joined = spawn_join(&c, join).await.unwrap().unwrap();
    assert_eq!(c.list_groups(&[], &[])[0].group_type, "classic");
    assert_eq!(
        beat(&c, hb("b", 0, owned(&[]))),
        Err(GroupError::GroupIdNotFound),
        "a group of another protocol type does not upgrade"
    );
    assert!(!joined.member_id.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_static_member_comes_back_to_its_assignment() {
    let (c, _) = coordinator().await;
    let mut first = hb("a", 0, owned(&[]));
    first.instance_id = Some("i1".into());
    let a = beat(&c, first.clone()).unwrap();
    let mut leave = hb("a", -2, None);
    leave.instance_id = Some("i1".into());
    beat(&c, leave).unwrap();
    let mut back = first;
    back.member_id = "a2".into();
    let a2 = beat(&c, back.clone()).unwrap();
    assert_eq!(partitions(&a2), partitions(&a));
    back.member_id = "a3".into();
    assert_eq!(beat(&c, back), Err(GroupError::UnreleasedInstanceId));
}

#[tokio::test(start_paused = true)]
async fn offset_fetches_naming_a_member_need_its_current_epoch() {
    let (c, _) = coordinator().await;
    let a = beat(&c, hb("a", 0, owned(&[]))).unwrap();
    let e = a.member_epoch;
    assert_eq!(c.check_fetch_member("g", Some("a"), e), Ok(()));
    assert_eq!(c.check_fetch_member("g", None, -1), Ok(()), "admin fetch");
    assert_eq!(
        c.check_fetch_member("g", Some("a"), e - 1),
        Err(GroupError::StaleMemberEpoch)
    );
    assert_eq!(
        c.check_fetch_member("g", Some("x"), e),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.check_fetch_member("g", None, e),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.check_fetch_member("classic-or-none", Some("a"), 3),
        Ok(())
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_regex_resolves_on_the_next_heartbeat_after_the_literal_topics() {
    let (c, storage) = coordinator().await;
    storage.add_topic("logs-a", 2, 0);
    let mut join = hb("a", 0, owned(&[]));
    join.subscribed_topic_regex = Some("logs-.*".into());
    let first = beat(&c, join).unwrap();
    let topics = |r: &ConsumerHeartbeatResponse| r.assignment.as_ref().map_or(0, |a| a.len());
    assert_eq!(topics(&first), 1, "only t, the literal name, at first");
    assert_eq!(partitions(&first), vec![0, 1, 2, 3]);
    let second = beat(&c, hb("a", first.member_epoch, owned(&[0, 1, 2, 3]))).unwrap();
    assert!(second.member_epoch > first.member_epoch);
    assert_eq!(topics(&second), 2, "then logs-a too");
}
