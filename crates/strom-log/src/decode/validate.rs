//! Produce-time validation of a batch's inner records, the checks Kafka's broker-side
//! `LogValidator` makes: the codec decodes cleanly within the budget, every record is well
//! framed, offset deltas run from 0 and their count matches the header, no record claims a
//! timestamp above the batch's max timestamp (the time index relies on it). Walks records
//! without holding any of them.

use super::{DecodeLimits, Fields, RecordReader};
use crate::batch::BatchHeader;
use crate::LogError;

/// Timestamp type bit of the batch attributes: set means LogAppendTime, whose records'
/// own timestamps are not used.
const LOG_APPEND_TIME: i16 = 0x08;

/// Walks every record of `batch` (whose header, lengths and CRC were already checked).
///
/// Errors: `CorruptBatch` (codec, framing), `InvalidRecord` (counts, offset deltas, lengths,
/// timestamps, headers), `DecompressedTooLarge` (over `limits.max_batch_bytes`).
pub(crate) fn validate_records(
    header: &BatchHeader,
    batch: &[u8],
    limits: DecodeLimits,
) -> Result<(), LogError> {
    let mut reader = RecordReader::new(batch, Fields::Skip, limits)?;
    let create_time = header.attributes & LOG_APPEND_TIME == 0;
    while let Some(record) = reader.next_record()? {
        if create_time && record.timestamp > header.max_timestamp {
            return Err(LogError::InvalidRecord {
                reason: format!(
                    "record at offset delta {} has timestamp {} above the batch's max timestamp {}",
                    record.offset - header.base_offset,
                    record.timestamp,
                    header.max_timestamp
                ),
            });
        }
    }
    Ok(())
}
