//! One run of the property test: a fresh log, then each operation applied to both the log
//! and the model, and checked ([`Run`] has one step per kind of operation), then the closing
//! checks.

use std::path::{Path, PathBuf};

use kafka_protocol::records::Compression;
use strom_log::{Durability, Log, LogConfig, LogError};

use crate::checks::*;
use crate::common::{encode_batch, split_batches, with_base_offset, TestRecord};
use crate::model::*;

pub(crate) fn config(segment_bytes: u64, index_interval: u64, always: bool) -> LogConfig {
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

pub(crate) fn compression(c: u8) -> Compression {
    match c {
        0 => Compression::Gzip,
        1 => Compression::Lz4,
        2 => Compression::Zstd,
        3 => Compression::Snappy,
        _ => Compression::None,
    }
}

pub(crate) fn pick(sel: u16, lo: i64, hi: i64) -> i64 {
    lo + (sel as i64) % (hi - lo + 1)
}

/// A temporary directory, on tmpfs when there is one: this test checks the log's logic, not
/// the disk, and on a real disk the fsyncs of rolls and `Always` appends make it take minutes.
pub(crate) fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("tempdir")
}

pub(crate) fn run(ops: Vec<Op>, segment_bytes: u64, index_interval: u64, always: bool) {
    let tmp = scratch_dir();
    let mut run = Run::start(
        tmp.path().join("p0"),
        config(segment_bytes, index_interval, always),
    );
    for (step, op) in ops.into_iter().enumerate() {
        run = run.apply(step, op);
    }
    run.finish();
}

/// A directory's segments as (base offset, bytes), as [`segments_on_disk`] lists them.
type Segments = Vec<(i64, u64)>;

/// The log under test, its directory and configuration, and the model it must match.
struct Run {
    dir: PathBuf,
    cfg: LogConfig,
    log: Log,
    m: Model,
}

impl Run {
    /// A new, empty log.
    fn start(dir: PathBuf, cfg: LogConfig) -> Run {
        let log = Log::open(&dir, cfg.clone()).expect("open a new log");
        let m = Model {
            clock: 1_700_000_000_000,
            ..Model::default()
        };
        assert_eq!(log.log_end_offset(), 0);
        assert_eq!(log.high_watermark(), 0);
        assert_eq!(log.log_start_offset(), 0);
        Run { dir, cfg, log, m }
    }

    /// Applies operation number `step` to the log and the model and checks the outcome
    /// (taking the run by value: a reopen replaces the log).
    fn apply(mut self, step: usize, op: Op) -> Run {
        let ctx = format!("step {step}: {op:?}");
        match op {
            Op::Append {
                recs,
                compression: c,
                clock_step,
            } => self.append(&ctx, step, &recs, c, clock_step),
            Op::AppendBad { kind, at } => self.append_bad(&ctx, kind, at),
            Op::AppendTooLarge => self.append_too_large(&ctx),
            Op::Read { at, max_bytes } => {
                let offset = pick(at, self.m.log_start, self.m.leo);
                check_read(&self.log, &self.m, offset, max_bytes as usize);
            }
            Op::ReadOutOfRange { above, by } => self.read_out_of_range(&ctx, above, by),
            Op::OffsetForTimestamp { sel } => self.offset_for_timestamp(&ctx, sel),
            Op::DeleteBefore { sel } => self.delete_before(&ctx, sel),
            Op::RetentionTime { keep_ms, now_step } => self.retention_time(&ctx, keep_ms, now_step),
            Op::RetentionSize { bytes } => self.retention_size(&ctx, bytes),
            Op::ScanHeaders { sel, stop_after } => self.scan_headers(&ctx, sel, stop_after),
            Op::Reopen { clean } => return self.reopen(&ctx, clean),
            Op::Flush => self.log.flush().unwrap_or_else(|e| panic!("{ctx}: {e}")),
            Op::FullScan { max_bytes } => full_scan(&self.log, &self.m, max_bytes as usize),
        }
        self
    }

    fn append(
        &mut self,
        ctx: &str,
        step: usize,
        recs: &[(i16, u16, bool)],
        c: u8,
        clock_step: u16,
    ) {
        let (log, m) = (&self.log, &mut self.m);
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
        sync_segments(&self.dir, log, m);
    }

    fn append_bad(&mut self, ctx: &str, kind: u8, at: u16) {
        let mut b = bad_batch(kind, at);
        // A count that disagrees with the last offset delta is an invalid record, as
        // Kafka answers; every other kind is corrupt.
        match (kind, self.log.append(&mut b)) {
            (4, Err(LogError::InvalidRecord { .. })) => {}
            (k, Err(LogError::CorruptBatch(_))) if k != 4 => {}
            (_, other) => panic!("{ctx}: expected CorruptBatch, got {other:?}"),
        }
        assert_eq!(
            self.log.log_end_offset(),
            self.m.leo,
            "{ctx}: nothing appended"
        );
        sync_segments(&self.dir, &self.log, &mut self.m);
    }

    fn append_too_large(&mut self, ctx: &str) {
        let recs = vec![TestRecord {
            timestamp: self.m.clock,
            key: None,
            value: vec![7u8; MAX_BATCH + 1],
        }];
        let mut b = encode_batch(&recs, Compression::None);
        match self.log.append(&mut b) {
            Err(LogError::BatchTooLarge { size, max }) => {
                assert_eq!(size, b.len(), "{ctx}: reported size");
                assert_eq!(max, MAX_BATCH, "{ctx}: reported max");
            }
            other => panic!("{ctx}: expected BatchTooLarge, got {other:?}"),
        }
        assert_eq!(
            self.log.log_end_offset(),
            self.m.leo,
            "{ctx}: nothing appended"
        );
    }

    fn read_out_of_range(&self, ctx: &str, above: bool, by: u8) {
        let m = &self.m;
        let offset = if above {
            m.leo + by as i64
        } else {
            m.log_start - by as i64
        };
        match self.log.read(offset, 1 << 20) {
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

    fn offset_for_timestamp(&self, ctx: &str, sel: u16) {
        // Targets around and beyond the timestamps in use, including exact hits.
        let lo = 1_700_000_000_000 - 100;
        let ts = pick(sel, lo, self.m.clock + 100);
        let got = self
            .log
            .offset_for_timestamp(ts)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(got, expected_offset_for_ts(&self.m, ts), "{ctx}: ts {ts}");
    }

    fn delete_before(&mut self, ctx: &str, sel: u16) {
        let (log, m) = (&self.log, &mut self.m);
        let target = pick(sel, 0, m.leo);
        let new_start = log
            .delete_records_before(target)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let expect = m.log_start.max(target);
        assert_eq!(new_start, expect, "{ctx}: returned log start");
        m.log_start = expect;
        assert_eq!(log.log_start_offset(), expect, "{ctx}: log start");
        sync_segments(&self.dir, log, m);
        // Whole segments below the new start are gone; only the active one may lag.
        let segs = segments_on_disk(&self.dir);
        if segs.len() > 1 {
            assert!(
                segs[1].0 > m.log_start,
                "{ctx}: segment {} lies wholly below log start {}",
                segs[0].0,
                m.log_start
            );
        }
    }

    /// Runs retention once under `retention` (on top of the run's configuration) at `now`
    /// and checks what any retention may do: the segments before and after, and the size
    /// before.
    fn enforce_retention(
        &mut self,
        ctx: &str,
        retention: LogConfig,
        now: i64,
    ) -> (Segments, Segments, u64) {
        let before = segments_on_disk(&self.dir);
        let size_before = self.log.size_bytes();
        self.log.set_config(retention);
        let out = self
            .log
            .enforce_retention(now)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        self.log.set_config(self.cfg.clone());
        let after = segments_on_disk(&self.dir);
        check_retention_outcome(ctx, &self.log, &self.m, &before, &after, size_before, out);
        (before, after, size_before)
    }

    fn retention_time(&mut self, ctx: &str, keep_ms: u16, now_step: u16) {
        let now = self.m.clock + now_step as i64;
        let keep = keep_ms as i64;
        let retention = LogConfig {
            retention_ms: Some(keep),
            ..self.cfg.clone()
        };
        let (before, after, _) = self.enforce_retention(ctx, retention, now);
        let m = &self.m;
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
        self.m.log_start = self.m.log_start.max(after[0].0);
        sync_segments(&self.dir, &self.log, &mut self.m);
    }

    fn retention_size(&mut self, ctx: &str, bytes: u32) {
        let limit = bytes as u64;
        let retention = LogConfig {
            retention_bytes: Some(limit),
            ..self.cfg.clone()
        };
        let (before, after, size_before) = self.enforce_retention(ctx, retention, self.m.clock);
        let mut size = size_before;
        for seg in &before[..before.len() - after.len()] {
            assert!(
                size > limit,
                "{ctx}: deleted {} while within the limit",
                seg.0
            );
            size -= seg.1;
        }
        let size_after = self.log.size_bytes();
        if after.len() > 1 {
            // Either "delete while larger than the limit" or Kafka's "delete while
            // the rest would still be at least the limit" is fine; anything
            // beyond both is a segment that should have gone.
            assert!(
                size_after <= limit || size_after - after[0].1 < limit,
                "{ctx}: {size_after} bytes left over a limit of {limit}"
            );
        }
        self.m.log_start = self.m.log_start.max(after[0].0);
        sync_segments(&self.dir, &self.log, &mut self.m);
    }

    fn scan_headers(&self, ctx: &str, sel: u16, stop_after: u8) {
        let from = pick(sel, self.m.log_start, self.m.leo);
        let mut seen = Vec::new();
        self.log
            .scan_headers(from, &mut |h| {
                seen.push(*h);
                seen.len() <= stop_after as usize
            })
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let mut expect: Vec<&MBatch> = self.m.batches.iter().filter(|b| b.last >= from).collect();
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

    /// Closes the log (cleanly, or as a crash: just dropped) and opens it again.
    fn reopen(self, ctx: &str, clean: bool) -> Run {
        let Run {
            dir,
            cfg,
            log,
            mut m,
        } = self;
        if clean {
            log.close().unwrap_or_else(|e| panic!("{ctx}: close: {e}"));
        }
        drop(log);
        let log = Log::open(&dir, cfg.clone()).unwrap_or_else(|e| panic!("{ctx}: {e}"));
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
        Run { dir, cfg, log, m }
    }

    /// The closing checks: everything reads back, and a closed log refuses appends.
    fn finish(self) {
        let Run { log, m, .. } = self;
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
}
