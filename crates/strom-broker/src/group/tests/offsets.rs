//! Offset commit, fetch, delete, expiry and lag, and persistence across a reopen.

use super::*;

fn all(partitions: &[i32]) -> Vec<TopicPartitions> {
    vec![TopicPartitions {
        topic: "t".into(),
        partitions: partitions.to_vec(),
    }]
}

#[tokio::test(start_paused = true)]
async fn standalone_commits_are_fetched_and_survive_a_reopen() {
    let (c, storage) = coordinator().await;
    let results = c
        .commit_offsets(commit_req(
            "solo",
            -1,
            "",
            &[("t", 0, 5), ("t", 1, 7), ("nope", 0, 1), ("t", 9, 1)],
        ))
        .await
        .unwrap();
    let errors: Vec<_> = results.iter().map(|r| r.error.clone()).collect();
    assert_eq!(
        errors,
        vec![
            None,
            None,
            Some(GroupError::UnknownTopicOrPartition),
            Some(GroupError::UnknownTopicOrPartition)
        ]
    );
    let fetched = c.fetch_offsets("solo", None);
    assert_eq!(
        fetched.iter().map(|f| f.offset).collect::<Vec<_>>(),
        vec![5, 7]
    );
    assert_eq!(fetched[0].metadata, "m");
    let some = c.fetch_offsets("solo", Some(&all(&[1, 2])));
    assert_eq!(
        some.iter().map(|f| f.offset).collect::<Vec<_>>(),
        vec![7, -1]
    );
    assert_eq!(c.fetch_offsets("unknown", Some(&all(&[0])))[0].offset, -1);
    assert!(c.fetch_offsets("unknown", None).is_empty());
    c.commit_offsets(commit_req("solo", -1, "", &[("t", 0, 6)]))
        .await
        .unwrap();
    let listed = c.list_groups(&[], &[]);
    assert_eq!(
        (
            listed[0].group_id.as_str(),
            listed[0].protocol_type.as_str()
        ),
        ("solo", "")
    );

    let reopened = reopen(&storage).await;
    let fetched = reopened.fetch_offsets("solo", None);
    assert_eq!(
        fetched.iter().map(|f| f.offset).collect::<Vec<_>>(),
        vec![6, 7]
    );
    assert_eq!(reopened.list_groups(&[GroupState::Empty], &[]).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn member_commits_are_checked_against_the_generation() {
    let (c, _) = coordinator().await;
    let join = stable_single(&c, "g").await;
    let ok = c
        .commit_offsets(commit_req("g", 1, &join.member_id, &[("t", 0, 3)]))
        .await
        .unwrap();
    assert_eq!(ok[0].error, None);
    assert_eq!(
        c.commit_offsets(commit_req("g", 0, &join.member_id, &[("t", 0, 4)]))
            .await,
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        c.commit_offsets(commit_req("g", 1, "ghost", &[("t", 0, 4)]))
            .await,
        Err(GroupError::UnknownMemberId)
    );
    // A standalone commit into a group that has members is refused.
    assert_eq!(
        c.commit_offsets(commit_req("g", -1, "", &[("t", 0, 4)]))
            .await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.commit_offsets(commit_req("never-existed", 3, "m", &[("t", 0, 4)]))
            .await,
        Err(GroupError::IllegalGeneration)
    );
    let mut big = commit_req("g", 1, &join.member_id, &[("t", 0, 4)]);
    big.offsets[0].metadata = Some("x".repeat(5000));
    let big = c.commit_offsets(big).await.unwrap();
    assert_eq!(big[0].error, Some(GroupError::OffsetMetadataTooLarge));
    assert_eq!(c.fetch_offsets("g", None)[0].offset, 3);
    // During the join phase members of the current generation may still commit ...
    let second = member_id(&c, "g").await;
    let second = spawn_join(&c, join_req("g", &second, &["range"]));
    tokio::task::yield_now().await;
    assert_eq!(state(&c, "g"), GroupState::PreparingRebalance);
    let during = c
        .commit_offsets(commit_req("g", 1, &join.member_id, &[("t", 0, 8)]))
        .await
        .unwrap();
    assert_eq!(during[0].error, None);
    let rejoin = c
        .join_group(join_req("g", &join.member_id, &["range"]))
        .await
        .unwrap();
    second.await.unwrap().unwrap();
    // ... but not between the join and the sync of the new generation.
    assert_eq!(
        c.commit_offsets(commit_req(
            "g",
            rejoin.generation_id,
            &join.member_id,
            &[("t", 0, 9)]
        ))
        .await,
        Err(GroupError::RebalanceInProgress)
    );
}

#[tokio::test(start_paused = true)]
async fn failed_writes_are_reported_and_not_applied() {
    let (c, storage) = coordinator().await;
    *storage.fail_appends.lock() = true;
    let results = c
        .commit_offsets(commit_req("g", -1, "", &[("t", 0, 5)]))
        .await
        .unwrap();
    assert!(matches!(results[0].error, Some(GroupError::Storage(_))));
    assert_eq!(results[0].error.as_ref().map(GroupError::code), Some(15));
    assert_eq!(c.fetch_offsets("g", Some(&all(&[0])))[0].offset, -1);
}

#[tokio::test(start_paused = true)]
async fn delete_groups_and_offsets_write_tombstones() {
    let (c, storage) = coordinator().await;
    let join = stable_single(&c, "g").await;
    c.commit_offsets(commit_req("g", 1, &join.member_id, &[("t", 0, 3)]))
        .await
        .unwrap();
    let outcome = c.delete_groups(&["g".into(), "missing".into()]).await;
    assert_eq!(outcome[0].1, Some(GroupError::NonEmptyGroup));
    assert_eq!(outcome[1].1, Some(GroupError::GroupIdNotFound));
    // While a member subscribes to `t`, its offsets cannot be deleted.
    let refused = c.delete_offsets("g", &all(&[0])).await.unwrap();
    assert_eq!(refused[0].error, Some(GroupError::GroupSubscribedToTopic));
    assert_eq!(
        c.delete_offsets("missing", &all(&[0])).await,
        Err(GroupError::GroupIdNotFound)
    );

    c.leave_group(
        "g",
        &[LeavingMember {
            member_id: join.member_id.clone(),
            group_instance_id: None,
        }],
    )
    .unwrap();
    c.commit_offsets(commit_req("g", -1, "", &[("t", 1, 4), ("t", 2, 4)]))
        .await
        .unwrap();
    let deleted = c.delete_offsets("g", &all(&[0])).await.unwrap();
    assert_eq!(deleted[0].error, None);
    let fetched = c.fetch_offsets("g", None);
    assert_eq!(
        fetched.iter().map(|f| f.partition).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(reopen(&storage).await.fetch_offsets("g", None).len(), 2);

    assert_eq!(c.delete_groups(&["g".into()]).await[0].1, None);
    assert_eq!(state(&c, "g"), GroupState::Dead);
    assert!(c.fetch_offsets("g", None).is_empty());
    let reopened = reopen(&storage).await;
    assert!(reopened.fetch_offsets("g", None).is_empty());
    assert!(reopened.list_groups(&[], &[]).is_empty());
}

#[tokio::test(start_paused = true)]
async fn offsets_of_empty_groups_expire_after_the_retention() {
    let (c, storage) = coordinator().await;
    let join = stable_single(&c, "busy").await;
    c.commit_offsets(commit_req("busy", 1, &join.member_id, &[("t", 0, 1)]))
        .await
        .unwrap();
    c.commit_offsets(commit_req("idle", -1, "", &[("t", 0, 1), ("t", 1, 2)]))
        .await
        .unwrap();
    let now = super::super::coordinator::now_ms();
    let retention = config().offsets_retention.as_millis() as i64;
    assert_eq!(c.expire_offsets(now + retention - 60_000), 0);
    let tombstones = storage.tombstones();
    assert_eq!(
        c.expire_offsets(now + retention + 60_000),
        2,
        "only the group without members"
    );
    tokio::task::yield_now().await;
    assert!(c.fetch_offsets("idle", None).is_empty());
    assert_eq!(c.fetch_offsets("busy", None).len(), 1);
    assert_eq!(
        state(&c, "idle"),
        GroupState::Dead,
        "an empty group without offsets is deleted"
    );
    // Two offset tombstones and the group's tombstone reach the log.
    for _ in 0..10 {
        if storage.tombstones() == tombstones + 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(storage.tombstones(), tombstones + 3);
    assert!(reopen(&storage)
        .await
        .fetch_offsets("idle", None)
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn lag_is_log_end_minus_committed() {
    let (c, _) = coordinator().await;
    c.commit_offsets(commit_req("g", -1, "", &[("t", 0, 40), ("t", 1, 100)]))
        .await
        .unwrap();
    let lag = c.lag("g").unwrap();
    assert_eq!(
        lag.iter().map(|l| l.lag).collect::<Vec<_>>(),
        vec![Some(60), Some(0)]
    );
    assert_eq!(lag[0].log_end_offset, Some(100));
    assert_eq!(c.lag("nope"), Err(GroupError::GroupIdNotFound));
}

#[tokio::test(start_paused = true)]
async fn stable_members_keep_their_place_across_a_reopen() {
    let (c, storage) = coordinator().await;
    let join = stable_single(&c, "g").await;
    c.commit_offsets(commit_req("g", 1, &join.member_id, &[("t", 0, 3)]))
        .await
        .unwrap();
    drop(c);
    let c = reopen(&storage).await;
    assert_eq!(state(&c, "g"), GroupState::Stable);
    heartbeat(&c, "g", &join.member_id, 1).unwrap();
    let sync = c.sync_group(sync_req("g", &join, vec![])).await.unwrap();
    assert_eq!(
        decode_assignment(&sync.assignment).unwrap().partitions["t"].len(),
        4
    );
    c.commit_offsets(commit_req("g", 1, &join.member_id, &[("t", 0, 4)]))
        .await
        .unwrap();
    // A member that does not come back after the restart expires like any other.
    tokio::time::sleep(SESSION + Duration::from_secs(1)).await;
    assert_eq!(state(&c, "g"), GroupState::Empty);
    let c = reopen(&storage).await;
    assert_eq!(
        state(&c, "g"),
        GroupState::Empty,
        "the emptied group was persisted"
    );
    assert_eq!(c.fetch_offsets("g", None)[0].offset, 4);
}

#[tokio::test(start_paused = true)]
async fn corrupt_records_are_skipped_on_replay() {
    let (c, storage) = coordinator().await;
    c.commit_offsets(commit_req("g", -1, "", &[("t", 0, 5)]))
        .await
        .unwrap();
    storage
        .append(
            0,
            &[crate::NewRecord {
                key: Some(Bytes::from_static(b"\x00\x07garbage")),
                value: Some(Bytes::from_static(b"x")),
                ..Default::default()
            }],
        )
        .unwrap();
    assert_eq!(reopen(&storage).await.fetch_offsets("g", None)[0].offset, 5);
}
