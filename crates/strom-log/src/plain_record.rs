//! [`plain_record`]: one record of a plain batch (no producer id: neither idempotent nor
//! transactional), as `kafka-protocol`'s encoder takes it. The broker encodes the records of
//! its HTTP and internal writes with it, and the tests build their batches with it.

use bytes::Bytes;
use kafka_protocol::records::{Record, TimestampType};

/// The `index`-th record of a plain CreateTime batch (leader epoch 0). The encoder keeps
/// records in one batch while offset minus sequence stays constant; a sequence of
/// `index - 1` keeps the batch's base sequence at -1 (not idempotent).
pub fn plain_record(
    index: usize,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: index as i64,
        sequence: index as i32 - 1,
        timestamp,
        key,
        value,
        headers: Default::default(),
    }
}
