//! The decode budget end to end through `Log`: a compression bomb is refused at append with
//! nothing written, and a bomb already stored (under a larger budget, as before the limit
//! existed) neither fails the cleaner (it is reported, counted and kept) nor blocks a lookup
//! by timestamp, and the log reopens.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions};
use strom_log::{
    plain_record, CompactionConfig, DecodeLimits, Durability, Log, LogConfig, LogError,
};

const MIB: usize = 1 << 20;

/// `n` records `k0..` of `value_len` zero bytes each, timestamps from `ts`, zstd-compressed.
fn zeros_batch(n: usize, value_len: usize, ts: i64) -> Vec<u8> {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            plain_record(
                i,
                ts + i as i64,
                Some(Bytes::from(format!("k{i}"))),
                Some(Bytes::from(vec![0u8; value_len])),
            )
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::Zstd,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options).expect("encode");
    buf.to_vec()
}

fn config(max_decompressed: usize) -> LogConfig {
    LogConfig {
        segment_bytes: 2048,
        segment_ms: None,
        durability: Durability::Never,
        retention_ms: None,
        decode: DecodeLimits {
            max_batch_bytes: max_decompressed,
            max_record_bytes: MIB,
        },
        compaction: Some(CompactionConfig {
            min_cleanable_dirty_ratio: 0.0,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 1000,
        }),
        ..LogConfig::default()
    }
}

#[test]
fn a_bomb_is_refused_at_append_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), config(8 * MIB)).expect("open");
    let mut bomb = zeros_batch(32, MIB, 1_000);
    assert!(bomb.len() < 64 * 1024, "the bomb is {} bytes", bomb.len());
    match log.append(&mut bomb) {
        Err(LogError::DecompressedTooLarge { max }) => assert_eq!(max, 8 * MIB),
        other => panic!("expected DecompressedTooLarge, got {other:?}"),
    }
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
    let mut small = zeros_batch(4, MIB, 1_000);
    log.append(&mut small).expect("4 MiB fits an 8 MiB budget");
}

#[test]
fn a_stored_bomb_is_skipped_by_the_cleaner_and_the_log_stays_usable() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        // Stored under a roomy budget, as before the limit existed.
        let log = Log::open(dir.path(), config(64 * MIB)).expect("open");
        log.append(&mut zeros_batch(32, MIB, 1_000)).expect("bomb");
        // Newer values for k0 and k1 make the first segment worth cleaning.
        for _ in 0..40 {
            log.append(&mut zeros_batch(2, 2048, 2_000))
                .expect("append");
        }
        assert!(log.segment_count() > 1);
        log.close().expect("close");
    }
    let log = Log::open(dir.path(), config(8 * MIB)).expect("reopen with a small budget");
    let end = log.log_end_offset();
    let stats = log
        .compact(10_000, None)
        .expect("the cleaner does not fail");
    assert_eq!(stats.batches_skipped, 1, "{stats:?}");
    assert_eq!(log.cleaner_stats().batches_skipped, 1);
    // The bomb is kept as it is: its batch is still the first one read.
    let read = log.read(0, 1).expect("read");
    let header = strom_log::BatchHeader::parse(&read.bytes).expect("header");
    assert_eq!((header.base_offset, header.record_count), (0, 32));
    // A time lookup walks it within the budget: record 5 lies in its first 8 MiB...
    assert_eq!(
        log.offset_for_timestamp(1_005).expect("lookup"),
        Some((5, 1_005))
    );
    // ...record 20 does not, so the lookup answers from the batch header instead of failing.
    assert_eq!(
        log.offset_for_timestamp(1_020).expect("lookup"),
        Some((0, 1_031))
    );
    assert_eq!(log.log_end_offset(), end);
    log.close().expect("close");
    Log::open(dir.path(), config(8 * MIB)).expect("opens again");
}
