//! Kafka's cleaner rules for transactions and delete horizons (KIP-534): records of aborted
//! transactions go at the first cleaning; a transaction marker stays while records of its
//! transaction remain, then gets a delete horizon (`now + delete.retention.ms`, written into
//! the batch's base timestamp with attribute bit 0x40) and goes at a cleaning at or after it.

mod common_compaction;

use bytes::{Bytes, BytesMut};
use common_compaction::*;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strom_log::{CleanerTxns, CompactionConfig, Durability, Log, LogConfig};

const DRM: i64 = 1000;
const ABORT: i16 = 0;
const COMMIT: i16 = 1;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        segment_ms: None,
        index_interval_bytes: 128,
        durability: Durability::Never,
        retention_ms: None,
        compaction: Some(CompactionConfig {
            min_cleanable_dirty_ratio: 0.0,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: DRM,
        }),
        ..LogConfig::default()
    }
}

fn encode(records: &[Record]) -> Vec<u8> {
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

fn record(pid: i64, seq: i32, ts: i64, control: bool, key: Bytes, value: Bytes) -> Record {
    Record {
        transactional: true,
        control,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: pid,
        producer_epoch: 0,
        timestamp_type: TimestampType::Creation,
        offset: i64::from(seq.max(0)),
        sequence: seq,
        timestamp: ts,
        key: Some(key),
        value: Some(value),
        headers: Default::default(),
    }
}

/// A transactional batch of producer `pid`: one record per (key, value).
fn txn_batch(pid: i64, seq: i32, puts: &[(&str, &str)], ts: i64) -> Vec<u8> {
    let recs: Vec<Record> = puts
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let key = Bytes::copy_from_slice(k.as_bytes());
            let value = Bytes::copy_from_slice(v.as_bytes());
            let mut r = record(pid, seq + i as i32, ts, false, key, value);
            r.offset = i as i64;
            r
        })
        .collect();
    encode(&recs)
}

/// A marker of producer `pid`: key = version 0 and the type; value = version 0, epoch 0.
fn marker(pid: i64, kind: i16, ts: i64) -> Vec<u8> {
    let t = kind.to_be_bytes();
    let key = Bytes::copy_from_slice(&[0, 0, t[0], t[1]]);
    let mut r = record(pid, -1, ts, true, key, Bytes::from_static(&[0; 6]));
    r.offset = 0;
    encode(&[r])
}

fn roll(log: &Log, ts: i64) {
    let big = "f".repeat(log.config().segment_bytes as usize);
    log.append(&mut plain_batch(&[Put::value("filler", &big, ts)]))
        .expect("append filler");
    log.append(&mut plain_batch(&[Put::value("q", "1", ts)]))
        .expect("append");
}

/// (offset, is a marker) of every batch's first record, markers and data.
fn layout(log: &Log) -> Vec<(i64, bool)> {
    read_batches(log)
        .expect("read")
        .iter()
        .filter_map(|b| b.records.first().map(|r| (r.offset, b.header.is_control())))
        .collect()
}

fn compact(log: &Log, now: i64, txns: &CleanerTxns) -> strom_log::CleanerStats {
    log.compact_transactional(now, None, 1 << 20, txns)
        .expect("compact")
}

#[test]
fn aborted_records_go_and_markers_wait_for_their_transaction_and_the_horizon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config()).expect("open");
    // Producer 7 aborts a = x, b = x (offsets 0-1, marker 2); producer 8 commits a = 2
    // (offset 3, marker 4).
    log.append(&mut txn_batch(7, 0, &[("a", "x"), ("b", "x")], 100))
        .expect("append");
    log.append(&mut marker(7, ABORT, 101)).expect("abort");
    log.append(&mut txn_batch(8, 0, &[("a", "2")], 102))
        .expect("append");
    log.append(&mut marker(8, COMMIT, 103)).expect("commit");
    roll(&log, 104);
    let txns = CleanerTxns {
        stable_offset: i64::MAX,
        aborted: vec![(7, 0, 2)],
    };

    // First cleaning: the aborted records go; the abort marker stays (this cleaning met
    // records of its transaction) and has no horizon yet; the commit marker stays (a = 2 is
    // still there).
    let stats = compact(&log, 1000, &txns);
    assert_eq!(stats.records_removed, 2);
    assert_eq!(
        layout(&log)[..3],
        [(2, true), (3, false), (4, true)],
        "aborted records removed, both markers kept"
    );
    let batches = read_batches(&log).expect("read");
    assert_eq!(batches[0].header.delete_horizon(), None);

    // Second cleaning: nothing of the aborted transaction is left, so its marker gets the
    // horizon 2000 + DRM, in its header.
    let stats = compact(&log, 2000, &txns);
    assert_eq!(stats.next_tombstone_expiry_ms, Some(2000 + DRM));
    let batches = read_batches(&log).expect("read");
    assert_eq!(batches[0].header.delete_horizon(), Some(2000 + DRM));
    assert_eq!(batches[0].header.attributes & 0x40, 0x40);
    assert_eq!(batches[2].header.delete_horizon(), None, "commit marker");
    assert!(log.needs_cleaning(2000 + DRM));

    // Just before the horizon it is still there; at the horizon it goes. The commit marker
    // stays as long as its transaction's a = 2 does.
    assert_eq!(compact(&log, 2000 + DRM - 1, &txns).markers_removed, 0);
    assert_eq!(layout(&log)[0], (2, true));
    let stats = compact(&log, 2000 + DRM, &txns);
    assert_eq!(stats.markers_removed, 1);
    assert_eq!(layout(&log)[..2], [(3, false), (4, true)]);
    assert_eq!(compact(&log, 100_000, &txns).markers_removed, 0);
    assert_eq!(layout(&log)[..2], [(3, false), (4, true)]);
}

#[test]
fn a_commit_marker_goes_after_its_records_are_superseded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config()).expect("open");
    log.append(&mut txn_batch(8, 0, &[("a", "1")], 100))
        .expect("append");
    log.append(&mut marker(8, COMMIT, 101)).expect("commit");
    log.append(&mut plain_batch(&[Put::value("a", "2", 102)]))
        .expect("append");
    roll(&log, 103);
    let txns = CleanerTxns::default();
    // a = 1 is superseded; the cleaning that removes it met it, so the marker stays.
    compact(&log, 1000, &txns);
    assert_eq!(layout(&log)[..2], [(1, true), (2, false)]);
    // Next cleaning: horizon set; at the horizon the marker goes.
    compact(&log, 2000, &txns);
    assert_eq!(layout(&log)[0], (1, true));
    compact(&log, 2000 + DRM, &txns);
    assert_eq!(layout(&log)[0], (2, false));
}

/// An aborted transaction whose marker the cleaner removed stays in the broker's list; a
/// later transaction of the same producer must not be taken for it.
#[test]
fn a_later_transaction_of_the_producer_is_not_taken_for_an_old_aborted_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config()).expect("open");
    log.append(&mut txn_batch(7, 0, &[("a", "x")], 100))
        .expect("append");
    log.append(&mut marker(7, ABORT, 101)).expect("abort");
    roll(&log, 102);
    let txns = CleanerTxns {
        stable_offset: i64::MAX,
        aborted: vec![(7, 0, 1)],
    };
    compact(&log, 1000, &txns);
    compact(&log, 2000, &txns);
    compact(&log, 2000 + DRM, &txns);
    assert!(
        layout(&log).iter().all(|(o, _)| *o > 1),
        "aborted records and marker gone"
    );
    let end = log.log_end_offset();
    log.append(&mut txn_batch(7, 1, &[("c", "1")], 3000))
        .expect("append");
    log.append(&mut marker(7, COMMIT, 3001)).expect("commit");
    roll(&log, 3002);
    compact(&log, 4000, &txns);
    let got = read_all(&log);
    assert!(
        got.iter()
            .any(|g| g.offset == end && g.value.as_deref() == Some(&b"1"[..])),
        "the committed record of the later transaction survives"
    );
}

/// A tombstone's horizon: the first cleaning writes `now + delete.retention.ms` into the
/// batch's base timestamp (attribute bit 0x40), records keep their timestamps, and the
/// tombstone goes at a cleaning at or after the horizon whatever its own timestamp.
#[test]
fn tombstones_get_a_delete_horizon_in_their_batch_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config()).expect("open");
    log.append(&mut plain_batch(&[
        Put::value("k", "1", 10),
        Put::tombstone("k", 11),
        Put::value("j", "1", 12),
    ]))
    .expect("append");
    roll(&log, 13);
    // The tombstone's own timestamp (11) is long past delete.retention.ms: Kafka keeps it
    // anyway, until delete.retention.ms after the cleaning that first kept it.
    let stats = compact(&log, 50_000, &CleanerTxns::default());
    assert_eq!(stats.tombstones_removed, 0);
    let batches = read_batches(&log).expect("read");
    let h = batches[0].header;
    assert_eq!(h.delete_horizon(), Some(50_000 + DRM));
    assert_eq!(h.max_timestamp, 12);
    let ts: Vec<(i64, i64)> = batches[0]
        .records
        .iter()
        .map(|r| (r.offset, r.ts))
        .collect();
    assert_eq!(ts, vec![(1, 11), (2, 12)], "record timestamps preserved");
    assert!(batches[0].records[0].value.is_none());
    let stats = compact(&log, 50_000 + DRM - 1, &CleanerTxns::default());
    assert_eq!(stats.tombstones_removed, 0);
    let stats = compact(&log, 50_000 + DRM, &CleanerTxns::default());
    assert_eq!(stats.tombstones_removed, 1);
    let got: Vec<i64> = read_all(&log).iter().map(|g| g.offset).collect();
    assert_eq!(got[0], 2);
    // Reopened, the rewritten batches verify and read the same.
    let before = read_all(&log);
    drop(log);
    let log = Log::open(dir.path(), config()).expect("reopen");
    assert_eq!(read_all(&log), before);
}
