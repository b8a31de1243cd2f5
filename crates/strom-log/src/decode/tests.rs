//! Tests of the bounded record reader and of produce validation: round trips through every
//! codec against kafka-protocol's encoder and decoder, each rejection Kafka makes, the byte
//! budgets (a zstd bomb, an oversized record the reader walks past), and proptest mutations
//! of valid batches that must be either rejected or decoded consistently, never a panic.

use std::io::Write;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};
use proptest::prelude::*;

use super::{validate_records, DecodeLimits, Fields, RecordReader};
use crate::batch::{validate_batches, BatchHeader, BATCH_HEADER_LEN};
use crate::{plain_record, LogError};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

pub(super) fn records(n: usize, value_len: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            headers: [(
                kafka_protocol::protocol::StrBytes::from_static_str("h"),
                Some(Bytes::from(format!("{i}"))),
            )]
            .into_iter()
            .collect(),
            ..plain_record(
                i,
                1_000 + i as i64,
                (i % 3 != 2).then(|| Bytes::from(format!("key-{i}"))),
                (i % 4 != 3).then(|| Bytes::from(vec![b'a' + (i % 26) as u8; value_len])),
            )
        })
        .collect()
}

pub(super) fn encode(recs: &[Record], compression: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, recs.iter(), &options).expect("encode");
    buf.to_vec()
}

/// Replaces a batch's records section with `body` (already compressed for the batch's codec)
/// and sets its counts, length and CRC, so only the inside can be wrong.
pub(super) fn with_body(template: &[u8], body: &[u8], count: i32) -> Vec<u8> {
    let mut b = template[..BATCH_HEADER_LEN].to_vec();
    b.extend_from_slice(body);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    fix_crc(&mut b);
    b
}

fn fix_crc(b: &mut [u8]) {
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

fn varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// One encoded record with the given offset delta and value.
fn raw_record(offset_delta: i64, value: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8]; // attributes
    varint(&mut body, 0); // timestamp delta
    varint(&mut body, offset_delta);
    varint(&mut body, 1);
    body.push(b'k');
    varint(&mut body, value.len() as i64);
    body.extend_from_slice(value);
    varint(&mut body, 0); // headers
    let mut out = Vec::new();
    varint(&mut out, body.len() as i64);
    out.extend(body);
    out
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd")
}

pub(super) fn validate(b: &[u8]) -> Result<Vec<BatchHeader>, LogError> {
    validate_batches(b, DecodeLimits::default())
}

#[test]
fn every_codec_round_trips_like_kafka_protocol() {
    for codec in CODECS {
        let recs = records(40, 300);
        let b = encode(&recs, codec);
        validate(&b).unwrap_or_else(|e| panic!("{codec:?}: {e}"));
        let ours: Vec<_> = RecordReader::new(&b, Fields::All, DecodeLimits::default())
            .expect("reader")
            .collect::<Result<_, _>>()
            .expect("decode");
        let theirs = RecordBatchDecoder::decode(&mut Bytes::from(b.clone())).expect("theirs");
        assert_eq!(ours.len(), theirs.records.len(), "{codec:?}");
        for (o, t) in ours.iter().zip(&theirs.records) {
            assert_eq!(
                (o.offset, o.timestamp),
                (t.offset, t.timestamp),
                "{codec:?}"
            );
            assert_eq!((&o.key, &o.value), (&t.key, &t.value), "{codec:?}");
            assert_eq!(o.headers.len(), t.headers.len());
        }
    }
}

#[test]
fn snappy_raw_and_xerial_framing_both_decode() {
    let xerial = encode(&records(5, 100), Compression::Snappy);
    assert!(xerial[BATCH_HEADER_LEN..].starts_with(b"\x82SNAPPY\x00"));
    let plain = encode(&records(5, 100), Compression::None);
    let raw = snap::raw::Encoder::new()
        .compress_vec(&plain[BATCH_HEADER_LEN..])
        .expect("snappy");
    let raw_batch = with_body(&xerial, &raw, 5);
    validate(&raw_batch).expect("raw snappy, as librdkafka sends it");
}

#[test]
fn a_body_that_is_not_its_codec_is_corrupt() {
    let template = encode(&records(1, 10), Compression::Gzip);
    let b = with_body(&template, b"definitely not gzip", 1);
    assert!(
        matches!(validate(&b), Err(LogError::CorruptBatch(_))),
        "{:?}",
        validate(&b)
    );
}

#[test]
fn compressed_record_count_must_match_the_header() {
    let template = encode(&records(1, 10), Compression::Zstd);
    // Header claims 1,000,000 records (with a matching last offset delta), body holds one.
    let b = with_body(&template, &zstd(&raw_record(0, b"v")), 1_000_000);
    let err = validate(&b).unwrap_err();
    assert!(
        matches!(&err, LogError::InvalidRecord { reason } if reason.contains("holds 1")),
        "{err}"
    );
    // And the other way: two records in the body, one in the header.
    let mut two = raw_record(0, b"v");
    two.extend(raw_record(1, b"w"));
    let b = with_body(&template, &zstd(&two), 1);
    assert!(matches!(validate(&b), Err(LogError::InvalidRecord { .. })));
}

#[test]
fn a_count_that_is_not_last_offset_delta_plus_one_is_an_invalid_record() {
    // Kafka's LogValidator: "Inconsistent batch offset range", INVALID_RECORD, for every codec.
    for codec in CODECS {
        let mut b = encode(&records(3, 10), codec);
        b[23..27].copy_from_slice(&1i32.to_be_bytes()); // last offset delta 1, count 3
        fix_crc(&mut b);
        let err = validate(&b).unwrap_err();
        assert!(
            matches!(&err, LogError::InvalidRecord { reason } if reason.contains("count 3")),
            "{codec:?}: {err}"
        );
    }
}

#[test]
fn offset_deltas_must_run_from_zero() {
    let template = encode(&records(1, 10), Compression::Gzip);
    let mut body = raw_record(0, b"v");
    body.extend(raw_record(5, b"w"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&body).expect("gzip");
    let b = with_body(&template, &gz.finish().expect("gzip"), 2);
    let err = validate(&b).unwrap_err();
    assert!(
        matches!(&err, LogError::InvalidRecord { reason } if reason.contains("offset delta 5 after 0")),
        "{err}"
    );
}

#[test]
fn record_length_must_match_its_fields_exactly() {
    let template = encode(&records(1, 10), Compression::None);
    let mut body = raw_record(0, b"value");
    body[0] += 2; // length varint says 1 byte more than the fields use (zig-zag: +2)
    body.push(0);
    let b = with_body(&template, &body, 1);
    assert!(
        matches!(validate(&b), Err(LogError::CorruptBatch(_))),
        "{:?}",
        validate(&b)
    );
}

#[test]
fn an_understated_batch_max_timestamp_is_raised_to_the_records() {
    let mut b = encode(&records(3, 10), Compression::Lz4);
    let right = BatchHeader::parse(&b).expect("header").max_timestamp;
    // Sarama 1.22 sends -1; any value below a record's timestamp is raised, CRC and all.
    for understated in [-1i64, 1_000] {
        b[35..43].copy_from_slice(&understated.to_be_bytes());
        fix_crc(&mut b);
        let mut headers = validate(&b).expect("valid");
        assert_eq!(headers[0].max_timestamp, right);
        crate::batch::fix_max_timestamps(&mut b, &mut headers);
        let fixed = validate(&b).expect("still valid: the CRC was recomputed");
        assert_eq!(BatchHeader::parse(&b).expect("header").max_timestamp, right);
        assert_eq!(fixed, headers);
    }
}

/// 64 records of 1 MiB of zeros: 64 MiB that zstd packs into a few KiB.
fn zstd_bomb() -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut body = Vec::new();
    for i in 0..64 {
        body.extend(raw_record(i, &zeros));
    }
    let template = encode(&records(1, 10), Compression::Zstd);
    with_body(&template, &zstd(&body), 64)
}

#[test]
fn a_decompression_bomb_is_refused_within_the_budget() {
    let bomb = zstd_bomb();
    assert!(bomb.len() < 64 * 1024, "bomb is {} bytes", bomb.len());
    let limits = DecodeLimits {
        max_batch_bytes: 8 << 20,
        max_record_bytes: 1 << 20,
    };
    let err = validate_batches(&bomb, limits).unwrap_err();
    assert!(
        matches!(err, LogError::DecompressedTooLarge { max } if max == 8 << 20),
        "{err}"
    );
    // Under a budget that fits it, it is a valid batch.
    let roomy = DecodeLimits {
        max_batch_bytes: 65 << 20,
        ..limits
    };
    validate_batches(&bomb, roomy).expect("valid within a larger budget");
}

#[test]
fn an_oversized_record_is_reported_by_offset_and_walked_past() {
    let template = encode(&records(1, 10), Compression::Zstd);
    let mut body = raw_record(0, b"small");
    body.extend(raw_record(1, &vec![7u8; 4096]));
    body.extend(raw_record(2, b"after"));
    let mut b = with_body(&template, &zstd(&body), 3);
    b[0..8].copy_from_slice(&100i64.to_be_bytes());
    let limits = DecodeLimits {
        max_batch_bytes: 1 << 20,
        max_record_bytes: 1024,
    };
    let got: Vec<_> = RecordReader::new(&b, Fields::All, limits)
        .expect("reader")
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0].as_ref().expect("first").value.as_deref(),
        Some(&b"small"[..])
    );
    assert!(matches!(
        got[1],
        Err(LogError::RecordTooLarge {
            offset: 101,
            max: 1024,
            ..
        })
    ));
    assert_eq!(got[2].as_ref().expect("third").offset, 102);
    // Validation holds no record, so the per-record limit does not apply to it.
    validate_records(&BatchHeader::parse(&b).expect("header"), &b, limits).expect("valid");
}

/// A byte-level mutation of a valid batch's records section, CRC fixed afterwards.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
    Truncate { keep: usize },
    Count { delta: i32 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
        (-3i32..4).prop_map(|delta| Mutation::Count { delta }),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    let body = b.len() - BATCH_HEADER_LEN;
    let at = |i: usize| BATCH_HEADER_LEN + i % body.max(1);
    match *m {
        Mutation::Flip { at: i, bit } if body > 0 => b[at(i)] ^= 1 << bit,
        Mutation::Set { at: i, byte } if body > 0 => b[at(i)] = byte,
        Mutation::Insert { at: i, byte } => b.insert(at(i), byte),
        Mutation::Remove { at: i } if body > 0 => {
            b.remove(at(i));
        }
        Mutation::Truncate { keep } => b.truncate(BATCH_HEADER_LEN + keep % body.max(1)),
        Mutation::Count { delta } => {
            let count = i32::from_be_bytes([b[57], b[58], b[59], b[60]]).saturating_add(delta);
            b[57..61].copy_from_slice(&count.to_be_bytes());
            b[23..27].copy_from_slice(&count.saturating_sub(1).to_be_bytes());
        }
        _ => {}
    }
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    fix_crc(b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any mutation is either rejected by validation, or the batch decodes to exactly its
    /// declared records, identically through our reader and kafka-protocol's decoder (what
    /// clients use), never a panic.
    #[test]
    fn mutated_batches_are_rejected_or_decode_consistently(
        codec in 0usize..5,
        n in 1usize..6,
        value_len in 0usize..200,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut b = encode(&records(n, value_len), CODECS[codec]);
        for m in &mutations {
            apply(&mut b, m);
        }
        let Ok(headers) = validate(&b) else { return Ok(()) };
        let count = headers[0].record_count as usize;
        let ours: Vec<_> = RecordReader::new(&b, Fields::All, DecodeLimits::default())
            .expect("reader")
            .collect::<Result<_, _>>()
            .expect("a validated batch decodes");
        prop_assert_eq!(ours.len(), count);
        for (i, r) in ours.iter().enumerate() {
            prop_assert_eq!(r.offset, i as i64);
        }
        let theirs = RecordBatchDecoder::decode(&mut Bytes::from(b.clone()));
        let theirs = theirs.map_err(|e| TestCaseError::fail(format!("kafka-protocol: {e}")))?;
        prop_assert_eq!(theirs.records.len(), count);
        for (o, t) in ours.iter().zip(&theirs.records) {
            prop_assert_eq!((&o.key, &o.value, o.timestamp), (&t.key, &t.value, t.timestamp));
        }
    }
}
