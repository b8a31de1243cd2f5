//! The coordinator over a real broker on a temporary data directory: `__consumer_offsets` is
//! created compacted, and offsets and groups survive a clean restart and an unclean one.

use std::collections::BTreeMap;

use crate::{Broker, BrokerConfig};

use super::*;

fn broker(dir: &std::path::Path) -> Arc<Broker> {
    let config = BrokerConfig {
        data_dir: dir.to_path_buf(),
        node_id: 1,
        auto_create_topics: false,
        default_partitions: 1,
        durability: strom_log::Durability::Always,
        log_defaults: strom_log::LogConfig {
            durability: strom_log::Durability::Always,
            ..Default::default()
        },
        retention_check_interval_ms: 60_000,
        cleaner_bytes_per_sec: 100 << 20,
        cleaner_dedupe_buffer_bytes: 128 << 20,
    };
    Broker::open(config).unwrap()
}

/// Drops the coordinator and waits until its tasks have ended and released their handles on
/// the broker (`b` is then the last one), so the data directory can be opened again.
async fn close(c: GroupCoordinator, b: &Arc<Broker>) {
    drop(c);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while Arc::strong_count(b) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the coordinator's tasks still hold the broker"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn offsets_and_groups_survive_restarts_of_a_real_broker() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    b.create_topic("t", 4, &BTreeMap::new()).unwrap();
    let c = GroupCoordinator::start(b.clone(), config()).await.unwrap();
    let offsets_topic = b.topic(OFFSETS_TOPIC).unwrap();
    assert_eq!(
        offsets_topic.partition_count(),
        config().offsets_topic_partitions
    );
    assert_eq!(
        offsets_topic.config().overrides["cleanup.policy"],
        "compact"
    );

    // A second start for the same broker shares the running coordinator.
    let again = GroupCoordinator::start(b.clone(), config()).await.unwrap();
    assert!(Arc::ptr_eq(&again.shared, &c.shared));
    drop(again);

    let join = stable_single(&c, "g").await;
    let results = c
        .commit_offsets(commit_req(
            "g",
            1,
            &join.member_id,
            &[("t", 0, 11), ("t", 3, 33), ("x", 0, 1)],
        ))
        .await
        .unwrap();
    assert_eq!(results[2].error, Some(GroupError::UnknownTopicOrPartition));
    c.commit_offsets(commit_req("solo", -1, "", &[("t", 1, 7)]))
        .await
        .unwrap();
    close(c, &b).await;
    b.shutdown().unwrap();
    drop(b);

    // Clean restart: the topic is reused, offsets and the stable member come back.
    let b = broker(dir.path());
    let c = GroupCoordinator::start(b.clone(), config()).await.unwrap();
    let fetched = c.fetch_offsets("g", None);
    assert_eq!(
        fetched
            .iter()
            .map(|f| (f.partition, f.offset))
            .collect::<Vec<_>>(),
        vec![(0, 11), (3, 33)]
    );
    assert_eq!(c.fetch_offsets("solo", None)[0].offset, 7);
    heartbeat(&c, "g", &join.member_id, 1).unwrap();
    c.commit_offsets(commit_req("g", 1, &join.member_id, &[("t", 0, 12)]))
        .await
        .unwrap();
    let lag = c.lag("g").unwrap();
    assert_eq!(lag[0].log_end_offset, Some(0));
    assert_eq!(lag[0].lag, Some(0), "lag never goes negative");
    assert_eq!(c.delete_groups(&["solo".into()]).await[0].1, None);
    close(c, &b).await;
    // No shutdown: the logs are recovered like after a crash.
    drop(b);

    let b = broker(dir.path());
    let c = GroupCoordinator::start(b.clone(), config()).await.unwrap();
    assert_eq!(c.fetch_offsets("g", None)[0].offset, 12);
    assert!(c.fetch_offsets("solo", None).is_empty());
    assert_eq!(b.topic(OFFSETS_TOPIC).unwrap().partition_count(), 4);
    b.shutdown().unwrap();
}

#[tokio::test]
async fn replay_after_compaction_keeps_the_latest_offsets_and_honours_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    b.create_topic("t", 2, &BTreeMap::new()).unwrap();
    // Tiny segments, so the cleaner has closed segments to compact.
    let configs = BTreeMap::from([
        ("cleanup.policy".to_string(), "compact".to_string()),
        ("segment.bytes".to_string(), "1024".to_string()),
        ("delete.retention.ms".to_string(), "0".to_string()),
    ]);
    b.create_internal_topic(OFFSETS_TOPIC, 1, &configs).unwrap();
    let c = GroupCoordinator::start(b.clone(), config()).await.unwrap();
    for i in 0..200 {
        c.commit_offsets(commit_req(
            "keep",
            -1,
            "",
            &[("t", 0, i), ("t", 1, 1000 + i)],
        ))
        .await
        .unwrap();
        c.commit_offsets(commit_req("gone", -1, "", &[("t", 0, i)]))
            .await
            .unwrap();
    }
    assert_eq!(c.delete_groups(&["gone".into()]).await[0].1, None);
    // Roll past the tombstones so they are in closed segments too.
    for i in 0..50 {
        c.commit_offsets(commit_req("filler", -1, "", &[("t", 1, i)]))
            .await
            .unwrap();
    }
    let before = b.partition(OFFSETS_TOPIC, 0).unwrap().size_bytes();
    assert!(b.clean_logs(None) > 0, "the offsets topic was compacted");
    let after = b.partition(OFFSETS_TOPIC, 0).unwrap().size_bytes();
    assert!(after < before / 2, "{before} -> {after} bytes");
    close(c, &b).await;

    let c = GroupCoordinator::start(b.clone(), config()).await.unwrap();
    let offsets: Vec<i64> = c
        .fetch_offsets("keep", None)
        .iter()
        .map(|f| f.offset)
        .collect();
    assert_eq!(offsets, vec![199, 1199]);
    assert!(c.fetch_offsets("gone", None).is_empty());
    assert_eq!(c.fetch_offsets("filler", None)[0].offset, 49);
    close(c, &b).await;
    b.shutdown().unwrap();
}
