//! [`RecordReader`]: walks the records of one v2 batch from a decompressing stream, checking
//! the framing of every record (length, varints, field lengths, offset deltas rising within
//! the batch's range, exactly `record_count` records, no trailing bytes) and spending a byte budget as it goes.
//! It holds one record at a time at most, and only the fields asked for.

use std::io::Read;

use bytes::Bytes;

use super::codec::body_reader;
use super::wire::{self, stream_error};
use super::{DecodeLimits, Fields};
use crate::batch::{BatchHeader, BATCH_HEADER_LEN};
use crate::LogError;

/// The smallest encoded record: attributes, timestamp delta, offset delta, key length,
/// value length and header count, one byte each.
const MIN_RECORD_LEN: usize = 6;

/// One record, with the fields its reader was asked to materialise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord {
    pub offset: i64,
    pub timestamp: i64,
    /// Encoded length of the record (what [`DecodeLimits::max_record_bytes`] bounds).
    pub size: usize,
    /// `-1` for a null key.
    pub key_len: i32,
    /// `-1` for a null value (a tombstone).
    pub value_len: i32,
    /// Set for [`Fields::Keys`] and [`Fields::All`] when the key is not null.
    pub key: Option<Bytes>,
    /// Set for [`Fields::All`] when the value is not null.
    pub value: Option<Bytes>,
    /// Filled for [`Fields::All`].
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl DecodedRecord {
    pub fn has_key(&self) -> bool {
        self.key_len >= 0
    }
}

/// Streams the records of one batch. Iterating yields each record or the error that stops
/// the walk; `RecordTooLarge` is the one error after which iteration goes on (the record was
/// walked and skipped, so the caller can report its offset and carry on).
pub struct RecordReader<'a> {
    header: BatchHeader,
    input: Box<dyn Read + 'a>,
    fields: Fields,
    limits: DecodeLimits,
    /// Records walked so far.
    read: i32,
    /// Decompressed bytes walked so far.
    consumed: usize,
    /// Offset delta of the last record walked (-1 before the first).
    last_delta: i32,
    finished: bool,
}

impl<'a> RecordReader<'a> {
    /// A reader over `batch`, one whole batch (header and records, as produced or stored).
    /// The header's lengths must already have been checked against `batch` (see
    /// [`batches`]); the CRC is not re-checked here.
    ///
    /// Errors: `CorruptBatch` if `batch` is shorter than its header says or its codec is
    /// unknown or its stream header invalid; `DecompressedTooLarge` for a raw snappy body
    /// declaring more than the budget.
    pub fn new(batch: &'a [u8], fields: Fields, limits: DecodeLimits) -> Result<Self, LogError> {
        let header = BatchHeader::parse(batch)
            .ok_or_else(|| LogError::CorruptBatch("truncated batch header".into()))?;
        let end = header.total_len();
        if end < BATCH_HEADER_LEN || end > batch.len() {
            return Err(LogError::CorruptBatch(format!(
                "batch declares {end} bytes but {} are present",
                batch.len()
            )));
        }
        let body = &batch[BATCH_HEADER_LEN..end];
        let input = body_reader(header.compression(), body, limits.max_batch_bytes)?;
        Ok(RecordReader {
            header,
            input,
            fields,
            limits,
            read: 0,
            consumed: 0,
            last_delta: -1,
            finished: false,
        })
    }

    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Decompressed bytes walked so far.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// The next record, `Ok(None)` after the last (once the stream is checked to end there).
    pub fn next_record(&mut self) -> Result<Option<DecodedRecord>, LogError> {
        if self.finished {
            return Ok(None);
        }
        let result = if self.read >= self.header.record_count {
            self.check_end().map(|()| None)
        } else {
            self.record().map(Some)
        };
        if !matches!(result, Ok(Some(_)) | Err(LogError::RecordTooLarge { .. })) {
            self.finished = true;
        }
        result
    }

    /// After the declared records, the stream must end (this also makes gzip and zstd check
    /// their trailers).
    fn check_end(&mut self) -> Result<(), LogError> {
        let mut probe = [0u8; 1];
        let n = self
            .input
            .read(&mut probe)
            .map_err(|e| stream_error(e, "end of the batch", self.limits.max_batch_bytes))?;
        if n != 0 {
            return Err(LogError::InvalidRecord {
                reason: format!(
                    "batch declares {} records but holds more data after them",
                    self.header.record_count
                ),
            });
        }
        Ok(())
    }

    fn record(&mut self) -> Result<DecodedRecord, LogError> {
        let budget = self.limits.max_batch_bytes;
        let Some((len, len_bytes)) = wire::varint_or_end(&mut self.input, budget)? else {
            return Err(LogError::InvalidRecord {
                reason: format!(
                    "batch declares {} records but holds {}",
                    self.header.record_count, self.read
                ),
            });
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l >= MIN_RECORD_LEN)
            .ok_or_else(|| LogError::CorruptBatch(format!("record length {len} is invalid")))?;
        self.consumed = self.consumed.saturating_add(len_bytes + len);
        if self.consumed > budget {
            return Err(LogError::DecompressedTooLarge { max: budget });
        }
        let offset_base = self.header.base_offset;
        let base_timestamp = self.header.base_timestamp;
        let index = self.read;
        self.read += 1;
        let mut body = (&mut self.input as &mut dyn Read).take(len as u64);
        let parsed = parse_record(&mut body, len, self.fields, &self.limits)?;
        if body.limit() != 0 {
            return Err(LogError::CorruptBatch(format!(
                "record {index} declares {len} bytes but its fields use {}",
                len as u64 - body.limit()
            )));
        }
        // Deltas rise strictly within the batch's range. Compaction leaves gaps in stored
        // batches; a produced batch also has `record_count == last_offset_delta + 1`
        // (checked with its header), which makes its deltas exactly 0, 1, 2...
        let delta = parsed.offset_delta;
        if delta <= self.last_delta || delta > self.header.last_offset_delta {
            return Err(LogError::InvalidRecord {
                reason: format!(
                    "record {index} has offset delta {delta} after {}, in a batch whose last \
                     offset delta is {}",
                    self.last_delta, self.header.last_offset_delta
                ),
            });
        }
        self.last_delta = delta;
        let offset = offset_base + i64::from(delta);
        let timestamp = base_timestamp
            .checked_add(parsed.timestamp_delta)
            .ok_or_else(|| LogError::InvalidRecord {
                reason: format!("record {index} timestamp overflows"),
            })?;
        if parsed.too_large {
            return Err(LogError::RecordTooLarge {
                offset,
                size: len,
                max: self.limits.max_record_bytes,
            });
        }
        Ok(DecodedRecord {
            offset,
            timestamp,
            size: len,
            key_len: parsed.key_len,
            value_len: parsed.value_len,
            key: parsed.key,
            value: parsed.value,
            headers: parsed.headers,
        })
    }
}

impl Iterator for RecordReader<'_> {
    type Item = Result<DecodedRecord, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// The fields of one record as parsed from its length-limited body.
struct Parsed {
    timestamp_delta: i64,
    offset_delta: i32,
    key_len: i32,
    value_len: i32,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<(String, Option<Bytes>)>,
    too_large: bool,
}

fn parse_record(
    body: &mut dyn Read,
    len: usize,
    fields: Fields,
    limits: &DecodeLimits,
) -> Result<Parsed, LogError> {
    let budget = limits.max_batch_bytes;
    let mut attributes = [0u8; 1];
    body.read_exact(&mut attributes)
        .map_err(|e| stream_error(e, "record attributes", budget))?;
    let (timestamp_delta, _) = wire::varint(body, 10, "timestamp delta", budget)?;
    let offset_delta = wire::varint_i32(body, "offset delta", budget)?;
    let mut too_large = fields == Fields::All && len > limits.max_record_bytes;
    let key_len = length(body, "key length", budget)?;
    too_large |=
        fields == Fields::Keys && key_len > 0 && key_len as usize > limits.max_record_bytes;
    let keep = !too_large && fields != Fields::Skip;
    let key = field(body, key_len, keep, "key", budget)?;
    let value_len = length(body, "value length", budget)?;
    let value = field(
        body,
        value_len,
        keep && fields == Fields::All,
        "value",
        budget,
    )?;
    let count = wire::varint_i32(body, "header count", budget)?;
    let count = usize::try_from(count).map_err(|_| LogError::InvalidRecord {
        reason: format!("header count {count} is negative"),
    })?;
    let mut headers = Vec::new();
    for _ in 0..count {
        let key_len = length(body, "header key length", budget)?;
        if key_len < 0 {
            return Err(LogError::InvalidRecord {
                reason: "a header key is null".into(),
            });
        }
        let keep_headers = keep && fields == Fields::All;
        let name = if keep_headers {
            let raw = wire::bytes(body, key_len as usize, "header key", budget)?;
            String::from_utf8(raw.to_vec()).map_err(|_| LogError::InvalidRecord {
                reason: "a header key is not UTF-8".into(),
            })?
        } else {
            wire::skip_utf8(body, key_len as usize, "header key", budget)?;
            String::new()
        };
        let value_len = length(body, "header value length", budget)?;
        let value = field(body, value_len, keep_headers, "header value", budget)?;
        if keep_headers {
            headers.push((name, value));
        }
    }
    Ok(Parsed {
        timestamp_delta,
        offset_delta,
        key_len,
        value_len,
        key,
        value,
        headers,
        too_large,
    })
}

/// A field length: `-1` (null) or more.
fn length(body: &mut dyn Read, what: &str, budget: usize) -> Result<i32, LogError> {
    let len = wire::varint_i32(body, what, budget)?;
    if len < -1 {
        return Err(LogError::InvalidRecord {
            reason: format!("{what} {len} is negative"),
        });
    }
    Ok(len)
}

/// Reads (`keep`) or skips a field of `len` bytes; `len` was bounded by the record length,
/// which the `Take` around `body` enforces before anything is allocated past it.
fn field(
    body: &mut dyn Read,
    len: i32,
    keep: bool,
    what: &str,
    budget: usize,
) -> Result<Option<Bytes>, LogError> {
    let Ok(len) = usize::try_from(len) else {
        return Ok(None);
    };
    if keep {
        wire::bytes(body, len, what, budget).map(Some)
    } else {
        wire::skip(body, len, what, budget).map(|()| None)
    }
}

/// Splits concatenated batches (as a read or a produce request holds them) into whole
/// batches, checking each one's declared length against the buffer.
pub fn batches(mut bytes: &[u8]) -> impl Iterator<Item = Result<&[u8], LogError>> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let Some(header) = BatchHeader::parse(bytes) else {
            bytes = &[];
            return Some(Err(LogError::CorruptBatch("truncated batch header".into())));
        };
        let total = header.total_len();
        if total < BATCH_HEADER_LEN || total > bytes.len() {
            bytes = &[];
            return Some(Err(LogError::CorruptBatch(format!(
                "batch declares {total} bytes but {} remain",
                bytes.len()
            ))));
        }
        let (batch, rest) = bytes.split_at(total);
        bytes = rest;
        Some(Ok(batch))
    })
}
