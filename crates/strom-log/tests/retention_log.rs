//! Retention tests: with small segments, keep appending while `enforce_retention` runs and
//! check that size stays within `retention_bytes` plus one segment, that time retention
//! deletes only a front run of segments whose newest record is older than `retention_ms`
//! (rolling an active segment that has wholly expired first),
//! that reads below the new log start offset fail with `OffsetOutOfRange` and reads from it
//! succeed, that all of it survives a reopen, and that retention and compaction can run
//! concurrently on a `compact,delete` log.

mod common_compaction;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common_compaction::*;
use rand::{Rng, SeedableRng};
use strom_log::{CompactionConfig, Durability, Log, LogConfig, LogError};

fn config(
    segment_bytes: u64,
    retention_ms: Option<i64>,
    retention_bytes: Option<u64>,
) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_ms: None,
        index_interval_bytes: 128,
        durability: Durability::Never,
        retention_ms,
        retention_bytes,
        ..LogConfig::default()
    }
}

fn record(i: i64, ts: i64, len: usize) -> Vec<u8> {
    plain_batch(&[Put::value(&format!("k{i}"), &"x".repeat(len), ts)])
}

/// Reads below the log start fail, the log start itself is readable, and everything from
/// there to the high watermark is contiguous (no compaction here).
fn check_front(log: &Log) {
    let start = log.log_start_offset();
    let bases = segment_bases(log.dir());
    assert_eq!(start, bases[0], "log start is the first segment's base");
    if start > 0 {
        for below in [0, start - 1] {
            match log.read(below, 1024) {
                Err(LogError::OffsetOutOfRange {
                    offset, start: s, ..
                }) => {
                    assert_eq!((offset, s), (below, start));
                }
                other => panic!("read({below}) below log start {start}: {other:?}"),
            }
        }
    }
    let got = read_all(log);
    let offsets: Vec<i64> = got.iter().map(|g| g.offset).collect();
    let expected: Vec<i64> = (start..log.high_watermark()).collect();
    assert_eq!(offsets, expected);
}

fn dir_bytes(log: &Log) -> u64 {
    segment_bases(log.dir())
        .iter()
        .map(|b| {
            std::fs::metadata(segment_file(log.dir(), *b, "log"))
                .expect("stat")
                .len()
        })
        .sum()
}

#[test]
fn size_retention_keeps_the_log_within_bound_plus_one_segment() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for (segment_bytes, retention_bytes) in
        [(1000u64, 5000u64), (700, 700), (4096, 1), (1500, 12_000)]
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::open(
            dir.path(),
            config(segment_bytes, None, Some(retention_bytes)),
        )
        .expect("open");
        let mut deleted_total = 0;
        for i in 0..300i64 {
            let len = rng.gen_range(10..200);
            log.append(&mut record(i, i, len)).expect("append");
            let out = log.enforce_retention(i).expect("retention");
            deleted_total += out.segments_deleted;
            assert_eq!(out.log_start_offset, log.log_start_offset());
            let size = log.size_bytes();
            assert_eq!(size, dir_bytes(&log), "in-memory size matches the files");
            assert!(
                size <= retention_bytes + segment_bytes,
                "size {size} > retention {retention_bytes} + segment {segment_bytes}"
            );
            // Never more deleted than needed: with the oldest segment back, it would still fit.
            if i % 50 == 0 {
                check_front(&log);
            }
        }
        assert!(deleted_total > 0);
        check_front(&log);
        let start = log.log_start_offset();
        log.close().expect("close");
        let log = Log::open(
            dir.path(),
            config(segment_bytes, None, Some(retention_bytes)),
        )
        .expect("reopen");
        assert_eq!(log.log_start_offset(), start, "log start survives a reopen");
        check_front(&log);
    }
}

#[test]
fn size_retention_deletes_no_more_than_needed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(1000, None, None)).expect("open");
    for i in 0..100i64 {
        log.append(&mut record(i, i, 100)).expect("append");
    }
    let bases = segment_bases(dir.path());
    let sizes: Vec<u64> = bases
        .iter()
        .map(|b| {
            std::fs::metadata(segment_file(dir.path(), *b, "log"))
                .expect("stat")
                .len()
        })
        .collect();
    let total: u64 = sizes.iter().sum();
    // Allow exactly the newest three segments.
    let keep: u64 = sizes[sizes.len() - 3..].iter().sum();
    log.set_config(config(1000, None, Some(keep)));
    let out = log.enforce_retention(0).expect("retention");
    assert_eq!(out.segments_deleted, bases.len() - 3);
    assert_eq!(out.bytes_deleted, total - keep);
    assert_eq!(log.log_start_offset(), bases[bases.len() - 3]);
    // Idempotent.
    assert_eq!(
        log.enforce_retention(0)
            .expect("retention")
            .segments_deleted,
        0
    );
    // retention.bytes 0 leaves only the active segment, never deletes it.
    log.set_config(config(1000, None, Some(0)));
    log.enforce_retention(0).expect("retention");
    assert_eq!(segment_bases(dir.path()), vec![bases[bases.len() - 1]]);
    check_front(&log);
    log.append(&mut record(100, 100, 10))
        .expect("append after retention");
}

#[test]
fn time_retention_deletes_only_a_front_run_of_expired_segments() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let retention_ms = 1000;
    for _case in 0..6 {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::open(dir.path(), config(2000, Some(retention_ms), None)).expect("open");
        // Timestamps wander (producers' clocks differ), so a later segment can be older.
        let mut ts_of: Vec<i64> = Vec::new();
        let mut clock = 10_000i64;
        let mut now = 0i64;
        for i in 0..300i64 {
            clock += rng.gen_range(0..40);
            let ts = clock - rng.gen_range(0..800);
            log.append(&mut record(i, ts, 60)).expect("append");
            ts_of.push(ts);
            if rng.gen_bool(0.1) {
                let before_start = log.log_start_offset();
                let bases_before = segment_bases(dir.path());
                now = now.max(clock + rng.gen_range(-200..1500));
                log.enforce_retention(now).expect("retention");
                let start = log.log_start_offset();
                let horizon = now - retention_ms;
                // Every deleted record (whole segments) is older than the horizon.
                for o in before_start..start {
                    assert!(
                        ts_of[o as usize] < horizon,
                        "offset {o} ts {} deleted at now {now} (horizon {horizon})",
                        ts_of[o as usize]
                    );
                }
                // The first remaining segment is not expired, unless it is the active one.
                let bases = segment_bases(dir.path());
                // Only a front run was deleted; an active segment whose records had all
                // expired was rolled first (as Kafka does), leaving a new empty one at the end.
                let leo = log.log_end_offset();
                let rolled = bases.last() == Some(&leo) && !bases_before.contains(&leo);
                let kept = if rolled {
                    &bases[..bases.len() - 1]
                } else {
                    &bases[..]
                };
                assert!(
                    bases_before.ends_with(kept),
                    "not a front run: {bases_before:?} -> {bases:?}"
                );
                if rolled {
                    let newest_active = (bases_before[bases_before.len() - 1]..leo)
                        .map(|o| ts_of[o as usize])
                        .max()
                        .expect("the rolled segment had records");
                    assert!(
                        newest_active < horizon,
                        "rolled a segment with live records"
                    );
                }
                if bases.len() > 1 {
                    let newest = (bases[0]..bases[1])
                        .map(|o| ts_of[o as usize])
                        .max()
                        .expect("non-empty segment");
                    assert!(
                        newest >= horizon,
                        "segment {} (newest {newest}) survived at horizon {horizon}",
                        bases[0]
                    );
                }
                check_front(&log);
            }
        }
    }
}

#[test]
fn no_retention_deletes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(500, None, None)).expect("open");
    for i in 0..100i64 {
        log.append(&mut record(i, 0, 50)).expect("append");
    }
    let segments = log.segment_count();
    let out = log.enforce_retention(i64::MAX / 2).expect("retention");
    assert_eq!(out.segments_deleted, 0);
    assert_eq!(log.segment_count(), segments);
    assert_eq!(log.log_start_offset(), 0);
}

/// `cleanup.policy=compact,delete`: a cleaner and a retention thread race with an appender.
/// A segment retention deletes while the cleaner is rewriting it must simply disappear.
#[test]
fn retention_and_compaction_run_concurrently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(1500, None, Some(9000));
    cfg.compaction = Some(CompactionConfig {
        min_cleanable_dirty_ratio: 0.0,
        min_compaction_lag_ms: 0,
        max_compaction_lag_ms: i64::MAX,
        delete_retention_ms: 0,
    });
    let log = Arc::new(Log::open(dir.path(), cfg.clone()).expect("open"));
    let stop = Arc::new(AtomicBool::new(false));
    let cleaner = {
        let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Acquire) {
                log.compact(i64::MAX / 4, None).expect("compact");
                n += 1;
            }
            n
        })
    };
    let retention = {
        let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut deleted = 0;
            while !stop.load(Ordering::Acquire) {
                deleted += log
                    .enforce_retention(0)
                    .expect("retention")
                    .segments_deleted;
            }
            deleted
        })
    };
    for i in 0..1500i64 {
        let key = format!("k{}", i % 7);
        log.append(&mut plain_batch(&[Put::value(&key, &format!("v{i}"), i)]))
            .expect("append");
        if i % 100 == 0 {
            let got = read_all_while_retention_runs(&log);
            for w in got.windows(2) {
                assert!(w[0].offset < w[1].offset);
            }
            for g in &got {
                assert_eq!(
                    g.value.as_deref(),
                    Some(format!("v{}", g.offset).as_bytes())
                );
            }
        }
    }
    stop.store(true, Ordering::Release);
    let compactions = cleaner.join().expect("cleaner");
    let deleted = retention.join().expect("retention");
    assert!(compactions > 0 && deleted > 0, "{compactions} {deleted}");
    assert!(files_ending(dir.path(), ".cleaned").is_empty());
    let start = log.log_start_offset();
    log.close().expect("close");
    drop(log);
    let log = Log::open(dir.path(), cfg).expect("reopen");
    assert_eq!(log.log_start_offset(), start);
    let got = read_all(&log);
    assert!(got.iter().all(|g| g.offset >= start));
    assert_eq!(got.last().map(|g| g.offset), Some(1499));
}

/// Reads the whole log while a retention thread may move the log start under the reader. A read
/// that falls below the new start gets `OffsetOutOfRange`, as a Kafka fetch would; the reader
/// then starts again from the new start, like a consumer with `auto.offset.reset=earliest`.
fn read_all_while_retention_runs(log: &Log) -> Vec<Got> {
    for _ in 0..1000 {
        match read_batches(log) {
            Ok(batches) => return batches.into_iter().flat_map(|b| b.records).collect(),
            Err(LogError::OffsetOutOfRange { .. }) => continue,
            Err(e) => panic!("read whole log: {e:?}"),
        }
    }
    panic!("retention moved the log start under every one of 1000 reads");
}
