//! What a topic's configs ask of each append beyond the log's own validation: keys on
//! compacted topics, CreateTime bounds (`message.timestamp.before.max.ms` / `after.max.ms`),
//! and `message.timestamp.type=LogAppendTime`, which stamps the broker's time into the batch
//! header (one of the documented exceptions to storing batches byte for byte).
//!
//! `compression.type` other than `producer` recompresses each batch whose codec differs
//! (the other documented exception): records, offsets, timestamps and producer fields as
//! sent, the CRC recomputed, decompression bounded by the log's decode limits.
//!
//! Record-level refusals carry every offending record's index in its batch (KIP-467), so
//! the Kafka front end can answer `record_errors`; the batch is still refused whole.

use strom_log::DecodeLimits;

use crate::BrokerError;

/// Offsets inside a v2 batch header (Kafka protocol guide, "Record Batch").
const CRC_POS: usize = 17;
const ATTRIBUTES_POS: usize = 21;
const MAX_TIMESTAMP_POS: usize = 35;
/// Timestamp-type bit of the batch attributes: set means LogAppendTime.
const LOG_APPEND_TIME_BIT: i16 = 0x08;
/// Kafka shows at most this many record errors in the top-level message.
const SHOWN_ERRORS: usize = 3;

/// The per-append settings a topic's configs give its partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendPolicy {
    /// Records without a key are refused (`cleanup.policy` includes compact).
    pub keys_required: bool,
    /// `message.timestamp.type=LogAppendTime`.
    pub log_append_time: bool,
    /// `message.timestamp.before.max.ms` (CreateTime only).
    pub before_max_ms: i64,
    /// `message.timestamp.after.max.ms` (CreateTime only).
    pub after_max_ms: i64,
    /// The codec and level of `compression.type` (`None`: `producer`, batches kept as sent).
    pub compression: Option<strom_log::Codec>,
}

impl Default for AppendPolicy {
    fn default() -> Self {
        AppendPolicy {
            keys_required: false,
            log_append_time: false,
            before_max_ms: i64::MAX,
            after_max_ms: 3_600_000,
            compression: None,
        }
    }
}

/// Which record-level rule a record broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// A record Kafka answers `INVALID_RECORD` for (a keyless record on a compacted topic).
    InvalidRecord,
    /// A CreateTime timestamp outside the topic's bounds (`INVALID_TIMESTAMP`).
    InvalidTimestamp,
}

/// One refused record: its index in the batch and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub batch_index: i32,
    pub message: String,
}

impl AppendPolicy {
    fn checks_records(&self) -> bool {
        self.keys_required
            || (!self.log_append_time
                && (self.before_max_ms != i64::MAX || self.after_max_ms != i64::MAX))
    }

    /// Checks every record of `batch` and, for LogAppendTime, stamps `now_ms` into each
    /// batch header (attributes bit, max timestamp, CRC).
    ///
    /// Errors: `RecordErrors` naming every offending record (keyless on a compacted topic,
    /// or a CreateTime timestamp out of bounds); decoding errors of the log.
    pub fn apply(
        &self,
        batch: &mut [u8],
        limits: DecodeLimits,
        now_ms: i64,
    ) -> Result<i64, BrokerError> {
        if self.checks_records() {
            self.check_records(batch, limits, now_ms)?;
        }
        if !self.log_append_time {
            return Ok(-1);
        }
        let mut pos = 0;
        while pos < batch.len() {
            let header = strom_log::BatchHeader::parse(&batch[pos..]).ok_or_else(|| {
                BrokerError::Log(strom_log::LogError::CorruptBatch(
                    "truncated batch header".into(),
                ))
            })?;
            let end = pos + header.total_len();
            if header.batch_length <= 0 || end > batch.len() {
                return Err(BrokerError::Log(strom_log::LogError::CorruptBatch(
                    "invalid batch length".into(),
                )));
            }
            // The CRC is recomputed below, so a corrupt batch must be caught before.
            if crc32c::crc32c(&batch[pos + ATTRIBUTES_POS..end]) != header.crc {
                return Err(BrokerError::Log(strom_log::LogError::CorruptBatch(
                    "record batch CRC mismatch".into(),
                )));
            }
            stamp_log_append_time(&mut batch[pos..end], now_ms);
            pos = end;
        }
        Ok(now_ms)
    }

    /// `batch` (one or more v2 batches) with every data batch recompressed to the topic's
    /// `compression.type`, or `None` when none needs it (`producer`, or codecs that already
    /// match). Each batch's CRC is checked first, since the new one is computed afresh.
    ///
    /// Errors: `CorruptBatch` (CRC, framing, a codec that does not decode),
    /// `DecompressedTooLarge`.
    pub fn recompressed(
        &self,
        batch: &[u8],
        limits: DecodeLimits,
    ) -> Result<Option<Vec<u8>>, BrokerError> {
        let Some(codec) = self.compression else {
            return Ok(None);
        };
        let corrupt = |m: &str| BrokerError::Log(strom_log::LogError::CorruptBatch(m.into()));
        let mut out: Option<Vec<u8>> = None;
        let mut pos = 0;
        for one in strom_log::decode::batches(batch) {
            let one = one?;
            let header = strom_log::BatchHeader::parse(one)
                .ok_or_else(|| corrupt("truncated batch header"))?;
            if crc32c::crc32c(&one[ATTRIBUTES_POS..]) != header.crc {
                return Err(corrupt("record batch CRC mismatch"));
            }
            match strom_log::recompress(one, codec, limits)? {
                // Batches before the first recompressed one are copied as they are.
                Some(new) => out
                    .get_or_insert_with(|| batch[..pos].to_vec())
                    .extend_from_slice(&new),
                None => {
                    if let Some(done) = out.as_mut() {
                        done.extend_from_slice(one);
                    }
                }
            }
            pos += one.len();
        }
        Ok(out)
    }

    fn check_records(
        &self,
        batch: &[u8],
        limits: DecodeLimits,
        now_ms: i64,
    ) -> Result<(), BrokerError> {
        let mut keyless = Vec::new();
        let mut timestamps = Vec::new();
        let check_time = !self.log_append_time;
        for one in strom_log::decode::batches(batch) {
            let reader = strom_log::RecordReader::new(one?, strom_log::Fields::Skip, limits)?;
            for record in reader {
                let record = record?;
                let index = i32::try_from(record.offset).unwrap_or(i32::MAX);
                if self.keys_required && !record.has_key() {
                    keyless.push(RecordError {
                        batch_index: index,
                        message: "Compacted topic cannot accept message without key.".into(),
                    });
                }
                if check_time {
                    if let Some(message) = self.timestamp_problem(record.timestamp, now_ms) {
                        timestamps.push(RecordError {
                            batch_index: index,
                            message,
                        });
                    }
                }
            }
        }
        let (kind, records) = if !keyless.is_empty() {
            (RecordErrorKind::InvalidRecord, keyless)
        } else if !timestamps.is_empty() {
            (RecordErrorKind::InvalidTimestamp, timestamps)
        } else {
            return Ok(());
        };
        Err(BrokerError::RecordErrors {
            kind,
            message: summary(&records),
            records,
        })
    }

    fn timestamp_problem(&self, timestamp: i64, now_ms: i64) -> Option<String> {
        let before = now_ms.saturating_sub(timestamp);
        let after = timestamp.saturating_sub(now_ms);
        if before > self.before_max_ms {
            Some(format!(
                "Timestamp {timestamp} of message is before the broker's time by {before} ms, \
                 more than message.timestamp.before.max.ms ({})",
                self.before_max_ms
            ))
        } else if after > self.after_max_ms {
            Some(format!(
                "Timestamp {timestamp} of message is after the broker's time by {after} ms, \
                 more than message.timestamp.after.max.ms ({})",
                self.after_max_ms
            ))
        } else {
            None
        }
    }
}

/// Kafka's wording: the count, then at most the first three record errors.
fn summary(records: &[RecordError]) -> String {
    let shown: Vec<String> = records
        .iter()
        .take(SHOWN_ERRORS)
        .map(|r| format!("record {}: {}", r.batch_index, r.message))
        .collect();
    format!(
        "One or more records have been rejected due to {} record errors in total, and only \
         showing the first three errors at most: [{}]",
        records.len(),
        shown.join("; ")
    )
}

/// Sets the LogAppendTime bit and the max timestamp of one whole v2 batch and recomputes
/// its CRC (which covers everything from the attributes on).
fn stamp_log_append_time(batch: &mut [u8], now_ms: i64) {
    let attrs = i16::from_be_bytes([batch[ATTRIBUTES_POS], batch[ATTRIBUTES_POS + 1]]);
    batch[ATTRIBUTES_POS..ATTRIBUTES_POS + 2]
        .copy_from_slice(&(attrs | LOG_APPEND_TIME_BIT).to_be_bytes());
    batch[MAX_TIMESTAMP_POS..MAX_TIMESTAMP_POS + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_POS..]);
    batch[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
}
