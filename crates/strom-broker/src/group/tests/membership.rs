//! Join, sync, heartbeat, leave and timeouts of dynamic members.

use super::*;

#[tokio::test(start_paused = true)]
async fn single_member_joins_syncs_and_heartbeats() {
    let (c, _) = coordinator().await;
    let join = stable_single(&c, "g").await;
    assert_eq!(join.generation_id, 1);
    assert_eq!(join.protocol_name.as_deref(), Some("range"));
    assert_eq!(join.members.len(), 1);
    assert_eq!(state(&c, "g"), GroupState::Stable);
    heartbeat(&c, "g", &join.member_id, 1).unwrap();
    let described = &c.describe_groups(&["g".into()])[0];
    let assignment = decode_assignment(&described.members[0].assignment).unwrap();
    assert_eq!(assignment.partitions["t"], vec![0, 1, 2, 3]);
    assert_eq!(c.list_groups(&[], &[])[0].state, GroupState::Stable);
    assert!(c.list_groups(&[GroupState::Empty], &[]).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_second_member_triggers_a_rebalance_and_both_get_disjoint_ranges() {
    let (c, _) = coordinator().await;
    let first = stable_single(&c, "g").await;
    let second_id = member_id(&c, "g").await;
    let second = spawn_join(&c, join_req("g", &second_id, &["range"]));
    tokio::task::yield_now().await;
    assert_eq!(state(&c, "g"), GroupState::PreparingRebalance);
    assert_eq!(
        heartbeat(&c, "g", &first.member_id, 1),
        Err(GroupError::RebalanceInProgress)
    );
    let first_again = spawn_join(&c, join_req("g", &first.member_id, &["range"]));
    let (a, b) = (
        first_again.await.unwrap().unwrap(),
        second.await.unwrap().unwrap(),
    );
    assert_eq!((a.generation_id, b.generation_id), (2, 2));
    assert_eq!(a.leader_id, first.member_id, "the leader stays the leader");
    assert_eq!(a.members.len(), 2);
    assert!(b.members.is_empty(), "followers do not see the members");
    let assignments = leader_range_assignments(&a, |_| Some(4)).unwrap();
    let follower = {
        let c = c.clone();
        let req = sync_req("g", &b, vec![]);
        tokio::spawn(async move { c.sync_group(req).await })
    };
    let leader = c.sync_group(sync_req("g", &a, assignments)).await.unwrap();
    let follower = follower.await.unwrap().unwrap();
    let mine = decode_assignment(&leader.assignment).unwrap().partitions["t"].clone();
    let theirs = decode_assignment(&follower.assignment).unwrap().partitions["t"].clone();
    assert_eq!(mine.len() + theirs.len(), 4);
    assert!(mine.iter().all(|p| !theirs.contains(p)));
    assert_eq!(state(&c, "g"), GroupState::Stable);
}

#[tokio::test(start_paused = true)]
async fn a_silent_member_is_removed_after_its_session_timeout() {
    let (c, _) = coordinator().await;
    let first = stable_single(&c, "g").await;
    let second_id = member_id(&c, "g").await;
    let second = spawn_join(&c, join_req("g", &second_id, &["range"]));
    let first_again = c
        .join_group(join_req("g", &first.member_id, &["range"]))
        .await
        .unwrap();
    let second = second.await.unwrap().unwrap();
    let assignments = leader_range_assignments(&first_again, |_| Some(4)).unwrap();
    let leader_sync = {
        let (c, req) = (c.clone(), sync_req("g", &first_again, assignments));
        tokio::spawn(async move { c.sync_group(req).await })
    };
    c.sync_group(sync_req("g", &second, vec![])).await.unwrap();
    leader_sync.await.unwrap().unwrap();

    // The second member keeps heartbeating, the first goes silent.
    for _ in 0..4 {
        tokio::time::sleep(SESSION / 4).await;
        heartbeat(&c, "g", &second.member_id, 2).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        heartbeat(&c, "g", &second.member_id, 2),
        Err(GroupError::RebalanceInProgress)
    );
    assert_eq!(
        heartbeat(&c, "g", &first.member_id, 2),
        Err(GroupError::UnknownMemberId)
    );
    let alone = c
        .join_group(join_req("g", &second.member_id, &["range"]))
        .await
        .unwrap();
    assert_eq!(alone.generation_id, 3);
    assert!(alone.is_leader(), "leadership passes to a remaining member");
    assert_eq!(alone.members.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout() {
    let (c, _) = coordinator().await;
    let first = stable_single(&c, "g").await;
    let second_id = member_id(&c, "g").await;
    let started = tokio::time::Instant::now();
    // The first member keeps heartbeating (getting REBALANCE_IN_PROGRESS) but never rejoins.
    let hb = {
        let (c, id) = (c.clone(), first.member_id.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(3)).await;
                if heartbeat(&c, "g", &id, 1) == Err(GroupError::UnknownMemberId) {
                    return;
                }
            }
        })
    };
    let second = c
        .join_group(join_req("g", &second_id, &["range"]))
        .await
        .unwrap();
    assert!(started.elapsed() >= REBALANCE);
    assert_eq!(second.generation_id, 2);
    assert!(second.is_leader());
    assert_eq!(second.members.len(), 1);
    hb.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn leaving_rebalances_the_rest_and_the_last_leave_empties_the_group() {
    let (c, _) = coordinator().await;
    let first = stable_single(&c, "g").await;
    let results = c
        .leave_group(
            "g",
            &[
                LeavingMember {
                    member_id: first.member_id.clone(),
                    group_instance_id: None,
                },
                LeavingMember {
                    member_id: "nobody".into(),
                    group_instance_id: None,
                },
            ],
        )
        .unwrap();
    assert_eq!(results[0].error, None);
    assert_eq!(results[1].error, Some(GroupError::UnknownMemberId));
    let described = &c.describe_groups(&["g".into()])[0];
    assert_eq!(described.state, GroupState::Empty);
    assert_eq!(described.generation_id, 2);
    assert!(described.members.is_empty());
    assert_eq!(
        heartbeat(&c, "g", &first.member_id, 1),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(c.leave_group("nope", &[]), Err(GroupError::UnknownMemberId));
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_never_syncs_is_removed_after_the_rebalance_timeout() {
    let (c, _) = coordinator().await;
    let id = member_id(&c, "g").await;
    let join = c.join_group(join_req("g", &id, &["range"])).await.unwrap();
    assert_eq!(state(&c, "g"), GroupState::CompletingRebalance);
    // Heartbeats are fine between JoinGroup and SyncGroup...
    heartbeat(&c, "g", &id, join.generation_id).unwrap();
    tokio::time::sleep(REBALANCE + Duration::from_secs(1)).await;
    // ...but without a SyncGroup the member is gone.
    assert_eq!(state(&c, "g"), GroupState::Empty);
}

#[tokio::test(start_paused = true)]
async fn a_follower_waiting_in_sync_fails_when_a_new_rebalance_starts() {
    let (c, _) = coordinator().await;
    let a_id = member_id(&c, "g").await;
    let b_id = member_id(&c, "g").await;
    let a = spawn_join(&c, join_req("g", &a_id, &["range"]));
    let b = spawn_join(&c, join_req("g", &b_id, &["range"]));
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    let (follower, leader) = if a.is_leader() { (b, a) } else { (a, b) };
    let waiting = {
        let (c, req) = (c.clone(), sync_req("g", &follower, vec![]));
        tokio::spawn(async move { c.sync_group(req).await })
    };
    tokio::task::yield_now().await;
    let left = c
        .leave_group(
            "g",
            &[LeavingMember {
                member_id: leader.member_id.clone(),
                group_instance_id: None,
            }],
        )
        .unwrap();
    assert_eq!(left[0].error, None);
    assert_eq!(waiting.await.unwrap(), Err(GroupError::RebalanceInProgress));
}

#[tokio::test(start_paused = true)]
async fn bad_requests_get_kafka_errors() {
    let (c, _) = coordinator().await;
    let join = stable_single(&c, "g").await;
    let id = join.member_id.clone();
    assert_eq!(
        heartbeat(&c, "g", &id, 7),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        heartbeat(&c, "g", "ghost", 1),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        heartbeat(&c, "nope", &id, 1),
        Err(GroupError::UnknownMemberId)
    );
    let mut stale = sync_req("g", &join, vec![]);
    stale.generation_id = 0;
    assert_eq!(
        c.sync_group(stale).await,
        Err(GroupError::IllegalGeneration)
    );
    let mut wrong = sync_req("g", &join, vec![]);
    wrong.protocol_name = Some("roundrobin".into());
    assert_eq!(
        c.sync_group(wrong).await,
        Err(GroupError::InconsistentGroupProtocol)
    );
    // No protocol in common with the group's members.
    let other = member_id(&c, "g").await;
    assert_eq!(
        c.join_group(join_req("g", &other, &["sticky"])).await,
        Err(GroupError::InconsistentGroupProtocol)
    );
    let mut connect = join_req("g", "", &["range"]);
    connect.protocol_type = "connect".into();
    assert_eq!(
        c.join_group(connect).await,
        Err(GroupError::InconsistentGroupProtocol)
    );
    let mut short = join_req("g", "", &["range"]);
    short.session_timeout = Duration::from_millis(10);
    assert_eq!(
        c.join_group(short).await,
        Err(GroupError::InvalidSessionTimeout(10))
    );
    assert_eq!(
        c.join_group(join_req("", "", &["range"])).await,
        Err(GroupError::InvalidGroupId)
    );
    let long = "g".repeat(2000);
    assert_eq!(
        c.join_group(join_req(&long, "", &["range"])).await,
        Err(GroupError::InvalidGroupId)
    );
    let mut no_protocols = join_req("brand-new", "", &[]);
    no_protocols.protocols.clear();
    assert_eq!(
        c.join_group(no_protocols).await,
        Err(GroupError::InconsistentGroupProtocol)
    );
    assert_eq!(
        state(&c, "brand-new"),
        GroupState::Dead,
        "a failed first join leaves no group behind"
    );
    assert_eq!(
        c.join_group(join_req("g", "made-up", &["range"])).await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.join_group(join_req("fresh", "made-up", &["range"])).await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(GroupError::IllegalGeneration.code(), 22);
    assert_eq!(GroupError::RebalanceInProgress.code(), 27);
}

#[tokio::test(start_paused = true)]
async fn old_clients_without_member_id_required_join_directly() {
    let (c, _) = coordinator().await;
    let mut req = join_req("g", "", &["range"]);
    req.require_known_member_id = false;
    let join = c.join_group(req).await.unwrap();
    assert!(join.member_id.starts_with("client-"));
    assert_eq!(join.generation_id, 1);
}

#[tokio::test(start_paused = true)]
async fn unused_member_ids_expire_so_the_group_does_not_wait_for_them() {
    let (c, _) = coordinator().await;
    let first = stable_single(&c, "g").await;
    let _never_used = member_id(&c, "g").await;
    let rejoin = c
        .join_group(join_req("g", &first.member_id, &["range"]))
        .await
        .unwrap();
    // A rejoin of the leader rebalances; the pending id is not a member to wait for.
    assert_eq!(rejoin.generation_id, 2);
    assert_eq!(rejoin.members.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn follower_rejoin_with_same_protocols_changes_nothing_but_a_leader_rejoin_rebalances() {
    let (c, _) = coordinator().await;
    let a_id = member_id(&c, "g").await;
    let b_id = member_id(&c, "g").await;
    let a = spawn_join(&c, join_req("g", &a_id, &["range"]));
    let b = spawn_join(&c, join_req("g", &b_id, &["range"]));
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    let (follower, leader) = if a.is_leader() { (b, a) } else { (a, b) };
    let assignments = leader_range_assignments(&leader, |_| Some(4)).unwrap();
    c.sync_group(sync_req("g", &leader, assignments))
        .await
        .unwrap();
    c.sync_group(sync_req("g", &follower, vec![]))
        .await
        .unwrap();
    let again = c
        .join_group(join_req("g", &follower.member_id, &["range"]))
        .await
        .unwrap();
    assert_eq!(again.generation_id, follower.generation_id);
    assert_eq!(state(&c, "g"), GroupState::Stable);
    let leader_again = spawn_join(&c, join_req("g", &leader.member_id, &["range"]));
    tokio::task::yield_now().await;
    assert_eq!(state(&c, "g"), GroupState::PreparingRebalance);
    let follower_again = c
        .join_group(join_req("g", &follower.member_id, &["range"]))
        .await
        .unwrap();
    assert_eq!(follower_again.generation_id, follower.generation_id + 1);
    assert_eq!(
        leader_again.await.unwrap().unwrap().generation_id,
        follower.generation_id + 1
    );
}

#[tokio::test(start_paused = true)]
async fn the_initial_rebalance_delay_gathers_a_starting_fleet_into_one_generation() {
    let storage = super::MemoryStorage::new(1);
    let config = GroupConfig {
        initial_rebalance_delay: Duration::from_secs(3),
        ..config()
    };
    let c = GroupCoordinator::with_storage(storage, config)
        .await
        .unwrap();
    let mut joins = Vec::new();
    for _ in 0..3 {
        let id = member_id(&c, "g").await;
        joins.push(spawn_join(&c, join_req("g", &id, &["range"])));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    for join in joins {
        let join = join.await.unwrap().unwrap();
        assert_eq!(
            join.generation_id, 1,
            "everyone lands in the first generation"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_join_whose_client_went_away_does_not_stall_the_rebalance() {
    let (c, _) = coordinator().await;
    let first = stable_single(&c, "g").await;
    // A pending member id holds the rebalance open while the first member rejoins...
    let second_id = member_id(&c, "g").await;
    let lost = spawn_join(&c, join_req("g", &first.member_id, &["range"]));
    tokio::task::yield_now().await;
    assert_eq!(state(&c, "g"), GroupState::PreparingRebalance);
    // ...and then the first member's connection drops before the answer.
    lost.abort();
    assert!(lost.await.unwrap_err().is_cancelled());
    let started = tokio::time::Instant::now();
    let second = c
        .join_group(join_req("g", &second_id, &["range"]))
        .await
        .unwrap();
    // The gone member is not kept alive by its dead request: its session runs out.
    assert!(started.elapsed() <= SESSION + Duration::from_secs(1));
    assert!(
        second.is_leader(),
        "{second:?} {:?}",
        c.describe_groups(&["g".into()])
    );
    assert_eq!(second.members.len(), 1);
}
