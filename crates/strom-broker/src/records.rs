//! Conversion between plain records and stored record batches: encoding via
//! `kafka-protocol`, decoding through strom-log's bounded streaming reader. Used by front ends
//! that do not speak record batches themselves (HTTP, internal topics).

use std::ops::ControlFlow;

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions};
use strom_log::{BatchHeader, DecodeLimits, Fields, LogError, RecordReader};

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
            headers,
            ..strom_log::plain_record(
                i,
                r.timestamp.unwrap_or(now),
                r.key.clone(),
                r.value.clone(),
            )
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
/// compression) within the default [`DecodeLimits`]; at most `max_batch_bytes` of record data
/// is held in total. Control batches (transaction markers) are skipped.
///
/// Errors: `Log(CorruptBatch | InvalidRecord | DecompressedTooLarge)` naming the batch's
/// offsets, `Log(RecordTooLarge)` naming the record's offset.
pub fn decode_records(bytes: &Bytes) -> Result<Vec<StoredRecord>, BrokerError> {
    let limits = DecodeLimits::default();
    let mut out = Vec::new();
    let mut held = 0usize;
    let mut failed = None;
    for_each_record(bytes, limits, &mut |r| match r {
        Ok(r) => {
            held += r.size;
            if held > limits.max_batch_bytes {
                failed = Some(LogError::DecompressedTooLarge {
                    max: limits.max_batch_bytes,
                });
                return ControlFlow::Break(());
            }
            out.push(r.record);
            ControlFlow::Continue(())
        }
        Err(e) => {
            failed = Some(e);
            ControlFlow::Break(())
        }
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(out),
    }
}

/// A decoded record with its encoded size (what the limits count).
pub struct SizedRecord {
    pub record: StoredRecord,
    pub size: usize,
}

/// Walks the data records in `bytes` (whole batches, any compression) one at a time through
/// the bounded reader, calling `f` with each record or with `RecordTooLarge` for a record
/// above `limits.max_record_bytes` (walked past, so `f` may go on). `f` returns `Break` to
/// stop early. Holds one record at a time.
///
/// Errors: a batch that cannot be walked, as `Log(CorruptBatch | InvalidRecord |
/// DecompressedTooLarge)` with the batch's offsets in the message.
pub fn for_each_record(
    bytes: &[u8],
    limits: DecodeLimits,
    f: &mut dyn FnMut(Result<SizedRecord, LogError>) -> ControlFlow<()>,
) -> Result<(), BrokerError> {
    for batch in strom_log::decode::batches(bytes) {
        let batch = batch?;
        let Some(header) = BatchHeader::parse(batch) else {
            continue;
        };
        if header.is_control() {
            continue;
        }
        let walked = walk_batch(batch, limits, f);
        match walked {
            Ok(ControlFlow::Break(())) => return Ok(()),
            Ok(ControlFlow::Continue(())) => {}
            Err(e) => return Err(BrokerError::Log(in_batch(&header, e))),
        }
    }
    Ok(())
}

fn walk_batch(
    batch: &[u8],
    limits: DecodeLimits,
    f: &mut dyn FnMut(Result<SizedRecord, LogError>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, LogError> {
    let mut reader = RecordReader::new(batch, Fields::All, limits)?;
    loop {
        let item = match reader.next_record() {
            Ok(None) => return Ok(ControlFlow::Continue(())),
            Ok(Some(r)) => Ok(SizedRecord {
                size: r.size,
                record: StoredRecord {
                    offset: r.offset,
                    timestamp: r.timestamp,
                    key: r.key,
                    value: r.value,
                    headers: r
                        .headers
                        .into_iter()
                        .map(|(key, value)| RecordHeader { key, value })
                        .collect(),
                },
            }),
            Err(e @ LogError::RecordTooLarge { .. }) => Err(e),
            Err(e) => return Err(e),
        };
        if f(item).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
}

/// Names the batch an error of the reader came from, so a reader can skip past it.
fn in_batch(header: &BatchHeader, err: LogError) -> LogError {
    match err {
        LogError::CorruptBatch(reason) => LogError::CorruptBatch(format!(
            "stored batch at offsets {}..={}: {reason}",
            header.base_offset,
            header.last_offset()
        )),
        LogError::InvalidRecord { reason } => LogError::InvalidRecord {
            reason: format!(
                "stored batch at offsets {}..={}: {reason}",
                header.base_offset,
                header.last_offset()
            ),
        },
        LogError::DecompressedTooLarge { .. } => LogError::CorruptBatch(format!(
            "stored batch at offsets {}..={}: {err}",
            header.base_offset,
            header.last_offset()
        )),
        other => other,
    }
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
