//! Targeted checks of single API promises that the property test covers only by chance:
//! time-based rolls, several batches in one append (all or nothing), tiny `max_bytes`,
//! behaviour after `close`, and what a missing segment file does to a reopen.

mod common;

use std::time::Duration;

use common::{encode_batch, split_batches, with_base_offset, writer_batch, TestRecord};
use kafka_protocol::records::Compression;
use strom_log::{Durability, Log, LogConfig, LogError};

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        segment_ms: None,
        index_interval_bytes: 4096,
        durability: Durability::Never,
        retention_ms: None,
        retention_bytes: None,
        max_batch_bytes: 1 << 20,
        decode: Default::default(),
        compaction: None,
    }
}

fn small_batch(ts: i64) -> Vec<u8> {
    encode_batch(
        &[TestRecord {
            timestamp: ts,
            key: None,
            value: b"v".to_vec(),
        }],
        Compression::None,
    )
}

#[test]
fn segment_ms_rolls_by_age() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = Log::open(
        &tmp.path().join("p0"),
        LogConfig {
            segment_ms: Some(20),
            ..config()
        },
    )
    .expect("open");
    log.append(&mut small_batch(1)).expect("append");
    log.append(&mut small_batch(2)).expect("append");
    assert_eq!(log.segment_count(), 1, "young segment is kept");
    std::thread::sleep(Duration::from_millis(40));
    log.append(&mut small_batch(3)).expect("append");
    assert_eq!(log.segment_count(), 2, "old segment rolled");
}

#[test]
fn several_batches_in_one_append_are_all_or_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = Log::open(&tmp.path().join("p0"), config()).expect("open");
    log.append(&mut small_batch(1)).expect("append");
    let (a, b) = (writer_batch(1, 0), writer_batch(1, 1));
    let mut both = [a.clone(), b.clone()].concat();
    let info = log.append(&mut both).expect("two batches in one append");
    let na = split_batches(&a).expect("a")[0].record_count as i64;
    let nb = split_batches(&b).expect("b")[0].record_count as i64;
    assert_eq!(info.base_offset, 1);
    assert_eq!(info.last_offset, na + nb);
    assert_eq!(info.record_count as i64, na + nb);
    let r = log.read(1, 1 << 20).expect("read");
    let want = [with_base_offset(&a, 1), with_base_offset(&b, 1 + na)].concat();
    assert!(
        r.bytes[..] == want[..],
        "both stored with consecutive offsets"
    );

    let mut bad = [writer_batch(2, 0), writer_batch(2, 1)].concat();
    let last = bad.len() - 3;
    bad[last] ^= 0xff;
    match log.append(&mut bad) {
        Err(LogError::CorruptBatch(_)) => {}
        other => panic!("second batch corrupt: expected CorruptBatch, got {other:?}"),
    }
    assert_eq!(
        log.log_end_offset(),
        1 + na + nb,
        "first batch not written either"
    );
}

#[test]
fn tiny_max_bytes_still_returns_one_whole_batch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = Log::open(&tmp.path().join("p0"), config()).expect("open");
    for seq in 0..5 {
        log.append(&mut writer_batch(3, seq)).expect("append");
    }
    for max in [0usize, 1, 60, 61] {
        let r = log.read(0, max).expect("read");
        let got = split_batches(&r.bytes).expect("whole batches");
        assert_eq!(got.len(), 1, "max_bytes {max}: exactly one batch");
        assert!(r.bytes[..] == with_base_offset(&writer_batch(3, 0), 0)[..]);
    }
}

#[test]
fn closed_log_refuses_writes_but_close_is_idempotent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = Log::open(&tmp.path().join("p0"), config()).expect("open");
    log.append(&mut small_batch(1)).expect("append");
    log.close().expect("close");
    log.close().expect("second close is harmless");
    for result in [
        log.append(&mut small_batch(2)).map(|_| ()),
        log.delete_records_before(1).map(|_| ()),
        log.enforce_retention(0).map(|_| ()),
    ] {
        match result {
            Err(LogError::Closed) => {}
            other => panic!("after close: expected Closed, got {other:?}"),
        }
    }
}

#[test]
fn reopen_keeps_offsets_timestamps_and_indexes_usable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p0");
    let cfg = LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 1,
        ..config()
    };
    let log = Log::open(&dir, cfg.clone()).expect("open");
    for ts in 0..200 {
        log.append(&mut small_batch(1000 + ts)).expect("append");
    }
    log.close().expect("close");
    drop(log);
    // First open after a clean close; the drop without close then makes the second unclean.
    for clean in [true, false] {
        let log = Log::open(&dir, cfg.clone()).expect("reopen");
        assert_eq!(log.log_end_offset(), 200);
        for ts in [0, 1000, 1057, 1199] {
            let want = (ts - 1000).max(0);
            assert_eq!(
                log.offset_for_timestamp(ts).expect("lookup"),
                Some((want, 1000 + want)),
                "clean={clean} ts={ts}"
            );
        }
        assert_eq!(log.offset_for_timestamp(1200).expect("lookup"), None);
        for at in [0, 37, 199] {
            let r = log.read(at, 1).expect("read");
            assert_eq!(split_batches(&r.bytes).expect("batch")[0].base_offset, at);
        }
    }
}

#[test]
fn missing_middle_segment_is_not_skipped_silently() {
    // A segment file lost from the middle (operator error, bad restore) leaves a hole in the
    // offsets. Serving around it would hand consumers a log with records silently missing.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p0");
    let cfg = LogConfig {
        segment_bytes: 4096,
        ..config()
    };
    let log = Log::open(&dir, cfg.clone()).expect("open");
    for seq in 0..30 {
        log.append(&mut writer_batch(4, seq)).expect("append");
    }
    log.close().expect("close");
    drop(log);
    let mut segs: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segs.sort();
    assert!(segs.len() >= 3, "several segments");
    let victim = segs[1].clone();
    for ext in ["log", "index", "timeindex"] {
        let _ = std::fs::remove_file(victim.with_extension(ext));
    }
    match Log::open(&dir, cfg) {
        Err(LogError::CorruptSegment { .. }) => {}
        Err(e) => panic!("expected CorruptSegment, got {e:?}"),
        Ok(log) => {
            // Opened: then reading across the hole must not jump over it.
            let mut at = 0;
            while at < log.high_watermark() {
                match log.read(at, 1 << 20) {
                    Ok(r) => {
                        let b = split_batches(&r.bytes).expect("batches");
                        assert!(!b.is_empty(), "empty read at {at}");
                        assert_eq!(
                            b[0].base_offset, at,
                            "read at {at} silently skipped to {} (segment {victim:?} missing)",
                            b[0].base_offset
                        );
                        at = b.last().map(|p| p.last_offset() + 1).unwrap_or(at);
                    }
                    Err(LogError::CorruptSegment { .. }) => return,
                    Err(e) => panic!("read at {at}: {e:?}"),
                }
            }
        }
    }
}
