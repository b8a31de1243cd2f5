//! Property test of log compaction against an in-memory model.
//!
//! Random puts, tombstones and keyless records over a small key set (plain and idempotent
//! producers, some gzip batches), random small segment sizes, compaction at random moments
//! with random `now` values, and reopens (clean close or plain drop) at random moments. After
//! every step the whole log is read back from the log start and checked against the model:
//! the list of everything ever appended plus the largest `now` any compaction ran with.

mod common_compaction;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use common_compaction::*;
use kafka_protocol::records::Compression;
use proptest::prelude::*;
use strom_log::{CompactionConfig, Durability, Log, LogConfig};

const KEYS: u8 = 5;

#[derive(Debug, Clone)]
enum Op {
    /// One batch: (key index or keyless, value byte or tombstone).
    Append {
        recs: Vec<(Option<u8>, Option<u8>)>,
        idempotent: bool,
        gzip: bool,
    },
    Tick(i64),
    /// Compact with `now = clock + ahead`.
    Compact(i64),
    Reopen {
        clean: bool,
    },
}

#[derive(Debug, Clone)]
struct Setup {
    segment_bytes: u64,
    index_interval: u64,
    delete_retention_ms: i64,
    min_lag_ms: i64,
    /// The cleaner's key-map limit per run (small values force several runs).
    max_keys: usize,
}

fn op() -> impl Strategy<Value = Op> {
    let rec = (
        prop_oneof![1 => Just(None), 12 => (0..KEYS).prop_map(Some)],
        prop_oneof![1 => Just(None), 3 => any::<u8>().prop_map(Some)],
    );
    prop_oneof![
        10 => (prop::collection::vec(rec, 1..5), any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(recs, idempotent, gzip)| Op::Append { recs, idempotent, gzip }),
        3 => (0i64..400).prop_map(Op::Tick),
        3 => (-100i64..4000).prop_map(Op::Compact),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        150u64..1200,
        prop_oneof![Just(64u64), Just(200), Just(4096)],
        prop_oneof![Just(0i64), Just(100), Just(1000), Just(5000)],
        prop_oneof![Just(0i64), Just(50), Just(500)],
        prop_oneof![2 => Just(strom_log::DEFAULT_MAX_KEYS), 1 => 1usize..4],
    )
        .prop_map(
            |(segment_bytes, index_interval, delete_retention_ms, min_lag_ms, max_keys)| Setup {
                segment_bytes,
                index_interval,
                delete_retention_ms,
                min_lag_ms,
                max_keys,
            },
        )
}

fn config(s: &Setup) -> LogConfig {
    LogConfig {
        segment_bytes: s.segment_bytes,
        // Rolls by age would depend on the wall clock; this test drives time itself.
        segment_ms: None,
        index_interval_bytes: s.index_interval,
        durability: Durability::Never,
        retention_ms: None,
        retention_bytes: None,
        compaction: Some(CompactionConfig {
            min_cleanable_dirty_ratio: 0.0,
            min_compaction_lag_ms: s.min_lag_ms,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: s.delete_retention_ms,
        }),
        ..LogConfig::default()
    }
}

/// What was appended at one offset.
#[derive(Debug, Clone)]
struct Appended {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    ts: i64,
    producer_id: i64,
    producer_epoch: i16,
    sequence: i32,
}

struct Model {
    appended: Vec<Appended>,
    /// Largest `now` a compaction has run with.
    max_now: Option<i64>,
    /// Every compaction: (records appended before it, its `now`).
    compactions: Vec<(usize, i64)>,
    clock: i64,
    next_seq: i32,
}

fn active_base(dir: &Path) -> i64 {
    *segment_bases(dir).last().expect("a log has a segment")
}

fn check(log: &Log, dir: &Path, m: &Model, s: &Setup, got: &[Got]) -> Result<(), TestCaseError> {
    prop_assert_eq!(log.log_end_offset(), m.appended.len() as i64);
    prop_assert_eq!(log.high_watermark(), m.appended.len() as i64);
    prop_assert_eq!(log.log_start_offset(), 0);
    // Offsets strictly increasing; every record is exactly what was appended at its offset.
    for w in got.windows(2) {
        prop_assert!(w[0].offset < w[1].offset, "offsets not increasing: {:?}", w);
    }
    for g in got {
        let a = &m.appended[g.offset as usize];
        prop_assert_eq!(&g.key, &a.key, "key at {}", g.offset);
        prop_assert_eq!(&g.value, &a.value, "value at {}", g.offset);
        prop_assert_eq!(g.ts, a.ts, "timestamp at {}", g.offset);
        prop_assert_eq!(g.producer_id, a.producer_id, "producer id at {}", g.offset);
        prop_assert_eq!(g.producer_epoch, a.producer_epoch);
        if a.producer_id >= 0 {
            prop_assert_eq!(g.sequence, a.sequence, "sequence at {}", g.offset);
        }
    }
    let present: BTreeSet<i64> = got.iter().map(|g| g.offset).collect();
    // The active segment is untouched.
    let active = active_base(dir);
    for o in active..m.appended.len() as i64 {
        prop_assert!(
            present.contains(&o),
            "offset {o} of the active segment is gone"
        );
    }
    let drm = s.delete_retention_ms;
    let lag = s.min_lag_ms;
    // Every record that is gone went for a reason compaction may act on.
    let mut latest: HashMap<&[u8], usize> = HashMap::new();
    for (o, a) in m.appended.iter().enumerate() {
        if let Some(k) = &a.key {
            latest.insert(k, o);
        }
    }
    for (o, a) in m.appended.iter().enumerate() {
        if present.contains(&(o as i64)) {
            continue;
        }
        let Some(now) = m.max_now else {
            return Err(TestCaseError::fail(format!(
                "offset {o} vanished without any compaction"
            )));
        };
        prop_assert!(a.key.is_some(), "keyless record at {o} was removed");
        prop_assert!(
            a.ts <= now - lag,
            "offset {o} (ts {}) removed although younger than min.compaction.lag at now {now}",
            a.ts
        );
        let superseded = m.appended[o + 1..]
            .iter()
            .any(|b| b.key == a.key && b.ts <= now - lag);
        let expired_tombstone = a.value.is_none() && horizon_passed(m, o, drm);
        prop_assert!(
            superseded || expired_tombstone,
            "offset {o} {:?} removed with no newer version and no expired tombstone (now {now})",
            a
        );
    }
    // For every key: its latest record is the last one readable, or, if it is an expired
    // tombstone, the key is gone entirely (no older value may resurface).
    for (k, &o) in &latest {
        let a = &m.appended[o];
        let last_seen = got.iter().rev().find(|g| g.key.as_deref() == Some(*k));
        match last_seen {
            Some(g) => prop_assert_eq!(
                g.offset,
                o as i64,
                "key {:?}: latest is at {} but the last readable is at {}",
                k,
                o,
                g.offset
            ),
            None => {
                prop_assert!(
                    a.value.is_none(),
                    "live key {:?} (latest at {}) is gone",
                    k,
                    o
                );
                prop_assert!(
                    horizon_passed(m, o, drm),
                    "tombstone of {:?} at {} (ts {}) removed inside delete.retention.ms",
                    k,
                    o,
                    a.ts
                );
            }
        }
    }
    prop_assert!(
        files_ending(dir, ".cleaned").is_empty(),
        "leftover .cleaned files"
    );
    Ok(())
}

/// Whether the tombstone at `o` can have passed its delete horizon (KIP-534): a compaction
/// after its append set the horizon to its `now + drm`, and a later one ran at or past it.
fn horizon_passed(m: &Model, o: usize, drm: i64) -> bool {
    m.compactions.iter().enumerate().any(|(i, (len, first))| {
        *len > o
            && m.compactions[i + 1..]
                .iter()
                .any(|(_, n)| *n >= first + drm)
    })
}

/// Reads at sampled offsets (including removed ones) must start at the first record at or
/// after the offset.
fn check_point_reads(log: &Log, got: &[Got], hw: i64) -> Result<(), TestCaseError> {
    let step = (hw / 40).max(1);
    let mut o = 0;
    while o < hw {
        let r = log
            .read(o, 1)
            .map_err(|e| TestCaseError::fail(format!("read {o}: {e}")))?;
        let mut b = r.bytes;
        let first = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut b)
            .map_err(|e| TestCaseError::fail(format!("decode at {o}: {e}")))?
            .into_iter()
            .flat_map(|s| s.records)
            .find(|r| r.offset >= o)
            .map(|r| r.offset);
        let want = got.iter().find(|g| g.offset >= o).map(|g| g.offset);
        prop_assert_eq!(first, want, "read({}) found the wrong first record", o);
        o += step;
    }
    Ok(())
}

fn run(s: Setup, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p0");
    let cfg = config(&s);
    let mut log = Some(Log::open(&path, cfg.clone()).expect("open"));
    let mut m = Model {
        appended: Vec::new(),
        max_now: None,
        compactions: Vec::new(),
        clock: 1_000_000,
        next_seq: 0,
    };
    let mut prev: Vec<Got> = Vec::new();
    for op in ops {
        let l = log.as_ref().expect("log is open between steps");
        match &op {
            Op::Append {
                recs,
                idempotent,
                gzip,
            } => {
                let puts: Vec<Put> = recs
                    .iter()
                    .enumerate()
                    .map(|(i, (k, v))| Put {
                        key: k.map(|k| format!("key-{k}").into_bytes()),
                        value: v
                            .map(|v| format!("value-{v}-{}", m.appended.len() + i).into_bytes()),
                        ts: m.clock + i as i64,
                    })
                    .collect();
                let producer = idempotent.then_some((7i64, 0i16, m.next_seq));
                let compression = if *gzip {
                    Compression::Gzip
                } else {
                    Compression::None
                };
                let mut b = encode_batch(&puts, producer, compression);
                let info = l.append(&mut b).expect("append");
                prop_assert_eq!(info.base_offset, m.appended.len() as i64);
                for (i, p) in puts.iter().enumerate() {
                    let (producer_id, producer_epoch, sequence) = match producer {
                        Some((pid, epoch, seq)) => (pid, epoch, seq + i as i32),
                        // The decoder reports base_sequence (-1) + offset delta.
                        None => (-1, -1, i as i32 - 1),
                    };
                    m.appended.push(Appended {
                        key: p.key.clone(),
                        value: p.value.clone(),
                        ts: p.ts,
                        producer_id,
                        producer_epoch,
                        sequence,
                    });
                }
                if *idempotent {
                    m.next_seq += puts.len() as i32;
                }
            }
            Op::Tick(ms) => m.clock += ms,
            Op::Compact(ahead) => {
                let now = m.clock + ahead;
                let active = active_base(&path);
                let active_file = segment_file(&path, active, "log");
                let before = std::fs::read(&active_file).expect("read active segment");
                l.compact_with_map_limit(now, None, s.max_keys)
                    .expect("compact");
                m.max_now = Some(m.max_now.map_or(now, |n| n.max(now)));
                m.compactions.push((m.appended.len(), now));
                let after = std::fs::read(&active_file).expect("read active segment");
                prop_assert!(before == after, "the active segment was rewritten");
                prop_assert_eq!(active_base(&path), active);
                // Everything closed was old enough: nothing is left dirty.
                let all_old = m.appended[..active as usize]
                    .iter()
                    .all(|a| a.ts <= now - s.min_lag_ms);
                if all_old && active > 0 {
                    // A limited key map cleans part of the dirty range per run; every run
                    // must make progress, so as many runs as segments finish it.
                    let mut runs = 0;
                    while l.dirty_ratio() > 0.0 && runs < 1000 {
                        l.compact_with_map_limit(now, None, s.max_keys)
                            .expect("compact");
                        // Each run is a cleaning of its own: a tombstone given its delete
                        // horizon by one run may go in the next (with delete.retention.ms 0,
                        // at the same time), as in Kafka.
                        m.compactions.push((m.appended.len(), now));
                        runs += 1;
                    }
                    prop_assert_eq!(l.dirty_ratio(), 0.0);
                }
            }
            Op::Reopen { clean } => {
                let ratio = l.dirty_ratio();
                let old = log.take().expect("open");
                if *clean {
                    old.close().expect("close");
                }
                drop(old);
                let reopened = Log::open(&path, cfg.clone()).expect("reopen");
                prop_assert_eq!(reopened.dirty_ratio(), ratio, "dirty ratio after reopen");
                log = Some(reopened);
            }
        }
        let l = log.as_ref().expect("open");
        let batches = read_batches(l).map_err(|e| TestCaseError::fail(format!("read: {e}")))?;
        for b in &batches {
            if b.header.producer_id < 0 {
                prop_assert_eq!(
                    b.header.base_sequence,
                    -1,
                    "plain batch at {}",
                    b.header.base_offset
                );
            }
            prop_assert!(b.header.record_count as usize == b.records.len());
            prop_assert!(
                !b.records.is_empty(),
                "empty batch at {}",
                b.header.base_offset
            );
            prop_assert_eq!(
                b.records.last().map(|r| r.offset),
                Some(b.header.last_offset())
            );
        }
        let got: Vec<Got> = batches.into_iter().flat_map(|b| b.records).collect();
        check(l, &path, &m, &s, &got)?;
        match &op {
            Op::Append { recs, .. } => {
                prop_assert_eq!(
                    got.len(),
                    prev.len() + recs.len(),
                    "append changed old records"
                );
                prop_assert_eq!(&got[..prev.len()], &prev[..]);
            }
            Op::Compact(_) => {
                let before: BTreeSet<i64> = prev.iter().map(|g| g.offset).collect();
                prop_assert!(got.iter().all(|g| before.contains(&g.offset)));
                check_point_reads(l, &got, l.high_watermark())?;
            }
            Op::Tick(_) | Op::Reopen { .. } => {
                prop_assert_eq!(&got, &prev, "records changed without a compaction");
            }
        }
        prev = got;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn compaction_matches_the_model(s in setup(), ops in prop::collection::vec(op(), 1..70)) {
        run(s, ops)?;
    }
}
