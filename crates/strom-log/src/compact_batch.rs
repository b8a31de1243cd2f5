//! The cleaner's view of one stored batch, through the bounded record reader: the keys it
//! holds (for the key map), and the batch re-encoded without the records the cleaner drops.
//! Keys are walked one record at a time; only a batch that actually loses records is
//! materialised, and then at most [`crate::DecodeLimits::max_batch_bytes`] of it. Decides
//! nothing about which records to keep (compaction.rs does).

use bytes::BytesMut;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::batch::BatchHeader;
use crate::{DecodeLimits, DecodedRecord, Fields, LogError, RecordReader};

const TRANSACTIONAL: i16 = 0x10;
const LOG_APPEND_TIME: i16 = 0x08;
const DELETE_HORIZON: i16 = 0x40;

/// Calls `f` with each record of `batch` (key materialised, bounded by
/// `limits.max_record_bytes`; value not).
///
/// Errors: whatever the reader reports for a batch it cannot walk within `limits`.
pub(crate) fn for_each_keyed(
    batch: &[u8],
    limits: DecodeLimits,
    f: &mut dyn FnMut(&DecodedRecord),
) -> Result<(), LogError> {
    let mut reader = RecordReader::new(batch, Fields::Keys, limits)?;
    while let Some(record) = reader.next_record()? {
        f(&record);
    }
    Ok(())
}

/// `batch` re-encoded with only the records `keep` (by offset) selects, same codec and
/// producer fields; empty if none is kept. Holds the kept records, bounded by
/// `limits.max_batch_bytes` in total.
pub(crate) fn rewrite(
    header: &BatchHeader,
    batch: &[u8],
    limits: DecodeLimits,
    keep: &dyn Fn(i64) -> bool,
) -> Result<BytesMut, LogError> {
    // Any one record may be as large as the whole budget here: this is the cleaner, which
    // must be able to rewrite every batch produce accepted.
    let whole = DecodeLimits {
        max_record_bytes: limits.max_batch_bytes,
        ..limits
    };
    let mut reader = RecordReader::new(batch, Fields::All, whole)?;
    let mut kept = Vec::new();
    while let Some(r) = reader.next_record()? {
        if keep(r.offset) {
            kept.push(to_record(header, r));
        }
    }
    if !header.has_producer_id() {
        // A plain producer's batch has base sequence -1. The encoder derives it from the first
        // kept record's sequence, so renumber from there; consecutive values also keep the
        // encoder's one-batch grouping (it splits when offset - sequence changes).
        if let Some(first) = kept.first().map(|r: &Record| r.offset) {
            for r in kept.iter_mut() {
                r.sequence = (r.offset - first) as i32 - 1;
            }
        }
    }
    let mut encoded = BytesMut::new();
    if !kept.is_empty() {
        RecordBatchEncoder::encode(
            &mut encoded,
            kept.iter(),
            &RecordEncodeOptions {
                version: 2,
                compression: compression(header.compression()),
            },
        )
        .map_err(|e| LogError::CorruptBatch(format!("cannot re-encode: {e}")))?;
    }
    Ok(encoded)
}

fn to_record(header: &BatchHeader, r: DecodedRecord) -> Record {
    let delta = (r.offset - header.base_offset) as i32;
    Record {
        transactional: header.attributes & TRANSACTIONAL != 0,
        control: header.is_control(),
        delete_horizon: header.attributes & DELETE_HORIZON != 0,
        partition_leader_epoch: header.partition_leader_epoch,
        producer_id: header.producer_id,
        producer_epoch: header.producer_epoch,
        timestamp_type: if header.attributes & LOG_APPEND_TIME != 0 {
            TimestampType::LogAppend
        } else {
            TimestampType::Creation
        },
        offset: r.offset,
        sequence: header.base_sequence.wrapping_add(delta),
        timestamp: r.timestamp,
        key: r.key,
        value: r.value,
        headers: r
            .headers
            .into_iter()
            .map(|(k, v)| (kafka_protocol::protocol::StrBytes::from_string(k), v))
            .collect(),
    }
}

fn compression(codec: i16) -> Compression {
    match codec {
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        _ => Compression::None,
    }
}
