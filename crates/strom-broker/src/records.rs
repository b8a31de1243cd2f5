//! Conversion between plain records and stored record batches, via `kafka-protocol`.
//! Used by front ends that do not speak record batches themselves (HTTP, internal topics).

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

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

pub(crate) use strom_log::now_ms;

/// Encodes `records` as one uncompressed record batch v2 (base offset 0, not idempotent).
///
/// Errors: `InvalidRecord` for an empty list or duplicate header keys (the encoder keeps
/// headers in a map, so a repeated key would be silently dropped otherwise).
pub fn encode_records(records: &[NewRecord]) -> Result<BytesMut, BrokerError> {
    if records.is_empty() {
        return Err(BrokerError::InvalidRecord("no records to append".into()));
    }
    let now = now_ms();
    let mut encoded = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let mut headers = indexmap::IndexMap::new();
        for h in &r.headers {
            if headers
                .insert(StrBytes::from_string(h.key.clone()), h.value.clone())
                .is_some()
            {
                return Err(BrokerError::InvalidRecord(format!(
                    "record {i} repeats header '{}'",
                    h.key
                )));
            }
        }
        encoded.push(Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder puts records into one batch while offset - sequence stays constant;
            // this keeps the batch's base sequence at -1 (not idempotent).
            sequence: i as i32 - 1,
            timestamp: r.timestamp.unwrap_or(now),
            key: r.key.clone(),
            value: r.value.clone(),
            headers,
        });
    }
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        encoded.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| BrokerError::InvalidRecord(format!("cannot encode records: {e}")))?;
    Ok(buf)
}

/// Decodes every data record in `bytes` (whole batches as returned by a read, any
/// compression). Control batches (transaction markers) are skipped.
pub fn decode_records(bytes: &Bytes) -> Result<Vec<StoredRecord>, BrokerError> {
    let mut buf = bytes.clone();
    let sets = RecordBatchDecoder::decode_all(&mut buf)
        .map_err(|e| BrokerError::InvalidRecord(format!("cannot decode stored records: {e}")))?;
    let mut out = Vec::new();
    for set in sets {
        for r in set.records {
            if r.control {
                continue;
            }
            out.push(StoredRecord {
                offset: r.offset,
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
                headers: r
                    .headers
                    .into_iter()
                    .map(|(k, v)| RecordHeader {
                        key: k.to_string(),
                        value: v,
                    })
                    .collect(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_in_one_batch() {
        let records = vec![
            NewRecord {
                key: Some(Bytes::from_static(b"k1")),
                value: Some(Bytes::from_static(b"v1")),
                headers: vec![RecordHeader {
                    key: "h".into(),
                    value: Some(Bytes::from_static(b"x")),
                }],
                timestamp: Some(5),
            },
            NewRecord {
                key: Some(Bytes::from_static(b"k2")),
                value: None,
                headers: vec![],
                timestamp: Some(6),
            },
        ];
        let buf = encode_records(&records).expect("encode");
        let header = strom_log::BatchHeader::parse(&buf).expect("header");
        assert_eq!(header.record_count, 2);
        assert_eq!(header.total_len(), buf.len(), "exactly one batch");
        assert_eq!(header.base_sequence, -1);
        let back = decode_records(&buf.freeze()).expect("decode");
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].headers[0].key, "h");
        assert_eq!(back[1].value, None);
        assert_eq!(back[1].offset, 1);
    }

    #[test]
    fn duplicate_header_keys_are_rejected() {
        let h = RecordHeader {
            key: "a".into(),
            value: None,
        };
        let r = NewRecord {
            headers: vec![h.clone(), h],
            ..Default::default()
        };
        assert!(encode_records(&[r]).is_err());
    }
}
