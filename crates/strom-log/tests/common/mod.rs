//! Shared helpers for the log's integration tests and the crash-test child: building record
//! batches with `kafka-protocol`'s encoder (never by hand), reading the fixed header fields
//! back out of stored bytes, and deterministic payloads that a checker can regenerate.
//!
//! Compiled into several test crates and one binary, each using a different subset.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};
use strom_log::plain_record;

/// One record to put in a test batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRecord {
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

/// Encodes `records` as exactly one v2 batch with base offset 0 (the log stamps the real one).
///
/// Panics if the encoder fails or splits the records into several batches: both would be a
/// bug in the test, not in the log.
pub fn encode_batch(records: &[TestRecord], compression: Compression) -> Vec<u8> {
    assert!(!records.is_empty(), "a batch needs at least one record");
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            partition_leader_epoch: -1,
            ..plain_record(
                i,
                r.timestamp,
                r.key.clone().map(Bytes::from),
                Some(Bytes::from(r.value.clone())),
            )
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options).expect("encoding a test batch");
    let bytes = buf.to_vec();
    let parsed = split_batches(&bytes).expect("encoder output parses");
    assert_eq!(parsed.len(), 1, "encoder produced exactly one batch");
    bytes
}

/// The header fields of one stored batch, read straight from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub base_offset: i64,
    pub batch_length: i32,
    pub magic: i8,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub record_count: i32,
    /// Byte range of the whole batch within the buffer it was split from.
    pub start: usize,
    pub end: usize,
}

impl Parsed {
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Splits a buffer of concatenated batches. `Err` describes the first inconsistency
/// (a partial batch at the end counts as one).
pub fn split_batches(bytes: &[u8]) -> Result<Vec<Parsed>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        if bytes.len() - pos < 61 {
            return Err(format!("partial header at byte {pos}"));
        }
        let b = &bytes[pos..];
        let batch_length = be_i32(b, 8);
        if batch_length < 49 {
            return Err(format!("batch length {batch_length} at byte {pos}"));
        }
        let end = pos + batch_length as usize + 12;
        if end > bytes.len() {
            return Err(format!("batch at byte {pos} runs past the end"));
        }
        out.push(Parsed {
            base_offset: be_i64(b, 0),
            batch_length,
            magic: b[16] as i8,
            last_offset_delta: be_i32(b, 23),
            base_timestamp: be_i64(b, 27),
            max_timestamp: be_i64(b, 35),
            record_count: be_i32(b, 57),
            start: pos,
            end,
        });
        pos = end;
    }
    Ok(out)
}

/// `batch` as the log is expected to store it: base offset set to `base` and, like a Kafka
/// leader does, the partition leader epoch set to this (single) leader's epoch 0. Both fields
/// lie outside the CRC-covered region; every other byte must be kept exactly.
pub fn with_base_offset(batch: &[u8], base: i64) -> Vec<u8> {
    let mut v = batch.to_vec();
    v[..8].copy_from_slice(&base.to_be_bytes());
    v[12..16].copy_from_slice(&0i32.to_be_bytes());
    v
}

/// Decodes every record of one batch (decompressing if needed).
pub fn decode_records(batch: &[u8]) -> Vec<Record> {
    let mut buf = Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut buf).expect("stored batch decodes");
    set.records
}

/// A small deterministic generator (SplitMix64), so the crash-test checker can regenerate
/// exactly the batches the child wrote from a few integers.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let x = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }
}

/// The batch the crash-test child appends as sequence number `seq` of writer `writer`:
/// a function of those two numbers only. Each value starts with `writer` and `seq` so a
/// stored batch says which one it claims to be.
pub fn writer_batch(writer: u32, seq: u64) -> Vec<u8> {
    let mut rng = SplitMix(((writer as u64) << 40) ^ seq ^ 0x5EED);
    let count = 1 + rng.below(8) as usize;
    let compression = match rng.below(4) {
        0 => Compression::Lz4,
        1 => Compression::Zstd,
        _ => Compression::None,
    };
    let records: Vec<TestRecord> = (0..count)
        .map(|i| {
            let len = 12 + rng.below(900) as usize;
            let mut value = vec![0u8; len];
            value[..4].copy_from_slice(&writer.to_be_bytes());
            value[4..12].copy_from_slice(&seq.to_be_bytes());
            rng.fill(&mut value[12..]);
            TestRecord {
                timestamp: 1_700_000_000_000 + seq as i64 * 10 + i as i64,
                key: None,
                value,
            }
        })
        .collect();
    encode_batch(&records, compression)
}

/// Which (writer, seq) a stored batch claims to come from, read from its first record.
pub fn writer_of(batch: &[u8]) -> Option<(u32, u64)> {
    let mut buf = Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut buf).ok()?;
    let value = set.records.first()?.value.as_ref()?;
    if value.len() < 12 {
        return None;
    }
    let writer = u32::from_be_bytes(value[..4].try_into().ok()?);
    let seq = u64::from_be_bytes(value[4..12].try_into().ok()?);
    Some((writer, seq))
}

/// FNV-1a, to print a short fingerprint of acknowledged bytes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
