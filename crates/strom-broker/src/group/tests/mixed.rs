//! Classic and KIP-848 members in one group (Kafka's online migration, `bidirectional`
//! policy): a consumer member upgrades a classic group, classic members join a consumer group
//! and give up partitions before anyone gets them, the last consumer member leaving downgrades
//! the group, a mixed group survives a reopen, and the `disabled` policy converts nothing.

use std::collections::BTreeMap;

use super::consumer::{beat, hb, owned, partitions};
use super::*;

/// A classic JoinGroup for group `g`, protocol `range`, owning `owned` of topic `t`.
fn classic_join(member: &str, owned: &[i32]) -> JoinGroupRequest {
    let mut req = join_req("g", member, &["range"]);
    let owned_partitions = if owned.is_empty() {
        BTreeMap::new()
    } else {
        BTreeMap::from([("t".to_string(), owned.to_vec())])
    };
    req.protocols[0].metadata = encode_subscription(&Subscription {
        topics: vec!["t".into()],
        owned_partitions,
        ..Subscription::default()
    });
    req
}

/// SyncGroup of a (follower) classic member: the partitions of `t` it got.
async fn synced(c: &GroupCoordinator, join: &JoinGroupResponse) -> Result<Vec<i32>, GroupError> {
    let s = c.sync_group(sync_req("g", join, Vec::new())).await?;
    let assignment = decode_assignment(&s.assignment)?;
    Ok(assignment.partitions.get("t").cloned().unwrap_or_default())
}

fn group_type(c: &GroupCoordinator) -> String {
    c.list_groups(&[], &[])[0].group_type.to_string()
}

/// Lets the detached writer flush (the clock is paused, so this is instant).
async fn flush() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Consumer member `a` (all four partitions), then classic member x joins and, once `a`
/// released half, rejoins and gets it. Returns x's last join and its partitions.
async fn mixed_pair(c: &GroupCoordinator) -> (JoinGroupResponse, Vec<i32>, Vec<i32>) {
    let a = beat(c, hb("a", 0, owned(&[]))).unwrap();
    assert_eq!(partitions(&a), vec![0, 1, 2, 3]);
    let x = member_id(c, "g").await;
    let j = c.join_group(classic_join(&x, &[])).await.unwrap();
    assert_eq!(
        (j.member_id.as_str(), j.leader_id.as_str()),
        (x.as_str(), "")
    );
    assert!(j.generation_id > a.member_epoch);
    assert_eq!(synced(c, &j).await, Ok(vec![]), "a still owns everything");
    assert_eq!(
        heartbeat(c, "g", &x, j.generation_id),
        Ok(()),
        "waits for a"
    );
    let kept = partitions(&beat(c, hb("a", a.member_epoch, None)).unwrap());
    assert_eq!(kept.len(), 2);
    beat(c, hb("a", a.member_epoch, owned(&kept))).unwrap();
    // Released: x is told to rejoin, and gets the other two.
    assert_eq!(
        heartbeat(c, "g", &x, j.generation_id),
        Err(GroupError::RebalanceInProgress)
    );
    let j2 = c.join_group(classic_join(&x, &[])).await.unwrap();
    assert_eq!(j2.generation_id, j.generation_id);
    let got = synced(c, &j2).await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|p| !kept.contains(p)));
    assert_eq!(heartbeat(c, "g", &x, j2.generation_id), Ok(()));
    (j2, got, kept)
}

#[tokio::test(start_paused = true)]
async fn a_consumer_member_upgrades_a_classic_group_and_partitions_move_once_released() {
    let (c, _) = coordinator().await;
    let x = stable_single(&c, "g").await;
    let generation = x.generation_id;
    let a = beat(&c, hb("a", 0, owned(&[]))).unwrap();
    assert_eq!(group_type(&c), "consumer");
    assert!(a.member_epoch > generation);
    assert_eq!(partitions(&a), Vec::<i32>::new(), "x still owns everything");
    let described = c.describe_consumer_group("g").unwrap();
    let xd = described
        .members
        .iter()
        .find(|m| m.member_id == x.member_id)
        .unwrap();
    assert_eq!(
        xd.member_epoch, generation,
        "group epoch = classic generation"
    );
    assert_eq!(
        xd.assignment[0].2,
        vec![0, 1, 2, 3],
        "from its classic assignment"
    );
    // x must rejoin; it keeps half at its old generation, and gives up the rest.
    assert_eq!(
        heartbeat(&c, "g", &x.member_id, generation),
        Err(GroupError::RebalanceInProgress)
    );
    let r1 = c
        .join_group(classic_join(&x.member_id, &[0, 1, 2, 3]))
        .await
        .unwrap();
    assert_eq!((r1.generation_id, r1.leader_id.as_str()), (generation, ""));
    let kept = synced(&c, &r1).await.unwrap();
    assert_eq!(kept.len(), 2);
    let a2 = beat(&c, hb("a", a.member_epoch, owned(&[]))).unwrap();
    assert_eq!(partitions(&a2), Vec::<i32>::new(), "not released yet");
    // x rejoins owning only what it kept: it reaches the new epoch, and a gets the rest.
    assert_eq!(
        heartbeat(&c, "g", &x.member_id, generation),
        Err(GroupError::RebalanceInProgress)
    );
    let r2 = c
        .join_group(classic_join(&x.member_id, &kept))
        .await
        .unwrap();
    assert_eq!(r2.generation_id, a.member_epoch);
    assert_eq!(synced(&c, &r2).await.unwrap(), kept);
    assert_eq!(heartbeat(&c, "g", &x.member_id, r2.generation_id), Ok(()));
    let a3 = beat(&c, hb("a", a.member_epoch, owned(&[]))).unwrap();
    let mut all = partitions(&a3);
    all.extend(&kept);
    all.sort();
    assert_eq!(all, vec![0, 1, 2, 3]);
    // x commits with its generation (its member epoch); a stale one is an illegal generation.
    let commit = |generation| commit_req("g", generation, &x.member_id, &[("t", kept[0], 5)]);
    assert_eq!(
        c.commit_offsets(commit(r2.generation_id)).await.unwrap()[0].error,
        None
    );
    assert_eq!(
        c.commit_offsets(commit(generation)).await.err(),
        Some(GroupError::IllegalGeneration)
    );
}

#[tokio::test(start_paused = true)]
async fn a_classic_member_joins_a_consumer_group_and_gets_its_share() {
    let (c, _) = coordinator().await;
    let (j, got, _) = mixed_pair(&c).await;
    assert_eq!(
        heartbeat(&c, "g", &j.member_id, j.generation_id - 1),
        Err(GroupError::IllegalGeneration)
    );
    let mut other = sync_req("g", &j, Vec::new());
    other.protocol_name = Some("roundrobin".into());
    assert_eq!(
        c.sync_group(other).await.err(),
        Some(GroupError::InconsistentGroupProtocol)
    );
    let described = c.describe_consumer_group("g").unwrap();
    assert_eq!(described.state, "Stable");
    let xd = described
        .members
        .iter()
        .find(|m| m.member_id == j.member_id)
        .unwrap();
    assert_eq!(xd.assignment[0].2, got);
    // A classic member leaves: a consumer member remains, the group stays a consumer group.
    let left = c
        .leave_group(
            "g",
            &[LeavingMember {
                member_id: j.member_id.clone(),
                group_instance_id: None,
            }],
        )
        .unwrap();
    assert_eq!(left[0].error, None);
    assert_eq!(group_type(&c), "consumer");
    assert_eq!(c.describe_consumer_group("g").unwrap().members.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_last_consumer_member_leaving_downgrades_the_group_which_rebalances() {
    let (c, storage) = coordinator().await;
    let (j, _, _) = mixed_pair(&c).await;
    beat(&c, hb("a", -1, None)).unwrap();
    assert_eq!(group_type(&c), "classic");
    assert_eq!(state(&c, "g"), GroupState::PreparingRebalance);
    // x's generation is its old member epoch: it rejoins as a classic member and leads.
    assert_eq!(
        heartbeat(&c, "g", &j.member_id, j.generation_id),
        Err(GroupError::IllegalGeneration)
    );
    let j2 = c
        .join_group(join_req("g", &j.member_id, &["range"]))
        .await
        .unwrap();
    assert!(j2.is_leader());
    let assignments = leader_range_assignments(&j2, |_| Some(4)).unwrap();
    c.sync_group(sync_req("g", &j2, assignments)).await.unwrap();
    assert_eq!(state(&c, "g"), GroupState::Stable);
    flush().await;
    drop(c);
    let c = reopen(&storage).await;
    assert_eq!(group_type(&c), "classic", "the KIP-848 records are gone");
    assert_eq!(heartbeat(&c, "g", &j2.member_id, j2.generation_id), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_mixed_group_survives_a_reopen_and_classic_sessions_still_expire() {
    let (c, storage) = coordinator().await;
    let (j, got, _) = mixed_pair(&c).await;
    let before = c.describe_consumer_group("g").unwrap();
    flush().await;
    drop(c);
    let c = reopen(&storage).await;
    assert_eq!(c.describe_consumer_group("g").unwrap(), before);
    assert_eq!(heartbeat(&c, "g", &j.member_id, j.generation_id), Ok(()));
    assert_eq!(
        synced(&c, &j).await.unwrap(),
        got,
        "its classic metadata came back"
    );
    // x goes silent for longer than its own session timeout (not the consumer one).
    tokio::time::sleep(SESSION + Duration::from_secs(1)).await;
    let members = c.describe_consumer_group("g").unwrap().members;
    assert_eq!(members.len(), 1, "x timed out");
    assert_eq!(members[0].member_id, "a");
}

#[tokio::test(start_paused = true)]
async fn with_migration_disabled_groups_with_members_do_not_convert() {
    let disabled = || GroupConfig {
        consumer_migration_policy: MigrationPolicy::Disabled,
        ..config()
    };
    let storage = super::super::storage::memory::MemoryStorage::new(3);
    storage.add_topic("t", 4, 100);
    let c = GroupCoordinator::with_storage(storage.clone(), disabled())
        .await
        .unwrap();
    stable_single(&c, "g").await;
    assert_eq!(
        beat(&c, hb("a", 0, owned(&[]))).err(),
        Some(GroupError::GroupIdNotFound)
    );
    assert_eq!(group_type(&c), "classic");

    let storage = super::super::storage::memory::MemoryStorage::new(3);
    storage.add_topic("t", 4, 100);
    let c = GroupCoordinator::with_storage(storage, disabled())
        .await
        .unwrap();
    mixed_pair(&c).await;
    beat(&c, hb("a", -1, None)).unwrap();
    assert_eq!(group_type(&c), "consumer", "classic members stay in it");
    assert_eq!(c.describe_consumer_group("g").unwrap().members.len(), 1);
}
