//! Broker-side recompression (`strom_log::recompress`): every codec to every other, with
//! levels; records, offsets, timestamps, producer fields and the transactional bit kept, the
//! CRC valid, the decompression bounded by the decode limits.

mod common_compaction;

use bytes::{Bytes, BytesMut};
use common_compaction::*;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strom_log::{recompress, BatchHeader, Codec, DecodeLimits, LogError};

const CODECS: [(i16, Compression); 5] = [
    (0, Compression::None),
    (1, Compression::Gzip),
    (2, Compression::Snappy),
    (3, Compression::Lz4),
    (4, Compression::Zstd),
];

/// A transactional batch of producer 9, epoch 2, sequences from 40, with headers.
fn batch(compression: Compression, n: usize) -> Vec<u8> {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: 9,
            producer_epoch: 2,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: 40 + i as i32,
            timestamp: 1_000 + i as i64 * 3,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: (i % 5 != 0).then(|| Bytes::from(format!("value {i} ").repeat(20))),
            headers: [(
                kafka_protocol::protocol::StrBytes::from_static_str("h"),
                Some(Bytes::from(vec![i as u8])),
            )]
            .into_iter()
            .collect(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode");
    buf.to_vec()
}

fn decoded(bytes: &[u8]) -> Vec<Record> {
    let mut b = Bytes::copy_from_slice(bytes);
    RecordBatchDecoder::decode(&mut b).expect("decodes").records
}

#[test]
fn every_codec_to_every_other_keeps_records_and_header_fields() {
    for (from, from_c) in CODECS {
        let original = batch(from_c, 50);
        let h0 = BatchHeader::parse(&original).expect("header");
        for (to, _) in CODECS {
            let got = recompress(
                &original,
                Codec {
                    id: to,
                    level: None,
                },
                DecodeLimits::default(),
            )
            .expect("recompress");
            let Some(got) = got else {
                assert_eq!(from, to, "only a batch already in the codec is left alone");
                continue;
            };
            assert_ne!(from, to);
            let h = BatchHeader::parse(&got).expect("header");
            assert_eq!(h.compression(), to);
            assert_eq!(
                h.attributes & !7,
                h0.attributes & !7,
                "other attribute bits kept"
            );
            assert_eq!(
                (
                    h.base_offset,
                    h.last_offset_delta,
                    h.base_timestamp,
                    h.max_timestamp
                ),
                (
                    h0.base_offset,
                    h0.last_offset_delta,
                    h0.base_timestamp,
                    h0.max_timestamp
                )
            );
            assert_eq!(
                (
                    h.producer_id,
                    h.producer_epoch,
                    h.base_sequence,
                    h.record_count
                ),
                (9, 2, 40, 50)
            );
            assert_eq!(h.total_len(), got.len());
            assert_eq!(crc32c::crc32c(&got[21..]), h.crc, "fresh CRC");
            assert_eq!(decoded(&got), decoded(&original), "{from} -> {to}");
        }
    }
}

#[test]
fn levels_are_used() {
    let original = batch(Compression::None, 400);
    let size = |id, level| {
        recompress(&original, Codec { id, level }, DecodeLimits::default())
            .expect("recompress")
            .expect("recompressed")
            .len()
    };
    assert!(size(4, Some(19)) < size(4, Some(1)), "zstd 19 beats zstd 1");
    assert!(size(1, Some(9)) < size(1, Some(1)), "gzip 9 beats gzip 1");
    assert!(size(3, Some(17)) < size(3, Some(1)), "lz4 17 beats lz4 1");
}

#[test]
fn decompression_is_bounded_by_the_limits() {
    let original = batch(Compression::Zstd, 400);
    let limits = DecodeLimits {
        max_batch_bytes: 4096,
        ..DecodeLimits::default()
    };
    let err =
        recompress(&original, Codec { id: 1, level: None }, limits).expect_err("over the budget");
    assert!(
        matches!(err, LogError::DecompressedTooLarge { max: 4096 }),
        "{err:?}"
    );
}

#[test]
fn recompressed_batches_append_and_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = strom_log::Log::open(dir.path(), strom_log::LogConfig::default()).expect("open");
    let original = batch(Compression::Lz4, 30);
    let mut got = recompress(
        &original,
        Codec {
            id: 4,
            level: Some(7),
        },
        DecodeLimits::default(),
    )
    .expect("recompress")
    .expect("recompressed")
    .to_vec();
    log.append(&mut got)
        .expect("the log's own validation accepts it");
    let read = read_batches(&log).expect("read");
    assert_eq!(read[0].header.compression(), 4);
    assert_eq!(read[0].records.len(), 30);
}
