//! Property test: random operation sequences against a real `Log` and a simple in-memory
//! model (the list of appended batches with their offsets). Segment structure is observed
//! from the `.log` files in the directory, so rolls, retention and `delete_records_before`
//! are checked exactly, not just "something happened".

mod common;

use std::path::Path;

use common::{encode_batch, split_batches, with_base_offset, TestRecord};
use kafka_protocol::records::Compression;
use proptest::prelude::*;
use strom_log::{Durability, Log, LogConfig, LogError};

/// Largest batch the log under test accepts; `AppendTooLarge` goes over it.
const MAX_BATCH: usize = 64 * 1024;

#[derive(Debug, Clone)]
enum Op {
    /// Records as (timestamp jitter, value length, has key).
    Append {
        recs: Vec<(i16, u16, bool)>,
        compression: u8,
        clock_step: u16,
    },
    AppendBad {
        kind: u8,
        at: u16,
    },
    AppendTooLarge,
    Read {
        at: u16,
        max_bytes: u32,
    },
    ReadOutOfRange {
        above: bool,
        by: u8,
    },
    OffsetForTimestamp {
        sel: u16,
    },
    DeleteBefore {
        sel: u16,
    },
    RetentionTime {
        keep_ms: u16,
        now_step: u16,
    },
    RetentionSize {
        bytes: u32,
    },
    ScanHeaders {
        sel: u16,
        stop_after: u8,
    },
    Reopen {
        clean: bool,
    },
    Flush,
    FullScan {
        max_bytes: u32,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let rec = (-40i16..40, 0u16..600, any::<bool>());
    prop_oneof![
        12 => (prop::collection::vec(rec, 1..12), 0u8..8, 0u16..50).prop_map(
            |(recs, compression, clock_step)| Op::Append { recs, compression, clock_step }
        ),
        2 => (0u8..6, any::<u16>()).prop_map(|(kind, at)| Op::AppendBad { kind, at }),
        1 => Just(Op::AppendTooLarge),
        6 => (any::<u16>(), 1u32..20_000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => (any::<bool>(), 1u8..5).prop_map(|(above, by)| Op::ReadOutOfRange { above, by }),
        3 => any::<u16>().prop_map(|sel| Op::OffsetForTimestamp { sel }),
        1 => any::<u16>().prop_map(|sel| Op::DeleteBefore { sel }),
        1 => (0u16..2000, 0u16..500).prop_map(|(keep_ms, now_step)| Op::RetentionTime { keep_ms, now_step }),
        1 => (0u32..40_000).prop_map(|bytes| Op::RetentionSize { bytes }),
        1 => (any::<u16>(), 0u8..6).prop_map(|(sel, stop_after)| Op::ScanHeaders { sel, stop_after }),
        2 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        1 => Just(Op::Flush),
        1 => (1u32..30_000).prop_map(|max_bytes| Op::FullScan { max_bytes }),
    ]
}

#[derive(Debug, Clone)]
struct MBatch {
    base: i64,
    last: i64,
    /// The batch as the log must store it (base offset stamped).
    bytes: Vec<u8>,
    record_ts: Vec<i64>,
}

impl MBatch {
    fn max_ts(&self) -> i64 {
        self.record_ts.iter().copied().max().unwrap_or(-1)
    }
}

/// Everything physically still in the log, plus the logical start.
#[derive(Debug, Default)]
struct Model {
    batches: Vec<MBatch>,
    log_start: i64,
    leo: i64,
    clock: i64,
}

impl Model {
    fn containing(&self, offset: i64) -> Option<usize> {
        self.batches
            .iter()
            .position(|b| b.base <= offset && offset <= b.last)
    }
}

/// The segments as seen on disk: (base offset, size of the `.log` file), sorted.
fn segments_on_disk(dir: &Path) -> Vec<(i64, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list log dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".log") {
            assert_eq!(
                stem.len(),
                20,
                "segment file name {name} is a 20-digit offset"
            );
            let base: i64 = stem.parse().expect("segment name is a number");
            out.push((base, entry.metadata().expect("stat").len()));
        }
    }
    out.sort();
    out
}

/// Checks the directory against the model and drops model batches of deleted segments.
fn sync_segments(dir: &Path, log: &Log, m: &mut Model) {
    let segs = segments_on_disk(dir);
    assert!(!segs.is_empty(), "a log always has an active segment");
    assert_eq!(log.segment_count(), segs.len(), "segment_count() vs files");
    let total: u64 = segs.iter().map(|s| s.1).sum();
    assert_eq!(log.size_bytes(), total, "size_bytes() vs .log file sizes");
    let first = segs[0].0;
    m.batches.retain(|b| b.base >= first);
    if let Some(b) = m.batches.first() {
        assert_eq!(b.base, first, "first segment starts at a batch boundary");
    } else {
        assert_eq!(
            first, m.leo,
            "an empty log's only segment starts at the end offset"
        );
    }
    for (i, (base, size)) in segs.iter().enumerate() {
        let next = segs.get(i + 1).map(|s| s.0).unwrap_or(i64::MAX);
        let in_seg: Vec<&MBatch> = m
            .batches
            .iter()
            .filter(|b| b.base >= *base && b.base < next)
            .collect();
        if i + 1 < segs.len() {
            assert!(!in_seg.is_empty(), "closed segment {base} holds batches");
        }
        if let Some(f) = in_seg.first() {
            assert_eq!(
                f.base, *base,
                "segment {base} starts with a batch at its base"
            );
        }
        let expect: u64 = in_seg.iter().map(|b| b.bytes.len() as u64).sum();
        assert_eq!(*size, expect, "bytes in segment {base}");
    }
    assert!(
        first <= m.log_start,
        "first segment {first} starts at or below the log start {}",
        m.log_start
    );
}

fn config(segment_bytes: u64, index_interval: u64, always: bool) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_ms: None,
        index_interval_bytes: index_interval,
        durability: if always {
            Durability::Always
        } else {
            Durability::Never
        },
        retention_ms: None,
        retention_bytes: None,
        max_batch_bytes: MAX_BATCH,
        decode: Default::default(),
        compaction: None,
    }
}

fn compression(c: u8) -> Compression {
    match c {
        0 => Compression::Gzip,
        1 => Compression::Lz4,
        2 => Compression::Zstd,
        3 => Compression::Snappy,
        _ => Compression::None,
    }
}

fn pick(sel: u16, lo: i64, hi: i64) -> i64 {
    lo + (sel as i64) % (hi - lo + 1)
}

/// Reads `[log_start, leo)` in steps of `max_bytes` and compares with the model.
fn full_scan(log: &Log, m: &Model, max_bytes: usize) {
    let mut at = m.log_start;
    let mut got = Vec::new();
    while at < m.leo {
        let r = log.read(at, max_bytes).expect("read inside the log");
        let batches = split_batches(&r.bytes).expect("read returns whole batches");
        assert!(
            !batches.is_empty(),
            "read at {at} below HW {} is empty",
            m.leo
        );
        got.extend_from_slice(&r.bytes);
        at = batches.last().map(|b| b.last_offset() + 1).unwrap_or(at);
    }
    let first = m.containing(m.log_start);
    let expect: Vec<u8> = match first {
        Some(i) => m.batches[i..]
            .iter()
            .flat_map(|b| b.bytes.clone())
            .collect(),
        None => Vec::new(),
    };
    assert!(got == expect, "full scan differs from the appended batches");
}

fn check_read(log: &Log, m: &Model, offset: i64, max_bytes: usize) {
    let r = log.read(offset, max_bytes).expect("read in range");
    assert_eq!(r.high_watermark, m.leo, "read's high watermark");
    assert_eq!(r.log_start_offset, m.log_start, "read's log start");
    if offset == m.leo {
        assert!(r.bytes.is_empty(), "read at the high watermark is empty");
        return;
    }
    let i = m.containing(offset).expect("model has the offset");
    let got = split_batches(&r.bytes).expect("read returns whole batches");
    assert!(
        !got.is_empty(),
        "read at {offset} returns at least one batch"
    );
    if got.len() > 1 {
        assert!(
            r.bytes.len() <= max_bytes,
            "{} batches totalling {} bytes exceed max_bytes {max_bytes}",
            got.len(),
            r.bytes.len()
        );
    }
    for (k, p) in got.iter().enumerate() {
        let mb = &m.batches[i + k];
        assert!(
            r.bytes[p.start..p.end] == mb.bytes[..],
            "read at {offset}: batch {k} (model base {}) differs",
            mb.base
        );
    }
}

fn expected_offset_for_ts(m: &Model, ts: i64) -> Option<(i64, i64)> {
    for b in &m.batches {
        for (k, t) in b.record_ts.iter().enumerate() {
            let off = b.base + k as i64;
            if off >= m.log_start && *t >= ts {
                return Some((off, *t));
            }
        }
    }
    None
}

/// A valid batch broken in one of several ways the log must refuse.
fn bad_batch(kind: u8, at: u16) -> Vec<u8> {
    let recs: Vec<TestRecord> = (0..3)
        .map(|i| TestRecord {
            timestamp: 1000 + i,
            key: None,
            value: vec![i as u8; 40],
        })
        .collect();
    let mut b = encode_batch(&recs, Compression::None);
    match kind {
        0 => {
            // A flipped bit in the CRC-covered region.
            let i = 21 + at as usize % (b.len() - 21);
            b[i] ^= 1 << (at % 8);
        }
        1 => b[16] = 1,
        2 => {
            let keep = at as usize % (b.len() - 1);
            b.truncate(keep);
        }
        3 => {
            let len = i32::from_be_bytes(b[8..12].try_into().unwrap()) + 1 + (at % 50) as i32;
            b[8..12].copy_from_slice(&len.to_be_bytes());
        }
        4 => {
            // The record count lies, but the CRC is made to match: only parsing the
            // records (or checking last_offset_delta) can tell.
            b[57..61].copy_from_slice(&(4 + (at % 3) as i32).to_be_bytes());
            let crc = crc32c::crc32c(&b[21..]);
            b[17..21].copy_from_slice(&crc.to_be_bytes());
        }
        _ => {
            b.truncate(at as usize % 61);
        }
    }
    b
}

/// A temporary directory, on tmpfs when there is one: this test checks the log's logic, not
/// the disk, and on a real disk the fsyncs of rolls and `Always` appends make it take minutes.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("tempdir")
}

fn run(ops: Vec<Op>, segment_bytes: u64, index_interval: u64, always: bool) {
    let tmp = scratch_dir();
    let dir = tmp.path().join("p0");
    let cfg = config(segment_bytes, index_interval, always);
    let mut log = Log::open(&dir, cfg.clone()).expect("open a new log");
    let mut m = Model {
        clock: 1_700_000_000_000,
        ..Model::default()
    };
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.high_watermark(), 0);
    assert_eq!(log.log_start_offset(), 0);

    for (step, op) in ops.into_iter().enumerate() {
        let ctx = format!("step {step}: {op:?}");
        match op {
            Op::Append {
                recs,
                compression: c,
                clock_step,
            } => {
                m.clock += clock_step as i64;
                let recs: Vec<TestRecord> = recs
                    .iter()
                    .enumerate()
                    .map(|(k, (jitter, len, key))| TestRecord {
                        timestamp: m.clock + *jitter as i64,
                        key: key.then(|| format!("k{k}").into_bytes()),
                        value: vec![(step % 251) as u8; *len as usize],
                    })
                    .collect();
                let original = encode_batch(&recs, compression(c));
                let mut buf = original.clone();
                let info = log
                    .append(&mut buf)
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                let n = recs.len() as i64;
                assert_eq!(info.base_offset, m.leo, "{ctx}: base offset");
                assert_eq!(info.last_offset, m.leo + n - 1, "{ctx}: last offset");
                assert_eq!(info.record_count as i64, n, "{ctx}: record count");
                let max_ts = recs.iter().map(|r| r.timestamp).max().unwrap_or(-1);
                assert_eq!(info.max_timestamp, max_ts, "{ctx}: max timestamp");
                let stored = with_base_offset(&original, m.leo);
                assert!(buf == stored, "{ctx}: append stamps only the base offset");
                m.batches.push(MBatch {
                    base: m.leo,
                    last: m.leo + n - 1,
                    bytes: stored,
                    record_ts: recs.iter().map(|r| r.timestamp).collect(),
                });
                m.leo += n;
                assert_eq!(log.log_end_offset(), m.leo, "{ctx}: LEO");
                assert_eq!(log.high_watermark(), m.leo, "{ctx}: HW after return");
                sync_segments(&dir, &log, &mut m);
            }
            Op::AppendBad { kind, at } => {
                let mut b = bad_batch(kind, at);
                // A count that disagrees with the last offset delta is an invalid record, as
                // Kafka answers; every other kind is corrupt.
                match (kind, log.append(&mut b)) {
                    (4, Err(LogError::InvalidRecord { .. })) => {}
                    (k, Err(LogError::CorruptBatch(_))) if k != 4 => {}
                    (_, other) => panic!("{ctx}: expected CorruptBatch, got {other:?}"),
                }
                assert_eq!(log.log_end_offset(), m.leo, "{ctx}: nothing appended");
                sync_segments(&dir, &log, &mut m);
            }
            Op::AppendTooLarge => {
                let recs = vec![TestRecord {
                    timestamp: m.clock,
                    key: None,
                    value: vec![7u8; MAX_BATCH + 1],
                }];
                let mut b = encode_batch(&recs, Compression::None);
                match log.append(&mut b) {
                    Err(LogError::BatchTooLarge { size, max }) => {
                        assert_eq!(size, b.len(), "{ctx}: reported size");
                        assert_eq!(max, MAX_BATCH, "{ctx}: reported max");
                    }
                    other => panic!("{ctx}: expected BatchTooLarge, got {other:?}"),
                }
                assert_eq!(log.log_end_offset(), m.leo, "{ctx}: nothing appended");
            }
            Op::Read { at, max_bytes } => {
                let offset = pick(at, m.log_start, m.leo);
                check_read(&log, &m, offset, max_bytes as usize);
            }
            Op::ReadOutOfRange { above, by } => {
                let offset = if above {
                    m.leo + by as i64
                } else {
                    m.log_start - by as i64
                };
                match log.read(offset, 1 << 20) {
                    Err(LogError::OffsetOutOfRange {
                        offset: o,
                        start,
                        end,
                    }) => {
                        assert_eq!(o, offset, "{ctx}");
                        assert_eq!(start, m.log_start, "{ctx}: reported start");
                        assert_eq!(end, m.leo, "{ctx}: reported end");
                    }
                    other => panic!("{ctx}: expected OffsetOutOfRange, got {other:?}"),
                }
            }
            Op::OffsetForTimestamp { sel } => {
                // Targets around and beyond the timestamps in use, including exact hits.
                let lo = 1_700_000_000_000 - 100;
                let ts = pick(sel, lo, m.clock + 100);
                let got = log
                    .offset_for_timestamp(ts)
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_eq!(got, expected_offset_for_ts(&m, ts), "{ctx}: ts {ts}");
            }
            Op::DeleteBefore { sel } => {
                let target = pick(sel, 0, m.leo);
                let new_start = log
                    .delete_records_before(target)
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                let expect = m.log_start.max(target);
                assert_eq!(new_start, expect, "{ctx}: returned log start");
                m.log_start = expect;
                assert_eq!(log.log_start_offset(), expect, "{ctx}: log start");
                sync_segments(&dir, &log, &mut m);
                // Whole segments below the new start are gone; only the active one may lag.
                let segs = segments_on_disk(&dir);
                if segs.len() > 1 {
                    assert!(
                        segs[1].0 > m.log_start,
                        "{ctx}: segment {} lies wholly below log start {}",
                        segs[0].0,
                        m.log_start
                    );
                }
            }
            Op::RetentionTime { keep_ms, now_step } => {
                let now = m.clock + now_step as i64;
                let keep = keep_ms as i64;
                let before = segments_on_disk(&dir);
                let size_before = log.size_bytes();
                log.set_config(LogConfig {
                    retention_ms: Some(keep),
                    ..cfg.clone()
                });
                let out = log
                    .enforce_retention(now)
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                log.set_config(cfg.clone());
                let after = segments_on_disk(&dir);
                check_retention_outcome(&ctx, &log, &m, &before, &after, size_before, out);
                let expired = |base: i64, next: i64| {
                    m.batches
                        .iter()
                        .filter(|b| b.base >= base && b.base < next)
                        .map(|b| b.max_ts())
                        .max()
                        .is_some_and(|t| now - t > keep)
                };
                let deleted = before.len() - after.len();
                for i in 0..deleted {
                    assert!(
                        expired(before[i].0, before[i + 1].0),
                        "{ctx}: deleted unexpired segment {}",
                        before[i].0
                    );
                }
                if after.len() > 1 {
                    assert!(
                        !expired(after[0].0, after[1].0),
                        "{ctx}: kept expired closed segment {} (now {now})",
                        after[0].0
                    );
                }
                m.log_start = m.log_start.max(after[0].0);
                sync_segments(&dir, &log, &mut m);
            }
            Op::RetentionSize { bytes } => {
                let limit = bytes as u64;
                let before = segments_on_disk(&dir);
                let size_before = log.size_bytes();
                log.set_config(LogConfig {
                    retention_bytes: Some(limit),
                    ..cfg.clone()
                });
                let out = log
                    .enforce_retention(m.clock)
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                log.set_config(cfg.clone());
                let after = segments_on_disk(&dir);
                check_retention_outcome(&ctx, &log, &m, &before, &after, size_before, out);
                let mut size = size_before;
                for seg in &before[..before.len() - after.len()] {
                    assert!(
                        size > limit,
                        "{ctx}: deleted {} while within the limit",
                        seg.0
                    );
                    size -= seg.1;
                }
                let size_after = log.size_bytes();
                if after.len() > 1 {
                    // Either "delete while larger than the limit" or Kafka's "delete while
                    // the rest would still be at least the limit" is fine; anything
                    // beyond both is a segment that should have gone.
                    assert!(
                        size_after <= limit || size_after - after[0].1 < limit,
                        "{ctx}: {size_after} bytes left over a limit of {limit}"
                    );
                }
                m.log_start = m.log_start.max(after[0].0);
                sync_segments(&dir, &log, &mut m);
            }
            Op::ScanHeaders { sel, stop_after } => {
                let from = pick(sel, m.log_start, m.leo);
                let mut seen = Vec::new();
                log.scan_headers(from, &mut |h| {
                    seen.push(*h);
                    seen.len() <= stop_after as usize
                })
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                let mut expect: Vec<&MBatch> =
                    m.batches.iter().filter(|b| b.last >= from).collect();
                // Whether the batch containing `from` is reported is the caller's business;
                // both readings of "from from_offset on" are accepted.
                if seen.first().map(|h| h.base_offset) != expect.first().map(|b| b.base) {
                    expect.retain(|b| b.base >= from);
                }
                expect.truncate(stop_after as usize + 1);
                assert_eq!(seen.len(), expect.len(), "{ctx}: number of headers");
                for (h, b) in seen.iter().zip(expect) {
                    let p = &split_batches(&b.bytes).expect("model batch")[0];
                    assert_eq!(h.base_offset, b.base, "{ctx}");
                    assert_eq!(h.batch_length, p.batch_length, "{ctx}");
                    assert_eq!(h.magic, 2, "{ctx}");
                    assert_eq!(h.last_offset_delta, p.last_offset_delta, "{ctx}");
                    assert_eq!(h.max_timestamp, p.max_timestamp, "{ctx}");
                    assert_eq!(h.base_timestamp, p.base_timestamp, "{ctx}");
                    assert_eq!(h.record_count, p.record_count, "{ctx}");
                }
            }
            Op::Reopen { clean } => {
                if clean {
                    log.close().unwrap_or_else(|e| panic!("{ctx}: close: {e}"));
                }
                drop(log);
                log = Log::open(&dir, cfg.clone()).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_eq!(log.log_end_offset(), m.leo, "{ctx}: LEO after reopen");
                assert_eq!(log.high_watermark(), m.leo, "{ctx}: HW after reopen");
                let start = log.log_start_offset();
                if clean {
                    assert_eq!(
                        start, m.log_start,
                        "{ctx}: log start survives a clean close"
                    );
                } else {
                    // A crash may lose a DeleteRecords that was not checkpointed yet, but
                    // never more than the physical start.
                    let phys = m.batches.first().map(|b| b.base).unwrap_or(m.leo);
                    assert!(
                        start == m.log_start || start == phys,
                        "{ctx}: log start {start} after crash (model {}, physical {phys})",
                        m.log_start
                    );
                    m.log_start = start;
                }
                sync_segments(&dir, &log, &mut m);
                full_scan(&log, &m, 4096);
            }
            Op::Flush => log.flush().unwrap_or_else(|e| panic!("{ctx}: {e}")),
            Op::FullScan { max_bytes } => full_scan(&log, &m, max_bytes as usize),
        }
    }
    full_scan(&log, &m, 1 << 20);
    if std::env::var_os("STROM_PROP_STATS").is_some() {
        eprintln!(
            "segments {} start {} end {} batches {}",
            log.segment_count(),
            m.log_start,
            m.leo,
            m.batches.len()
        );
    }
    log.close().expect("final close");
    match log.append(&mut encode_batch(
        &[TestRecord {
            timestamp: 0,
            key: None,
            value: vec![1],
        }],
        Compression::None,
    )) {
        Err(LogError::Closed) => {}
        other => panic!("append after close: expected Closed, got {other:?}"),
    }
}

fn check_retention_outcome(
    ctx: &str,
    log: &Log,
    m: &Model,
    before: &[(i64, u64)],
    after: &[(i64, u64)],
    size_before: u64,
    out: strom_log::RetentionOutcome,
) {
    assert!(!after.is_empty(), "{ctx}: retention left no segment");
    // An active segment whose records have all expired is rolled (a new empty segment at the
    // log end) and then deleted with the rest, as Kafka does.
    let leo = log.log_end_offset();
    let rolled = after.last() == Some(&(leo, 0)) && before.last().is_some_and(|b| b.1 > 0);
    let kept = if rolled {
        &after[..after.len() - 1]
    } else {
        after
    };
    let deleted = before.len() - kept.len();
    assert_eq!(
        &before[deleted..],
        kept,
        "{ctx}: retention deletes a prefix of whole segments"
    );
    assert!(
        rolled || deleted < before.len(),
        "{ctx}: the active segment is deleted only after being rolled"
    );
    assert_eq!(out.segments_deleted, deleted, "{ctx}: segments_deleted");
    let gone: u64 = before[..deleted].iter().map(|s| s.1).sum();
    assert_eq!(out.bytes_deleted, gone, "{ctx}: bytes_deleted");
    assert_eq!(log.size_bytes(), size_before - gone, "{ctx}: size after");
    let start = m.log_start.max(after[0].0);
    assert_eq!(out.log_start_offset, start, "{ctx}: outcome log start");
    assert_eq!(log.log_start_offset(), start, "{ctx}: log start");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn log_matches_model(
        ops in prop::collection::vec(op_strategy(), 1..150),
        segment_bytes in prop::sample::select(vec![1024u64, 3000, 8192, 1 << 20]),
        index_interval in prop::sample::select(vec![1u64, 100, 4096]),
        always in prop::bool::weighted(0.15),
    ) {
        run(ops, segment_bytes, index_interval, always);
    }
}
