//! Transaction markers: the control batches (attributes transactional + control, one record
//! whose key is version 0 + type, whose value is version 0 + coordinator epoch) that EndTxn
//! writes to every partition of a transaction, as Kafka's `EndTransactionMarker`.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::partition_txn::ControlType;
use crate::BrokerError;

/// Encodes one marker batch for producer `pid` at `epoch`.
/// Errors: `InvalidRecord` if the encoder fails (it does not for these inputs).
pub(crate) fn encode_marker(
    pid: i64,
    epoch: i16,
    control: ControlType,
    coordinator_epoch: i32,
) -> Result<Vec<u8>, BrokerError> {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(control.code());
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(coordinator_epoch);
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: pid,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: crate::records::now_ms(),
        key: Some(Bytes::from(key)),
        value: Some(Bytes::from(value)),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        std::iter::once(&record),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| BrokerError::InvalidRecord(format!("cannot encode a marker: {e}")))?;
    Ok(buf.to_vec())
}
