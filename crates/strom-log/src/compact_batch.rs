//! The cleaner's view of one stored batch, through the bounded record reader: the keys it
//! holds (for the key map), and the batch re-encoded without the records the cleaner drops.
//! Keys are walked one record at a time; only a batch that actually loses records is
//! materialised, and then at most [`crate::DecodeLimits::max_batch_bytes`] of it. Decides
//! nothing about which records to keep (compaction.rs does).

use bytes::BytesMut;

use crate::batch::BatchHeader;
use crate::encode::{rewrite_batch, Rewritten};
use crate::{DecodeLimits, DecodedRecord, Fields, LogError, RecordReader};

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
/// producer fields, and `delete_horizon` written into its base timestamp when given
/// (KIP-534); empty if none is kept. Holds the kept records, bounded by
/// `limits.max_batch_bytes` in total.
pub(crate) fn rewrite(
    header: &BatchHeader,
    batch: &[u8],
    limits: DecodeLimits,
    keep: &dyn Fn(i64) -> bool,
    delete_horizon: Option<i64>,
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
            kept.push(r);
        }
    }
    let w = Rewritten {
        header,
        delete_horizon,
    };
    rewrite_batch(&w, &kept)
}
