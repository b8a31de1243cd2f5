//! Reading and validating the fixed header of a Kafka record batch v2 (KIP-98 layout),
//! and stamping its base offset. Record encoding/decoding is left to `kafka-protocol`.

/// Size of the fixed v2 batch header, up to and including the record count.
pub const BATCH_HEADER_LEN: usize = 61;

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
