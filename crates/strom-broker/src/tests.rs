//! Broker-level tests on a real data directory: topic lifecycle and persistence, appends
//! with idempotent-producer checks across a restart, config changes, long-poll wake-ups.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::{decode_records, encode_records, Broker, BrokerConfig, BrokerError, NewRecord};

pub(crate) fn config(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        node_id: 1,
        auto_create_topics: true,
        default_partitions: 2,
        durability: strom_log::Durability::Never,
        log_defaults: strom_log::LogConfig {
            durability: strom_log::Durability::Never,
            ..Default::default()
        },
        retention_check_interval_ms: 60_000,
        cleaner_bytes_per_sec: 100 << 20,
        cleaner_dedupe_buffer_bytes: 128 << 20,
    }
}

fn record(key: &str, value: &str) -> NewRecord {
    NewRecord {
        key: Some(Bytes::from(key.to_string())),
        value: Some(Bytes::from(value.to_string())),
        ..Default::default()
    }
}

/// An idempotent batch: producer id/epoch/base sequence patched into the header, which the
/// CRC covers, so the CRC is recomputed.
fn idempotent_batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Vec<u8> {
    let records: Vec<NewRecord> = values.iter().map(|v| record("k", v)).collect();
    let mut b = encode_records(&records).expect("encode").to_vec();
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

#[test]
fn topics_persist_across_restart_with_config_and_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    let mut cfg = BTreeMap::new();
    cfg.insert("retention.ms".to_string(), "60000".to_string());
    let topic = broker.create_topic("orders", 3, &cfg).expect("create");
    let id = topic.id();
    assert!(matches!(
        broker.create_topic("orders", 1, &BTreeMap::new()),
        Err(BrokerError::TopicExists(_))
    ));
    let p = broker.partition("orders", 1).expect("partition");
    p.append_records(&[record("a", "1"), record("b", "2")])
        .expect("append");
    broker.create_partitions("orders", 4).expect("grow");
    broker
        .alter_topic_config("orders", &[("segment.bytes".into(), Some("100000".into()))])
        .expect("alter");
    let cluster = broker.cluster_id().to_string();
    broker.shutdown().expect("shutdown");
    drop(p);
    drop(topic);
    drop(broker);

    let broker = Broker::open(config(dir.path())).expect("reopen");
    assert_eq!(broker.cluster_id(), cluster);
    let topic = broker.topic("orders").expect("restored");
    assert_eq!(topic.id(), id);
    assert_eq!(topic.partition_count(), 4);
    let c = topic.config().overrides;
    assert_eq!(c.get("retention.ms").map(String::as_str), Some("60000"));
    assert_eq!(c.get("segment.bytes").map(String::as_str), Some("100000"));
    let p = broker.partition("orders", 1).expect("partition");
    let read = p.read(0, 1 << 20).expect("read");
    let recs = decode_records(&read.records).expect("decode");
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].value.as_deref(), Some(&b"2"[..]));
}

#[test]
fn invalid_requests_are_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    let none = BTreeMap::new();
    assert!(matches!(
        broker.create_topic("a/b", 1, &none),
        Err(BrokerError::InvalidTopicName { .. })
    ));
    assert!(matches!(
        broker.create_topic("..", 1, &none),
        Err(BrokerError::InvalidTopicName { .. })
    ));
    assert!(matches!(
        broker.create_topic("ok", 0, &none),
        Err(BrokerError::InvalidPartitions(_))
    ));
    let mut bad = BTreeMap::new();
    bad.insert("retention.ms".to_string(), "x".to_string());
    assert!(matches!(
        broker.create_topic("ok", 1, &bad),
        Err(BrokerError::InvalidConfig(_))
    ));
    assert!(
        broker.topic("ok").is_none(),
        "nothing created by a failed request"
    );
    assert!(matches!(
        broker.delete_topic("nope"),
        Err(BrokerError::UnknownTopic(_))
    ));
    broker.create_topic("t", 1, &none).expect("create");
    assert!(matches!(
        broker.create_partitions("t", 1),
        Err(BrokerError::InvalidPartitions(_))
    ));
    assert!(matches!(
        broker.partition("t", 5),
        Err(BrokerError::UnknownPartition { .. })
    ));
    assert!(matches!(
        broker.alter_topic_config("t", &[("bogus".into(), Some("1".into()))]),
        Err(BrokerError::InvalidConfig(_))
    ));
}

#[test]
fn second_broker_on_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = Broker::open(config(dir.path())).expect("open");
    let err = Broker::open(config(dir.path())).err().expect("must fail");
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn delete_topic_removes_data_and_name_can_be_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    broker
        .create_topic("t", 2, &BTreeMap::new())
        .expect("create");
    broker
        .partition("t", 0)
        .expect("p")
        .append_records(&[record("k", "v")])
        .expect("append");
    broker.delete_topic("t").expect("delete");
    assert!(broker.topic("t").is_none());
    assert!(!dir.path().join("topics").join("t").exists());
    let t = broker
        .create_topic("t", 1, &BTreeMap::new())
        .expect("recreate");
    assert_eq!(t.partition(0).expect("p").high_watermark(), 0);
}

#[test]
fn idempotent_retries_are_acknowledged_not_rewritten_even_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    broker
        .create_topic("t", 1, &BTreeMap::new())
        .expect("create");
    let pid = broker.allocate_producer_id().expect("pid");
    let p = broker.partition("t", 0).expect("p");
    let first = p
        .append_batch(&mut idempotent_batch(pid, 0, 0, &["a", "b"]))
        .expect("append");
    assert_eq!(first.base_offset, 0);
    match p.append_batch(&mut idempotent_batch(pid, 0, 0, &["a", "b"])) {
        Err(BrokerError::DuplicateSequence { base_offset }) => assert_eq!(base_offset, 0),
        other => panic!("expected duplicate, got {other:?}"),
    }
    assert!(matches!(
        p.append_batch(&mut idempotent_batch(pid, 0, 5, &["x"])),
        Err(BrokerError::OutOfOrderSequence {
            expected: 2,
            got: 5
        })
    ));
    p.append_batch(&mut idempotent_batch(pid, 0, 2, &["c"]))
        .expect("next");
    assert_eq!(p.high_watermark(), 3);
    drop(p);
    // Crash: no clean shutdown, so no producer snapshot; state is rebuilt from the log.
    drop(broker);
    let broker = Broker::open(config(dir.path())).expect("reopen");
    let p = broker.partition("t", 0).expect("p");
    assert!(matches!(
        p.append_batch(&mut idempotent_batch(pid, 0, 2, &["c"])),
        Err(BrokerError::DuplicateSequence { base_offset: 2 })
    ));
    assert_eq!(p.high_watermark(), 3);
    let next_pid = broker.allocate_producer_id().expect("pid");
    assert!(next_pid > pid, "producer ids are never reused");
}

#[test]
fn compacted_topics_reject_keyless_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    let mut cfg = BTreeMap::new();
    cfg.insert("cleanup.policy".to_string(), "compact".to_string());
    broker.create_topic("state", 1, &cfg).expect("create");
    let p = broker.partition("state", 0).expect("p");
    let keyless = NewRecord {
        value: Some(Bytes::from_static(b"v")),
        ..Default::default()
    };
    assert!(matches!(
        p.append_records(std::slice::from_ref(&keyless)),
        Err(BrokerError::InvalidRecord(_))
    ));
    // KIP-467: the raw batch is refused whole, naming each keyless record by batch index.
    let mut raw = encode_records(&[record("k", "v"), keyless]).expect("encode");
    match p.append_batch(&mut raw) {
        Err(BrokerError::RecordErrors { kind, records, .. }) => {
            assert_eq!(kind, crate::RecordErrorKind::InvalidRecord);
            assert_eq!(
                records.iter().map(|r| r.batch_index).collect::<Vec<_>>(),
                [1]
            );
        }
        other => panic!("expected record errors, got {other:?}"),
    }
    assert_eq!(p.high_watermark(), 0);
    p.append_records(&[record("k", "v")])
        .expect("keyed is fine");
}

#[test]
fn log_append_time_and_timestamp_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    let mut cfg = BTreeMap::new();
    cfg.insert(
        "message.timestamp.type".to_string(),
        "LogAppendTime".to_string(),
    );
    broker.create_topic("lat", 1, &cfg).expect("create");
    let p = broker.partition("lat", 0).expect("p");
    let mut raw = encode_records(&[record("k", "v")]).expect("encode");
    raw[27..35].copy_from_slice(&1_000i64.to_be_bytes()); // base timestamp: long ago
    raw[35..43].copy_from_slice(&1_000i64.to_be_bytes());
    let crc = crc32c::crc32c(&raw[21..]);
    raw[17..21].copy_from_slice(&crc.to_be_bytes());
    let before = strom_log::now_ms();
    let r = p.append_batch(&mut raw).expect("append");
    assert!(r.log_append_time >= before, "{r:?}");
    let stored = p.read(0, 1 << 20).expect("read").records;
    let h = strom_log::BatchHeader::parse(&stored).expect("header");
    assert_eq!(h.attributes & 0x08, 0x08, "LogAppendTime bit");
    assert_eq!(h.max_timestamp, r.log_append_time);

    let mut cfg = BTreeMap::new();
    cfg.insert(
        "message.timestamp.before.max.ms".to_string(),
        "60000".to_string(),
    );
    broker.create_topic("bounded", 1, &cfg).expect("create");
    let p = broker.partition("bounded", 0).expect("p");
    let mut old = encode_records(&[record("k", "v")]).expect("encode");
    old[27..35].copy_from_slice(&1_000i64.to_be_bytes());
    old[35..43].copy_from_slice(&1_000i64.to_be_bytes());
    let crc = crc32c::crc32c(&old[21..]);
    old[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        p.append_batch(&mut old),
        Err(BrokerError::RecordErrors {
            kind: crate::RecordErrorKind::InvalidTimestamp,
            ..
        })
    ));
    p.append_records(&[record("k", "v")]).expect("now is fine");
}

#[tokio::test]
async fn long_poll_wakes_on_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    let topic = broker.topic_or_create("auto").expect("auto-create");
    assert_eq!(topic.partition_count(), 2);
    let p = topic.partition(0).expect("p");
    let waiter = {
        let p = Arc::clone(&p);
        tokio::spawn(async move { p.wait_for_data(0, Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let writer = Arc::clone(&p);
    tokio::task::spawn_blocking(move || writer.append_records(&[record("k", "v")]))
        .await
        .expect("join")
        .expect("append");
    let hw = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("woken well before the 30 s long-poll timeout")
        .expect("join");
    assert_eq!(hw, 1);
}

#[test]
fn compacted_topic_is_cleaned_by_the_broker_and_config_changes_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    let mut cfg = BTreeMap::new();
    cfg.insert("segment.bytes".to_string(), "1000".to_string());
    broker.create_topic("state", 1, &cfg).expect("create");
    let p = broker.partition("state", 0).expect("p");
    for i in 0..100 {
        p.append_records(&[record(&format!("k{}", i % 3), &format!("v{i}"))])
            .expect("append");
    }
    assert_eq!(
        broker.clean_logs(None),
        0,
        "delete policy: nothing to clean"
    );
    broker
        .alter_topic_config(
            "state",
            &[
                ("cleanup.policy".into(), Some("compact".into())),
                ("min.cleanable.dirty.ratio".into(), Some("0.01".into())),
            ],
        )
        .expect("alter");
    assert_eq!(broker.clean_logs(None), 1);
    let stats = p.log().cleaner_stats();
    assert!(stats.bytes_after < stats.bytes_before, "{stats:?}");
    let mut values = Vec::new();
    let mut offset = 0;
    while offset < p.high_watermark() {
        let r = p.read(offset, 1 << 20).expect("read");
        for rec in decode_records(&r.records).expect("decode") {
            if rec.offset >= offset {
                values.push(rec.offset);
            }
            offset = offset.max(rec.offset + 1);
        }
    }
    assert!(
        values.len() < 100,
        "compaction removed superseded records: {}",
        values.len()
    );
    assert!(values.contains(&99) && values.contains(&98) && values.contains(&97));
}
