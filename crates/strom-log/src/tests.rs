//! Unit tests of the log as a whole: append/read round trips, rolls, reopen, recovery,
//! timestamps and retention; segments rolled under `never` in `tests/unflushed.rs`. (Property
//! and crash tests live in the crate's `tests/`.)

use bytes::BytesMut;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};

use crate::{plain_record, Durability, Log, LogConfig, LogError};

mod unflushed;

fn batch(n: usize, ts: i64, value_len: usize) -> Vec<u8> {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            plain_record(
                i,
                ts + i as i64,
                Some(bytes::Bytes::from(format!("k{i}"))),
                Some(bytes::Bytes::from(vec![b'x'; value_len])),
            )
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    buf.to_vec()
}

fn config(segment_bytes: u64, durability: Durability) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 256,
        durability,
        retention_ms: None,
        ..LogConfig::default()
    }
}

fn offsets_in(bytes: bytes::Bytes) -> Vec<i64> {
    let mut b = bytes;
    RecordBatchDecoder::decode_all(&mut b)
        .expect("decode")
        .into_iter()
        .flat_map(|s| s.records.into_iter().map(|r| r.offset))
        .collect()
}

#[test]
fn append_assigns_offsets_and_reads_back_across_rolls_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(2048, Durability::Never)).expect("open");
    for i in 0..50 {
        let info = log.append(&mut batch(3, 1000 * i, 100)).expect("append");
        assert_eq!(info.base_offset, i * 3);
        assert_eq!(info.last_offset, i * 3 + 2);
    }
    assert!(log.segment_count() > 5, "rolled: {}", log.segment_count());
    assert_eq!(log.high_watermark(), 150);
    let check = |log: &Log| {
        for offset in [0, 1, 2, 3, 77, 149] {
            let r = log.read(offset, 1).expect("read");
            let offs = offsets_in(r.bytes);
            assert!(offs.contains(&offset), "offset {offset} in {offs:?}");
            assert_eq!(
                offs[0],
                offset - offset % 3,
                "read starts at the batch start"
            );
        }
        let hw = log.high_watermark();
        assert!(log.read(hw, 100).expect("at hw").bytes.is_empty());
        assert!(matches!(
            log.read(hw + 1, 100),
            Err(LogError::OffsetOutOfRange { .. })
        ));
    };
    check(&log);
    log.close().expect("close");
    drop(log);
    let log = Log::open(dir.path(), config(2048, Durability::Never)).expect("reopen clean");
    check(&log);
    assert_eq!(
        log.append(&mut batch(1, 0, 10))
            .expect("append")
            .base_offset,
        150
    );
    drop(log); // no close: simulated crash
    let log = Log::open(dir.path(), config(2048, Durability::Never)).expect("reopen dirty");
    check(&log);
    assert_eq!(log.log_end_offset(), 151);
}

#[test]
fn torn_tail_is_truncated_and_corrupt_middle_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(1 << 20, Durability::Always)).expect("open");
    for i in 0..10 {
        log.append(&mut batch(2, i, 50)).expect("append");
    }
    drop(log);
    let seg = dir.path().join("00000000000000000000.log");
    let len = std::fs::metadata(&seg).expect("meta").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open seg");
    f.set_len(len - 7).expect("tear");
    drop(f);
    let log = Log::open(dir.path(), config(1 << 20, Durability::Always)).expect("recover");
    assert_eq!(log.log_end_offset(), 18, "last batch dropped");
    // A new batch follows the truncated tail.
    assert_eq!(
        log.append(&mut batch(1, 0, 5)).expect("append").base_offset,
        18
    );
    drop(log);

    // Corrupt a byte in the middle of a segment that is not the last one.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir2.path(), config(600, Durability::Never)).expect("open");
    for i in 0..20 {
        log.append(&mut batch(2, i, 50)).expect("append");
    }
    assert!(log.segment_count() > 2);
    drop(log);
    std::fs::remove_file(dir2.path().join("recovery-point")).expect("force full rescan");
    let seg = dir2.path().join("00000000000000000000.log");
    let mut bytes = std::fs::read(&seg).expect("read");
    bytes[70] ^= 0xff;
    std::fs::write(&seg, bytes).expect("write");
    match Log::open(dir2.path(), config(600, Durability::Never)) {
        Err(LogError::CorruptSegment { position, .. }) => assert_eq!(position, 0),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("corruption in the middle of the log must be reported"),
    }
}

#[test]
fn corrupt_input_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(1 << 20, Durability::Never)).expect("open");
    let mut good = batch(2, 0, 10);
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let mut two = good.clone();
    two.extend_from_slice(&bad);
    assert!(matches!(
        log.append(&mut two),
        Err(LogError::CorruptBatch(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
    assert_eq!(log.append(&mut good).expect("append").base_offset, 0);
}

#[test]
fn timestamps_are_found_through_the_time_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(4096, Durability::Never)).expect("open");
    for i in 0..100i64 {
        log.append(&mut batch(5, 10_000 + i * 100, 20))
            .expect("append");
    }
    assert_eq!(log.offset_for_timestamp(0).expect("ts"), Some((0, 10_000)));
    assert_eq!(
        log.offset_for_timestamp(10_002).expect("ts"),
        Some((2, 10_002))
    );
    assert_eq!(
        log.offset_for_timestamp(10_005).expect("ts"),
        Some((5, 10_100))
    );
    assert_eq!(
        log.offset_for_timestamp(10_000 + 99 * 100 + 4).expect("ts"),
        Some((499, 19_904))
    );
    assert_eq!(log.offset_for_timestamp(20_000).expect("ts"), None);
}

#[test]
fn retention_and_delete_records_move_the_log_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(1000, Durability::Never);
    let log = Log::open(dir.path(), cfg.clone()).expect("open");
    for i in 0..30i64 {
        log.append(&mut batch(1, i * 1000, 200)).expect("append");
    }
    let segments = log.segment_count();
    assert_eq!(log.delete_records_before(7).expect("delete"), 7);
    assert!(matches!(
        log.read(6, 10),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert!(log.segment_count() < segments);
    cfg.retention_bytes = Some(2000);
    log.set_config(cfg.clone());
    let outcome = log.enforce_retention(0).expect("retention");
    assert!(outcome.segments_deleted > 0);
    assert!(log.size_bytes() < 2000 + 1000);
    let start = log.log_start_offset();
    cfg.retention_bytes = None;
    cfg.retention_ms = Some(1000);
    log.set_config(cfg.clone());
    log.enforce_retention(29_000 + 1001)
        .expect("retention by time");
    assert!(log.log_start_offset() > start);
    assert_eq!(log.segment_count(), 1, "only the active segment is left");
    // Even the active segment had expired: it was rolled and deleted, nothing is left.
    assert_eq!(log.log_start_offset(), 30);
    assert_eq!(log.size_bytes(), 0);
    assert!(log.read(30, 100).expect("read at the end").bytes.is_empty());
    log.close().expect("close");
    drop(log);
    let log = Log::open(dir.path(), cfg).expect("reopen");
    assert!(log.log_start_offset() > start);
    assert_eq!(log.log_end_offset(), 30);
}

#[test]
fn group_commit_serves_concurrent_appenders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = std::sync::Arc::new(
        Log::open(dir.path(), config(1 << 20, Durability::Always)).expect("open"),
    );
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let log = std::sync::Arc::clone(&log);
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let info = log.append(&mut batch(2, 0, 30)).expect("append");
                    assert!(
                        log.high_watermark() > info.last_offset,
                        "visible once durable"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(log.high_watermark(), 200);
}

fn keyed_batch(key: &str, value: Option<&str>, ts: i64) -> Vec<u8> {
    let record = plain_record(
        0,
        ts,
        Some(bytes::Bytes::from(key.to_string())),
        value.map(|v| bytes::Bytes::from(v.to_string())),
    );
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    buf.to_vec()
}

fn all_records(log: &Log) -> Vec<(i64, String, Option<String>)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.high_watermark() {
        let r = log.read(offset, 1 << 20).expect("read");
        if r.bytes.is_empty() {
            break;
        }
        let mut b = r.bytes;
        for set in RecordBatchDecoder::decode_all(&mut b).expect("decode") {
            for rec in set.records {
                if rec.offset >= offset {
                    let key = String::from_utf8_lossy(&rec.key.unwrap_or_default()).to_string();
                    let value = rec.value.map(|v| String::from_utf8_lossy(&v).to_string());
                    out.push((rec.offset, key, value));
                }
                offset = offset.max(rec.offset + 1);
            }
        }
    }
    out
}

#[test]
fn compaction_keeps_latest_per_key_with_offsets_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(400, Durability::Never);
    cfg.compaction = Some(crate::CompactionConfig {
        min_cleanable_dirty_ratio: 0.0,
        delete_retention_ms: 1_000,
        ..Default::default()
    });
    let log = Log::open(dir.path(), cfg.clone()).expect("open");
    for i in 0..60 {
        let key = format!("k{}", i % 4);
        log.append(&mut keyed_batch(&key, Some(&format!("v{i}")), 100))
            .expect("append");
    }
    // Delete k3 with a tombstone, then push everything out of the active segment.
    log.append(&mut keyed_batch("k3", None, 100))
        .expect("tombstone");
    for i in 0..10 {
        log.append(&mut keyed_batch("other", Some(&format!("o{i}")), 100))
            .expect("append");
    }
    let before = log.size_bytes();
    assert!(log.needs_cleaning(200));
    let stats = log.compact(200, None).expect("compact");
    assert!(stats.segments_cleaned > 0);
    assert!(log.size_bytes() < before);
    let records = all_records(&log);
    let latest = |k: &str| {
        records
            .iter()
            .filter(|r| r.1 == k)
            .map(|r| r.2.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(latest("k0"), vec![Some("v56".to_string())]);
    assert_eq!(latest("k1"), vec![Some("v57".to_string())]);
    assert_eq!(latest("k2"), vec![Some("v58".to_string())]);
    assert_eq!(
        latest("k3"),
        vec![None],
        "tombstone kept until delete.retention.ms"
    );
    let k0 = records.iter().find(|r| r.1 == "k0").expect("k0");
    assert_eq!(k0.0, 56, "offsets are preserved");
    // Offsets stay increasing and reads inside a removed range land on the next record.
    assert!(records.windows(2).all(|w| w[0].0 < w[1].0));
    let r = log.read(3, 1 << 20).expect("read in a gap");
    assert!(!r.bytes.is_empty());

    // The first cleaning set the tombstone's delete horizon to 200 + 1000 (KIP-534): it
    // stays until then, whatever its own timestamp, and goes at the horizon.
    log.compact(1_199, None).expect("compact again");
    assert_eq!(latest_of(&all_records(&log), "k3"), vec![None]);
    log.compact(1_200, None).expect("compact again");
    assert!(all_records(&log).iter().all(|r| r.1 != "k3"));
    let after = all_records(&log);
    drop(log);
    let log = Log::open(dir.path(), cfg).expect("reopen after crash");
    assert_eq!(all_records(&log), after);
    assert_eq!(log.log_end_offset(), 71);
}

fn latest_of(records: &[(i64, String, Option<String>)], k: &str) -> Vec<Option<String>> {
    records
        .iter()
        .filter(|r| r.1 == k)
        .map(|r| r.2.clone())
        .collect()
}

#[test]
fn clean_marker_stays_while_idle_and_goes_before_the_first_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join(crate::recovery::CLEAN_MARKER);
    let cfg = config(1 << 20, Durability::Never);
    let log = Log::open(dir.path(), cfg.clone()).expect("open");
    assert!(marker.exists(), "a new, empty log is clean");
    log.close().expect("close");
    drop(log);
    let log = Log::open(dir.path(), cfg.clone()).expect("reopen");
    assert!(
        marker.exists(),
        "an idle log keeps its marker: opening costs no fsync"
    );
    log.append(&mut batch(2, 1000, 10)).expect("append");
    assert!(!marker.exists(), "the first write removes the marker");
    // A crash (no close): the marker must not vouch for the unsynced tail.
    drop(log);
    let log = Log::open(dir.path(), cfg.clone()).expect("recover");
    assert!(!marker.exists());
    assert_eq!(log.log_end_offset(), 2);
    log.close().expect("close");
    assert!(marker.exists(), "a clean close writes the marker");
    drop(log);
    let log = Log::open(dir.path(), cfg).expect("reopen after clean close");
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.read(0, 1 << 20).expect("read").high_watermark, 2);
}

#[test]
fn a_read_that_meets_a_retired_segment_is_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(1 << 20, Durability::Never)).expect("open");
    let mut calls = 0;
    let result = log.retry_on_retired(|| {
        calls += 1;
        if calls == 1 {
            // What a segment retired and evicted under the read answers.
            Err(LogError::Io {
                path: dir.path().join("00000000000000000000.log"),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "retired"),
            })
        } else {
            Ok(7)
        }
    });
    assert_eq!(result.expect("retried"), 7);
    assert_eq!(calls, 2);
}
