//! Produce-time validation of a batch's inner records, the checks Kafka's broker-side
//! `LogValidator` makes: the codec decodes cleanly within the budget, every record is well
//! framed, offset deltas run from 0 and their count matches the header. It also finds the
//! records' highest timestamp: a batch whose max timestamp understates it (Sarama 1.22 sends
//! -1) gets it raised by the appender, as Kafka's validator rewrites the max timestamp (the
//! time index relies on it). Walks records without holding any of them.

use super::{DecodeLimits, Fields, RecordReader};
use crate::batch::BatchHeader;
use crate::LogError;

/// Timestamp type bit of the batch attributes: set means LogAppendTime, whose records'
/// own timestamps are not used.
const LOG_APPEND_TIME: i16 = 0x08;

/// Walks every record of `batch` (whose header, lengths and CRC were already checked) and
/// returns the max timestamp the batch must carry: the header's, or the highest record
/// timestamp if that is above it (CreateTime batches only).
///
/// Errors: `CorruptBatch` (codec, framing), `InvalidRecord` (counts, offset deltas, lengths,
/// headers), `DecompressedTooLarge` (over `limits.max_batch_bytes`).
pub(crate) fn validate_records(
    header: &BatchHeader,
    batch: &[u8],
    limits: DecodeLimits,
) -> Result<i64, LogError> {
    let mut reader = RecordReader::new(batch, Fields::Skip, limits)?;
    let create_time = header.attributes & LOG_APPEND_TIME == 0;
    let mut max_timestamp = header.max_timestamp;
    while let Some(record) = reader.next_record()? {
        if create_time {
            max_timestamp = max_timestamp.max(record.timestamp);
        }
    }
    Ok(max_timestamp)
}
