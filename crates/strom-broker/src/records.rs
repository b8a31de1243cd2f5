//! Conversion between plain records and stored record batches, via `kafka-protocol`.
//! Used by front ends that do not speak record batches themselves (HTTP).

use bytes::Bytes;

use crate::BrokerError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    pub key: String,
    pub value: Option<Bytes>,
}

/// A record to append.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewRecord {
    pub key: Option<Bytes>,
    /// `None` is a tombstone.
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
    /// Milliseconds since the epoch; `None` means now.
    pub timestamp: Option<i64>,
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
}

/// Encodes `records` as one uncompressed record batch v2 (base offset 0, not idempotent).
pub fn encode_records(records: &[NewRecord]) -> Result<bytes::BytesMut, BrokerError> {
    let _ = records;
    todo!()
}

/// Decodes every record in `bytes` (whole batches as returned by a read, any compression).
pub fn decode_records(bytes: &Bytes) -> Result<Vec<StoredRecord>, BrokerError> {
    let _ = bytes;
    todo!()
}
