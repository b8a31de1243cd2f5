//! Checks of the real log against the model: segments on disk, reads, full scans, retention.

use std::path::Path;

use strom_log::Log;

use crate::common::split_batches;
use crate::model::*;

/// The segments as seen on disk: (base offset, size of the `.log` file), sorted.
pub(crate) fn segments_on_disk(dir: &Path) -> Vec<(i64, u64)> {
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
pub(crate) fn sync_segments(dir: &Path, log: &Log, m: &mut Model) {
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

/// Reads `[log_start, leo)` in steps of `max_bytes` and compares with the model.
pub(crate) fn full_scan(log: &Log, m: &Model, max_bytes: usize) {
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

pub(crate) fn check_read(log: &Log, m: &Model, offset: i64, max_bytes: usize) {
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

pub(crate) fn expected_offset_for_ts(m: &Model, ts: i64) -> Option<(i64, i64)> {
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

pub(crate) fn check_retention_outcome(
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
