//! Static membership (KIP-345): `group.instance.id` survives restarts without a rebalance and
//! fences the stale member id.

use super::*;

fn static_join(group: &str, member_id: &str, instance: &str) -> JoinGroupRequest {
    JoinGroupRequest {
        group_instance_id: Some(instance.into()),
        ..join_req(group, member_id, &["range"])
    }
}

/// A Stable group of two static members: `instance-a` leads, `instance-b` follows.
async fn stable_static_pair(c: &GroupCoordinator) -> (JoinGroupResponse, JoinGroupResponse) {
    let first = c
        .join_group(static_join("g", "", "instance-a"))
        .await
        .unwrap();
    let assignments = leader_range_assignments(&first, |_| Some(4)).unwrap();
    c.sync_group(sync_req("g", &first, assignments))
        .await
        .unwrap();
    let follower = spawn_join(c, static_join("g", "", "instance-b"));
    tokio::task::yield_now().await;
    let leader = c
        .join_group(static_join("g", &first.member_id, "instance-a"))
        .await
        .unwrap();
    let follower = follower.await.unwrap().unwrap();
    assert!(leader.is_leader());
    let assignments = leader_range_assignments(&leader, |_| Some(4)).unwrap();
    c.sync_group(sync_req("g", &leader, assignments))
        .await
        .unwrap();
    c.sync_group(sync_req("g", &follower, vec![]))
        .await
        .unwrap();
    (leader, follower)
}

#[tokio::test(start_paused = true)]
async fn static_members_join_without_member_id_required() {
    let (c, _) = coordinator().await;
    let join = c
        .join_group(static_join("g", "", "instance-a"))
        .await
        .unwrap();
    assert!(join.member_id.starts_with("instance-a-"));
    assert_eq!(
        join.members[0].group_instance_id.as_deref(),
        Some("instance-a")
    );
}

#[tokio::test(start_paused = true)]
async fn a_restarted_static_follower_takes_its_place_back_without_a_rebalance() {
    let (c, _) = coordinator().await;
    let (leader, follower) = stable_static_pair(&c).await;
    let instance = "instance-b";
    let before = c.describe_groups(&["g".into()])[0].clone();

    let rejoined = c.join_group(static_join("g", "", instance)).await.unwrap();
    assert_ne!(rejoined.member_id, follower.member_id);
    assert_eq!(
        rejoined.generation_id, follower.generation_id,
        "no new generation"
    );
    assert_eq!(state(&c, "g"), GroupState::Stable);
    let synced = c
        .sync_group(sync_req("g", &rejoined, vec![]))
        .await
        .unwrap();
    let old_assignment = before
        .members
        .iter()
        .find(|m| m.member_id == follower.member_id)
        .map(|m| m.assignment.clone())
        .unwrap();
    assert_eq!(
        synced.assignment, old_assignment,
        "same partitions as before the restart"
    );

    // The old incarnation is fenced everywhere.
    let stale = HeartbeatRequest {
        group_id: "g".into(),
        generation_id: follower.generation_id,
        member_id: follower.member_id.clone(),
        group_instance_id: Some(instance.into()),
    };
    assert_eq!(c.heartbeat(stale), Err(GroupError::FencedInstanceId));
    let mut commit = commit_req(
        "g",
        follower.generation_id,
        &follower.member_id,
        &[("t", 0, 1)],
    );
    commit.group_instance_id = Some(instance.into());
    assert_eq!(
        c.commit_offsets(commit).await,
        Err(GroupError::FencedInstanceId)
    );
    heartbeat(&c, "g", &leader.member_id, leader.generation_id).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_static_member_waiting_in_join_is_fenced_by_its_replacement() {
    let (c, _) = coordinator().await;
    let (leader, follower) = stable_static_pair(&c).await;
    let instance = "instance-b";
    // The leader rejoins (a rebalance), the follower rejoins under its id, then a new
    // incarnation of the follower's instance arrives.
    let leader_instance = "instance-a";
    // A pending member id keeps the join phase open throughout.
    let _pending = member_id(&c, "g").await;
    let l = spawn_join(&c, static_join("g", &leader.member_id, leader_instance));
    tokio::task::yield_now().await;
    let old = spawn_join(&c, static_join("g", &follower.member_id, instance));
    tokio::task::yield_now().await;
    let new = c.join_group(static_join("g", "", instance)).await;
    assert_eq!(old.await.unwrap(), Err(GroupError::FencedInstanceId));
    let new = new.unwrap();
    let l = l.await.unwrap().unwrap();
    assert_eq!(new.generation_id, l.generation_id);
    assert!(l.members.iter().any(|m| m.member_id == new.member_id));
}

#[tokio::test(start_paused = true)]
async fn static_members_are_kept_through_a_rebalance_they_miss_and_removable_by_instance_id() {
    let (c, _) = coordinator().await;
    let (leader, follower) = stable_static_pair(&c).await;
    let (leader_instance, follower_instance) = ("instance-a", "instance-b");
    // Keep the silent follower alive with heartbeats; it never rejoins.
    let hb = {
        let (c, id) = (c.clone(), follower.member_id.clone());
        tokio::spawn(async move {
            for _ in 0..12 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                let _ = heartbeat(&c, "g", &id, 2);
            }
        })
    };
    let l = c
        .join_group(static_join("g", &leader.member_id, leader_instance))
        .await
        .unwrap();
    assert_eq!(l.members.len(), 2, "the static follower keeps its place");
    hb.abort();
    let removed = c
        .leave_group(
            "g",
            &[LeavingMember {
                member_id: String::new(),
                group_instance_id: Some(follower_instance.into()),
            }],
        )
        .unwrap();
    assert_eq!(removed[0].error, None);
    let fenced = c
        .leave_group(
            "g",
            &[LeavingMember {
                member_id: "someone-else".into(),
                group_instance_id: Some(leader_instance.into()),
            }],
        )
        .unwrap();
    assert_eq!(fenced[0].error, Some(GroupError::FencedInstanceId));
}

#[tokio::test(start_paused = true)]
async fn a_restarted_static_leader_skips_the_assignment_if_the_client_can() {
    let (c, _) = coordinator().await;
    let (leader, follower) = stable_static_pair(&c).await;
    // An old client: the leader's return rebalances the group.
    let old_client = spawn_join(&c, static_join("g", "", "instance-a"));
    tokio::task::yield_now().await;
    assert_eq!(state(&c, "g"), GroupState::PreparingRebalance);
    let follower_again = c
        .join_group(static_join("g", &follower.member_id, "instance-b"))
        .await
        .unwrap();
    let leader_again = old_client.await.unwrap().unwrap();
    assert_eq!(leader_again.generation_id, leader.generation_id + 1);
    assert!(!leader_again.skip_assignment);
    let assignments = leader_range_assignments(&leader_again, |_| Some(4)).unwrap();
    c.sync_group(sync_req("g", &leader_again, assignments))
        .await
        .unwrap();
    c.sync_group(sync_req("g", &follower_again, vec![]))
        .await
        .unwrap();

    // A KIP-814 client: no rebalance, the leader learns the members but keeps the assignment.
    let mut req = static_join("g", "", "instance-a");
    req.supports_skip_assignment = true;
    let restarted = c.join_group(req).await.unwrap();
    assert!(restarted.is_leader() && restarted.skip_assignment);
    assert_eq!(restarted.generation_id, leader_again.generation_id);
    assert_eq!(restarted.members.len(), 2);
    assert_eq!(state(&c, "g"), GroupState::Stable);
    let synced = c
        .sync_group(sync_req("g", &restarted, vec![]))
        .await
        .unwrap();
    assert_eq!(
        decode_assignment(&synced.assignment).unwrap().partitions["t"],
        vec![0, 1]
    );
}
