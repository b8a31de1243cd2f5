//! Focused compaction tests: what a rewritten batch's header says, control batches, keyless
//! and empty keys, cleaner statistics, when a log is due for cleaning, the throttle, and
//! compaction running while producers append and consumers read.

mod common_compaction;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common_compaction::*;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strom_log::{CompactionConfig, Durability, Log, LogConfig, Throttle};

fn config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_ms: None,
        index_interval_bytes: 128,
        durability: Durability::Never,
        retention_ms: None,
        compaction: Some(CompactionConfig {
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 1000,
        }),
        ..LogConfig::default()
    }
}

/// The last record of `key` in `got`.
fn last_of<'a>(got: &'a [Got], key: &str) -> &'a Got {
    got.iter()
        .rev()
        .find(|g| g.key.as_deref() == Some(key.as_bytes()))
        .expect("key present")
}

/// Appends one record of `key` as large as a segment, in a segment of its own.
fn big(log: &Log, key: &str, ts: i64) {
    let value = "b".repeat(log.config().segment_bytes as usize);
    log.append(&mut plain_batch(&[Put::value(key, &value, ts)]))
        .expect("append big record");
}

/// Appends one batch that fills a segment by itself, so the next append rolls.
fn roll(log: &Log, ts: i64) {
    let big = "f".repeat(log.config().segment_bytes as usize);
    log.append(&mut plain_batch(&[Put::value("filler", &big, ts)]))
        .expect("append filler");
}

#[test]
fn rewritten_batches_keep_producer_fields_and_offset_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(4096)).expect("open");
    // Plain producer: a, b, a, c, b -> a and b superseded inside the batch.
    let plain = [
        Put::value("a", "1", 100),
        Put::value("b", "1", 101),
        Put::value("a", "2", 102),
        Put::value("c", "1", 103),
        Put::value("b", "2", 104),
    ];
    log.append(&mut plain_batch(&plain)).expect("append");
    // Idempotent producer 42, epoch 3, sequences 10..15.
    let idem = [
        Put::value("x", "1", 200),
        Put::value("y", "1", 201),
        Put::value("x", "2", 202),
        Put::value("z", "1", 203),
        Put::value("y", "2", 204),
    ];
    log.append(&mut encode_batch(
        &idem,
        Some((42, 3, 10)),
        Compression::None,
    ))
    .expect("append");
    roll(&log, 300);
    log.append(&mut plain_batch(&[Put::value("q", "1", 400)]))
        .expect("append");
    log.compact(10_000, None).expect("compact");
    let batches = read_batches(&log).expect("read");
    let first = &batches[0];
    let offsets: Vec<i64> = first.records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![2, 3, 4]);
    assert_eq!(first.header.producer_id, -1);
    assert_eq!(
        first.header.base_sequence, -1,
        "a plain producer's batch must keep base sequence -1 after a rewrite"
    );
    let second = &batches[1];
    let offsets: Vec<i64> = second.records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![7, 8, 9]);
    assert_eq!(second.header.producer_id, 42);
    assert_eq!(second.header.producer_epoch, 3);
    // Base sequence and last offset delta still describe the original sequence range's end:
    // last sequence = base_sequence + last_offset_delta = 14.
    assert_eq!(
        second.header.base_sequence + second.header.last_offset_delta,
        14
    );
    let seqs: Vec<i32> = second.records.iter().map(|r| r.sequence).collect();
    assert_eq!(seqs, vec![12, 13, 14]);
}

fn control_batch(producer_id: i64, ts: i64) -> Vec<u8> {
    // A COMMIT marker: key = version 0, type 1; value = version 0, coordinator epoch 0.
    let r = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id,
        producer_epoch: 0,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: ts,
        key: Some(Bytes::from_static(&[0, 0, 0, 1])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        std::iter::once(&r),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode control");
    buf.to_vec()
}

/// Control records are not data: their keys must not supersede a data record that happens to
/// have the same key bytes, and control batches are kept as they are.
#[test]
fn control_batches_are_kept_and_do_not_supersede_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(4096)).expect("open");
    let key = [0u8, 0, 0, 1];
    let data = Put {
        key: Some(key.to_vec()),
        value: Some(b"data".to_vec()),
        ts: 100,
    };
    log.append(&mut plain_batch(&[data])).expect("append data");
    log.append(&mut control_batch(5, 101))
        .expect("append control");
    log.append(&mut plain_batch(&[
        Put::value("a", "1", 102),
        Put::value("a", "2", 103),
    ]))
    .expect("append");
    roll(&log, 104);
    log.append(&mut plain_batch(&[Put::value("q", "1", 200)]))
        .expect("append");
    log.compact(10_000, None).expect("compact");
    let batches = read_batches(&log).expect("read");
    let offsets: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.records.iter().map(|r| r.offset))
        .collect();
    assert_eq!(
        offsets,
        vec![0, 1, 3, 4, 5],
        "the data record under the marker's key bytes must survive"
    );
    assert!(batches[1].header.is_control());
}

#[test]
fn keyless_and_empty_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(4096)).expect("open");
    let keyless = |v: &str, ts| Put {
        key: None,
        value: Some(v.as_bytes().to_vec()),
        ts,
    };
    log.append(&mut plain_batch(&[
        keyless("n1", 100),
        Put::value("", "e1", 101),
        keyless("n2", 102),
        Put::value("", "e2", 103),
    ]))
    .expect("append");
    roll(&log, 104);
    log.append(&mut plain_batch(&[Put::value("q", "1", 200)]))
        .expect("append");
    let stats = log.compact(10_000, None).expect("compact");
    let got: Vec<i64> = read_all(&log).iter().map(|g| g.offset).collect();
    // Keyless records stay; the empty key is a key like any other.
    assert_eq!(got, vec![0, 2, 3, 4, 5]);
    assert_eq!(stats.records_removed, 1);
}

#[test]
fn stats_count_removed_records_tombstones_and_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(4096)).expect("open");
    log.append(&mut plain_batch(&[
        Put::value("a", "1", 100),
        Put::value("a", "2", 101),
        Put::tombstone("b", 102),
        Put::value("c", "1", 5000),
        Put::tombstone("c", 5001),
    ]))
    .expect("append");
    roll(&log, 5002);
    log.append(&mut plain_batch(&[Put::value("q", "1", 6000)]))
        .expect("append");
    let size_before = log.size_bytes();
    // now 5500: a@0 and c@3 are superseded. The tombstones b@2 and c@4 stay, however old
    // their timestamps: this first cleaning gives them the delete horizon 5500 + 1000.
    let stats = log.compact(5500, None).expect("compact");
    assert_eq!(stats.segments_cleaned, 1);
    assert_eq!(stats.tombstones_removed, 0);
    assert_eq!(stats.records_removed, 2);
    assert_eq!(stats.next_tombstone_expiry_ms, Some(6500));
    assert!(stats.bytes_after < stats.bytes_before);
    assert_eq!(
        size_before - log.size_bytes(),
        stats.bytes_before - stats.bytes_after
    );
    assert_eq!(stats.last_cleaned_ms, Some(5500));
    assert_eq!(log.cleaner_stats().segments_cleaned, 1);
    let got: Vec<i64> = read_all(&log).iter().map(|g| g.offset).collect();
    assert_eq!(got, vec![1, 2, 4, 5, 6]);
    let stats = log.compact(6499, None).expect("compact");
    assert_eq!(stats.tombstones_removed, 0);
    // At the horizon both go.
    let stats = log.compact(6500, None).expect("compact");
    assert_eq!(stats.tombstones_removed, 2);
    let got: Vec<i64> = read_all(&log).iter().map(|g| g.offset).collect();
    assert_eq!(got, vec![1, 5, 6]);
}

#[test]
fn needs_cleaning_follows_ratio_and_max_lag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(4096);
    cfg.compaction = Some(CompactionConfig {
        min_cleanable_dirty_ratio: 0.5,
        min_compaction_lag_ms: 0,
        max_compaction_lag_ms: 10_000,
        delete_retention_ms: 1000,
    });
    let log = Log::open(dir.path(), cfg.clone()).expect("open");
    assert!(!log.needs_cleaning(0), "an empty log is not due");
    log.append(&mut plain_batch(&[Put::value("a", "1", 100)]))
        .expect("append");
    assert!(!log.needs_cleaning(200), "only the active segment: not due");
    roll(&log, 101);
    log.append(&mut plain_batch(&[Put::value("a", "2", 102)]))
        .expect("append");
    assert_eq!(log.dirty_ratio(), 1.0);
    assert!(log.needs_cleaning(200));
    log.compact(200, None).expect("compact");
    assert_eq!(log.dirty_ratio(), 0.0);
    assert!(!log.needs_cleaning(200));
    // A small dirty tail below the ratio is due only once it is older than max lag.
    for i in 0..8 {
        big(&log, &format!("big{i}"), 300 + i);
    }
    log.compact(400, None).expect("compact");
    log.append(&mut plain_batch(&[Put::value("a", "3", 500)]))
        .expect("append");
    big(&log, "a", 600);
    let ratio = log.dirty_ratio();
    assert!(ratio > 0.0 && ratio < 0.5, "ratio {ratio}");
    assert!(!log.needs_cleaning(1_000));
    // The oldest dirty segment's newest record is big7 at 307.
    assert!(!log.needs_cleaning(307 + 10_000));
    assert!(log.needs_cleaning(307 + 10_001));
    // Without a compaction config nothing is ever due and compact is a no-op.
    let mut plain = cfg;
    plain.compaction = None;
    log.set_config(plain);
    assert!(!log.needs_cleaning(i64::MAX / 2));
    let before = read_all(&log);
    log.compact(i64::MAX / 2, None).expect("no-op");
    assert_eq!(read_all(&log), before);
}

#[test]
fn min_compaction_lag_keeps_young_segments_dirty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(4096);
    if let Some(c) = cfg.compaction.as_mut() {
        c.min_compaction_lag_ms = 1000;
    }
    let log = Log::open(dir.path(), cfg).expect("open");
    log.append(&mut plain_batch(&[
        Put::value("a", "1", 100),
        Put::value("a", "2", 100),
    ]))
    .expect("append");
    roll(&log, 100);
    log.append(&mut plain_batch(&[
        Put::value("a", "3", 5000),
        Put::value("a", "4", 5000),
    ]))
    .expect("append");
    roll(&log, 5000);
    log.append(&mut plain_batch(&[Put::value("q", "1", 9000)]))
        .expect("append");
    // At 5500 only the first segment is old enough; a@1 is the latest *within* it.
    log.compact(5500, None).expect("compact");
    let got: Vec<i64> = read_all(&log).iter().map(|g| g.offset).collect();
    assert_eq!(got, vec![1, 2, 3, 4, 5, 6]);
    log.compact(6000, None).expect("compact");
    let got: Vec<i64> = read_all(&log).iter().map(|g| g.offset).collect();
    assert_eq!(got, vec![4, 5, 6]);
}

#[test]
fn throttle_bounds_the_cleaning_rate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(64 * 1024)).expect("open");
    let value = "v".repeat(1000);
    for i in 0..400i64 {
        log.append(&mut plain_batch(&[Put::value(
            &format!("k{}", i % 10),
            &value,
            i,
        )]))
        .expect("append");
    }
    log.append(&mut plain_batch(&[Put::value("q", "1", 1000)]))
        .expect("append");
    let bases = segment_bases(dir.path());
    let closed: u64 = bases[..bases.len() - 1]
        .iter()
        .map(|b| {
            std::fs::metadata(segment_file(dir.path(), *b, "log"))
                .expect("stat")
                .len()
        })
        .sum();
    let rate = 1024 * 1024;
    let throttle = Throttle::new(rate);
    let started = Instant::now();
    log.compact(10_000, Some(&throttle)).expect("compact");
    let elapsed = started.elapsed();
    // Both passes read everything: at least 2 x closed bytes go through the throttle.
    let floor = Duration::from_secs_f64(2.0 * closed as f64 / rate as f64 * 0.8);
    assert!(elapsed >= floor, "took {elapsed:?}, expected >= {floor:?}");
}

/// Appends and reads keep working, with exact results, while the cleaner rewrites segments.
#[test]
fn compaction_concurrent_with_appends_and_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(Log::open(dir.path(), config(2048)).expect("open"));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut latest = std::collections::HashMap::new();
            for i in 0..3000i64 {
                let key = format!("k{}", i % 17);
                let value = format!("v{i}");
                let info = log
                    .append(&mut plain_batch(&[Put::value(&key, &value, i)]))
                    .expect("append during compaction");
                latest.insert(key, (info.base_offset, value));
            }
            latest
        })
    };
    let reader = {
        let log = Arc::clone(&log);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut passes = 0;
            while !stop.load(Ordering::Acquire) {
                let got = read_all(&log);
                for w in got.windows(2) {
                    assert!(w[0].offset < w[1].offset, "offsets out of order");
                }
                for g in &got {
                    let v = g.value.as_deref().expect("no tombstones written");
                    assert_eq!(v, format!("v{}", g.offset).as_bytes());
                }
                passes += 1;
            }
            passes
        })
    };
    let mut compactions = 0;
    while !writer.is_finished() {
        log.compact(i64::MAX / 4, None).expect("compact");
        compactions += 1;
    }
    let latest = writer.join().expect("writer");
    stop.store(true, Ordering::Release);
    let passes = reader.join().expect("reader");
    assert!(compactions > 1 && passes > 1, "{compactions} {passes}");
    log.compact(i64::MAX / 4, None).expect("compact");
    let got = read_all(&log);
    for (key, (offset, value)) in latest {
        let last = last_of(&got, &key);
        assert_eq!(
            (last.offset, last.value.as_deref()),
            (offset, Some(value.as_bytes()))
        );
    }
}

/// A fully cleaned log that goes quiet still has to drop its tombstones once
/// `delete.retention.ms` has passed: the log becomes due for cleaning at that moment, even
/// though nothing is dirty.
#[test]
fn quiet_log_becomes_due_when_a_tombstone_expires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(4096)).expect("open");
    log.append(&mut plain_batch(&[
        Put::value("a", "1", 100),
        Put::tombstone("a", 100),
        Put::value("b", "1", 100),
    ]))
    .expect("append");
    roll(&log, 100);
    log.append(&mut plain_batch(&[Put::value("q", "1", 200)]))
        .expect("append");
    assert!(log.needs_cleaning(200));
    log.compact(200, None).expect("compact");
    assert_eq!(log.dirty_ratio(), 0.0);
    let offsets = |log: &Log| read_all(log).iter().map(|g| g.offset).collect::<Vec<_>>();
    assert_eq!(offsets(&log), vec![1, 2, 3, 4]);
    // delete.retention.ms is 1000: the cleaning at 200 gave the tombstone the horizon 1200.
    assert!(!log.needs_cleaning(1199));
    assert!(
        log.needs_cleaning(1200),
        "a clean log with an expired tombstone must be due for cleaning"
    );
    log.compact(1200, None).expect("compact");
    assert_eq!(offsets(&log), vec![2, 3, 4]);
    assert!(!log.needs_cleaning(1_000_000), "nothing left to expire");
    // After a restart the cleaner does not know the tombstones of the clean section; one
    // cleaning finds out.
    log.append(&mut plain_batch(&[Put::tombstone("b", 300)]))
        .expect("append");
    roll(&log, 300);
    log.compact(400, None).expect("compact");
    log.close().expect("close");
    drop(log);
    let log = Log::open(dir.path(), config(4096)).expect("reopen");
    assert!(
        log.needs_cleaning(1300),
        "unknown tombstones after a reopen: clean once"
    );
    // b's horizon (400 + 1000) is in the batch itself, so the reopened cleaner learns it.
    log.compact(1300, None).expect("compact");
    assert!(!log.needs_cleaning(1399));
    assert!(log.needs_cleaning(1400));
}

#[test]
fn an_interrupted_compaction_stops_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(512)).expect("open");
    for i in 0..40 {
        let v = format!("v{i}");
        log.append(&mut plain_batch(&[Put::value(
            &format!("k{}", i % 4),
            &v,
            100 + i,
        )]))
        .expect("append");
    }
    roll(&log, 200);
    let before = read_all(&log);
    let throttle = Throttle::new(u64::MAX);
    throttle.interrupt();
    match log.compact(10_000, Some(&throttle)) {
        Err(strom_log::LogError::Interrupted) => {}
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert!(
        log.dirty_ratio() > 0.0,
        "an interrupted run does not advance the checkpoint"
    );
    assert_eq!(read_all(&log), before, "nothing changed");
    assert!(files_ending(dir.path(), ".cleaned").is_empty());
    // A later run without interruption cleans as usual.
    log.compact(10_000, None).expect("compact");
    let after = read_all(&log);
    assert!(after.len() < before.len());
    for k in 0..4 {
        let key = format!("k{k}");
        let last = last_of(&before, &key);
        assert!(
            after.iter().any(|g| g.offset == last.offset),
            "latest of {key} kept"
        );
    }
}
