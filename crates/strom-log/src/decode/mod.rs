//! The one way Strom looks inside a record batch: a streaming record reader with a byte
//! budget. It decompresses incrementally (gzip, snappy xerial or raw, LZ4 frame, zstd), walks
//! the records one by one and materialises only the fields its caller asks for, each bounded by
//! [`DecodeLimits::max_record_bytes`]. Produce validation, compaction, time lookups and every
//! front-end read go through it, so memory per decode is bounded whatever the compression
//! ratio. This module owns the record (not batch header) layout; it never writes.

mod codec;
mod reader;
mod validate;
mod wire;

pub(crate) use codec::body_reader;
pub use codec::ZSTD_WINDOW_LOG_MAX;
pub use reader::{batches, DecodedRecord, RecordReader};
pub(crate) use validate::validate_records;

/// Default [`DecodeLimits::max_batch_bytes`]: 64 MiB, 64 times Kafka's default
/// `max.message.bytes`, far above what producers send.
pub const DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Default [`DecodeLimits::max_record_bytes`]: 16 MiB.
pub const DEFAULT_MAX_DECODED_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// Bounds on decoding one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most bytes a batch's records section may decompress to. A produced batch above it is
    /// refused (`DecompressedTooLarge`); a stored one stops its reader with that error.
    pub max_batch_bytes: usize,
    /// Most bytes of one record (its encoded length) that a reader materialises. A longer
    /// record is still walked (so the reader can go on past it) but reported as
    /// `RecordTooLarge` with its offset instead of being returned.
    pub max_record_bytes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_batch_bytes: DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES,
            max_record_bytes: DEFAULT_MAX_DECODED_RECORD_BYTES,
        }
    }
}

/// Which parts of each record the reader hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    /// Only offsets, timestamps and lengths: validation, time lookups. Holds no record.
    Skip,
    /// The key as well (compaction).
    Keys,
    /// Key, value and headers (rendering records for a client).
    All,
}
#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod tests;
