//! Reading and validating the fixed header of a Kafka record batch v2 (the KIP-98 layout),
//! and stamping its base offset. Encoding and decoding the records inside a batch is left to
//! `kafka-protocol`; this module only reads the fixed-position header fields that the log
//! needs on its hot path (lengths, offsets, timestamps, CRC).

use crate::decode::{validate_records, DecodeLimits};
use crate::LogError;

/// Size of the fixed v2 batch header, up to and including the record count.
pub const BATCH_HEADER_LEN: usize = 61;

/// Bytes before the part that `batch_length` counts (base offset + length field).
pub(crate) const LOG_OVERHEAD: usize = 12;

// Field positions of the v2 header. The CRC covers everything from `attributes` to the end.
const LENGTH_POS: usize = 8;
const LEADER_EPOCH_POS: usize = 12;
const MAGIC_POS: usize = 16;
const CRC_POS: usize = 17;
const ATTRIBUTES_POS: usize = 21;
const MAX_TIMESTAMP_POS: usize = 35;
const COMPRESSION_MASK: i16 = 0x07;

/// The fixed fields of a record batch v2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Bytes after the length field; the whole batch is `batch_length + 12` bytes.
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Parses the fixed header from the first [`BATCH_HEADER_LEN`] bytes of `buf`.
    /// Returns `None` if `buf` is shorter than that.
    pub fn parse(buf: &[u8]) -> Option<BatchHeader> {
        if buf.len() < BATCH_HEADER_LEN {
            return None;
        }
        Some(BatchHeader {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, LENGTH_POS),
            partition_leader_epoch: be_i32(buf, LEADER_EPOCH_POS),
            magic: buf[MAGIC_POS] as i8,
            crc: be_i32(buf, CRC_POS) as u32,
            attributes: be_i16(buf, ATTRIBUTES_POS),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_POS),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            record_count: be_i32(buf, 57),
        })
    }

    /// Total size of the batch in bytes, including the offset and length fields.
    pub fn total_len(&self) -> usize {
        self.batch_length.max(0) as usize + LOG_OVERHEAD
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> i16 {
        self.attributes & COMPRESSION_MASK
    }

    /// Whether this is a transactional or idempotent batch carrying a producer id.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// The delete horizon the cleaner wrote into the base timestamp (KIP-534), if any.
    pub fn delete_horizon(&self) -> Option<i64> {
        (self.attributes & 0x40 != 0).then_some(self.base_timestamp)
    }

    /// Whether the batch is a control batch (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }
}

fn corrupt(msg: impl Into<String>) -> LogError {
    LogError::CorruptBatch(msg.into())
}

/// Validates one or more concatenated batches as a producer sent them and returns their
/// headers. Checks: magic 2, each length consistent with the buffer, CRC32C, a positive record
/// count matching `last_offset_delta + 1`, then every inner record, compressed or not (see
/// [`validate_records`]), within `limits`. A returned header's `max_timestamp` is the one the
/// batch must carry; [`fix_max_timestamps`] writes it where the bytes understate it.
pub(crate) fn validate_batches(
    buf: &[u8],
    limits: DecodeLimits,
) -> Result<Vec<BatchHeader>, LogError> {
    let mut headers = Vec::with_capacity(1);
    let mut pos = 0usize;
    if buf.is_empty() {
        return Err(corrupt("empty record set"));
    }
    while pos < buf.len() {
        let rest = &buf[pos..];
        let header = BatchHeader::parse(rest).ok_or_else(|| {
            corrupt(format!(
                "truncated batch header at byte {pos}: {} bytes left, need {BATCH_HEADER_LEN}",
                rest.len()
            ))
        })?;
        validate_one(&header, rest, pos)?;
        let max_timestamp = validate_records(&header, &rest[..header.total_len()], limits)?;
        pos += header.total_len();
        headers.push(BatchHeader {
            max_timestamp,
            ..header
        });
    }
    Ok(headers)
}

/// Raises each batch's stored max timestamp to its header's (from [`validate_batches`]) where
/// the bytes understate it, and recomputes that batch's CRC, as Kafka's `LogValidator` does
/// (`setMaxTimestamp`). Sarama 1.22 sends -1 there. Batches already right stay byte for byte.
pub(crate) fn fix_max_timestamps(buf: &mut [u8], headers: &mut [BatchHeader]) {
    let mut pos = 0usize;
    for h in headers.iter_mut() {
        let len = h.total_len();
        let batch = &mut buf[pos..pos + len];
        if be_i64(batch, MAX_TIMESTAMP_POS) != h.max_timestamp {
            batch[MAX_TIMESTAMP_POS..MAX_TIMESTAMP_POS + 8]
                .copy_from_slice(&h.max_timestamp.to_be_bytes());
            h.crc = crc32c::crc32c(&batch[ATTRIBUTES_POS..]);
            batch[CRC_POS..CRC_POS + 4].copy_from_slice(&h.crc.to_be_bytes());
        }
        pos += len;
    }
}

/// Validates the batch that starts at `bytes[0]` (with `header` already parsed from it).
pub(crate) fn validate_one(header: &BatchHeader, bytes: &[u8], at: usize) -> Result<(), LogError> {
    if header.magic != 2 {
        return Err(corrupt(format!(
            "batch at byte {at} has magic {}, only v2 (magic 2) is supported",
            header.magic
        )));
    }
    if header.batch_length < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32 {
        return Err(corrupt(format!(
            "batch at byte {at} declares length {} below the header size",
            header.batch_length
        )));
    }
    let total = header.total_len();
    if total > bytes.len() {
        return Err(corrupt(format!(
            "batch at byte {at} declares {total} bytes but only {} are present",
            bytes.len()
        )));
    }
    let computed = crc32c::crc32c(&bytes[ATTRIBUTES_POS..total]);
    if computed != header.crc {
        return Err(corrupt(format!(
            "batch at byte {at} fails its CRC32C check (stored {:#010x}, computed {computed:#010x})",
            header.crc
        )));
    }
    // Kafka's LogValidator: a count that disagrees with the offset range is an invalid record
    // ("Inconsistent batch offset range"), compressed or not; only framing and CRC are corrupt.
    if header.record_count <= 0 || header.last_offset_delta != header.record_count - 1 {
        return Err(LogError::InvalidRecord {
            reason: format!(
                "batch at byte {at} has record count {} and last offset delta {}",
                header.record_count, header.last_offset_delta
            ),
        });
    }
    if header.compression() > 4 {
        return Err(corrupt(format!(
            "batch at byte {at} uses unknown compression codec {}",
            header.compression()
        )));
    }
    Ok(())
}

/// Writes `base_offset` into a batch (outside the CRC-covered region) and resets the
/// partition leader epoch, which a single-node log does not use.
pub(crate) fn stamp(batch: &mut [u8], base_offset: i64) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[LEADER_EPOCH_POS..LEADER_EPOCH_POS + 4].copy_from_slice(&0i32.to_be_bytes());
}

/// Checks a batch read back from a segment during recovery: header sane and CRC matching.
pub(crate) fn verify_stored(bytes: &[u8]) -> Result<BatchHeader, String> {
    let header = BatchHeader::parse(bytes).ok_or("truncated header")?;
    if header.magic != 2 {
        return Err(format!("magic {}", header.magic));
    }
    if header.batch_length < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32 {
        return Err(format!("length {}", header.batch_length));
    }
    let total = header.total_len();
    if total > bytes.len() {
        return Err("truncated batch".into());
    }
    if crc32c::crc32c(&bytes[ATTRIBUTES_POS..total]) != header.crc {
        return Err("CRC mismatch".into());
    }
    if header.last_offset_delta < 0 {
        return Err(format!("last offset delta {}", header.last_offset_delta));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plain_record;
    use bytes::BytesMut;
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions};

    pub(crate) fn batch(n: usize, compression: Compression) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| {
                plain_record(
                    i,
                    1_000 + i as i64,
                    Some(bytes::Bytes::from(format!("k{i}"))),
                    Some(bytes::Bytes::from(vec![b'v'; 10])),
                )
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut buf, records.iter(), &options).expect("encode");
        buf.to_vec()
    }

    #[test]
    fn valid_batches_pass_and_report_headers() {
        let mut two = batch(3, Compression::None);
        two.extend(batch(2, Compression::Gzip));
        let headers = validate_batches(&two, DecodeLimits::default()).expect("valid");
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].record_count, 3);
        assert_eq!(headers[1].compression(), 1);
        assert_eq!(headers[1].max_timestamp, 1_001);
    }

    #[test]
    fn bit_flip_fails_crc() {
        let mut b = batch(3, Compression::None);
        let last = b.len() - 1;
        b[last] ^= 0x01;
        let err = validate_batches(&b, DecodeLimits::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("CRC32C"), "{err}");
    }

    #[test]
    fn truncation_and_bad_magic_are_rejected() {
        let b = batch(3, Compression::None);
        assert!(validate_batches(&b[..b.len() - 1], DecodeLimits::default()).is_err());
        assert!(validate_batches(&b[..20], DecodeLimits::default()).is_err());
        let mut m = b.clone();
        m[MAGIC_POS] = 1;
        assert!(validate_batches(&m, DecodeLimits::default())
            .unwrap_err()
            .to_string()
            .contains("magic"));
        assert!(validate_batches(&[], DecodeLimits::default()).is_err());
    }

    #[test]
    fn record_count_mismatch_is_rejected_even_with_valid_crc() {
        let mut b = batch(3, Compression::None);
        // Claim 4 records (and a matching delta) but recompute the CRC so only the count is wrong.
        b[57..61].copy_from_slice(&4i32.to_be_bytes());
        b[23..27].copy_from_slice(&3i32.to_be_bytes());
        let crc = crc32c::crc32c(&b[ATTRIBUTES_POS..]);
        b[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
        let err = validate_batches(&b, DecodeLimits::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds 3"), "{err}");
    }

    #[test]
    fn stamping_keeps_crc_valid() {
        let mut b = batch(2, Compression::None);
        stamp(&mut b, 12345);
        let h = verify_stored(&b).expect("still valid");
        assert_eq!(h.base_offset, 12345);
        assert_eq!(h.last_offset(), 12346);
    }
}
