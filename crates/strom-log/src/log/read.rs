//! Reads of a [`Log`]: whole batches from an offset, and the offset of a timestamp (walking
//! the stored batch for the first record at or after it). A read that meets a segment
//! retention or compaction retired is run again on the current segments.

use std::sync::Arc;

use bytes::Bytes;

use super::{Log, ReadResult};
use crate::batch::BatchHeader;
use crate::segment::Segment;
use crate::LogError;

impl Log {
    /// Reads whole batches starting with the one containing `offset`, up to `max_bytes`
    /// (but always at least one whole batch if there is one, as Kafka clients expect).
    /// Reading at the high watermark returns empty bytes. Only one segment is read per call.
    ///
    /// Errors: `OffsetOutOfRange` below the log start offset or above the high watermark.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        self.retry_on_retired(|| self.read_once(offset, max_bytes))
    }

    /// Runs a read again when it failed because retention or compaction retired a segment
    /// it had picked (its files were closed and are being removed or replaced): waits for
    /// that change to finish (it holds the maintenance lock), then reads the current segments.
    pub(crate) fn retry_on_retired<T>(
        &self,
        mut op: impl FnMut() -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        let mut attempts = 0;
        loop {
            match op() {
                Err(LogError::Io { source, .. })
                    if attempts < 10 && source.kind() == std::io::ErrorKind::NotFound =>
                {
                    attempts += 1;
                    drop(self.maintenance.lock());
                }
                other => return other,
            }
        }
    }

    fn read_once(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        let hw = self.high_watermark();
        let start = self.log_start_offset();
        if offset < start || offset > hw {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start,
                end: hw,
            });
        }
        let mut result = ReadResult {
            bytes: Bytes::new(),
            high_watermark: hw,
            log_start_offset: start,
        };
        if offset == hw {
            return Ok(result);
        }
        for segment in self.segments_from(offset) {
            if let Some((pos, _)) = segment.find(offset)? {
                result.bytes = segment.read(pos, max_bytes, hw)?;
                return Ok(result);
            }
        }
        Ok(result)
    }

    /// The segments that may hold `offset` or later ones.
    pub(super) fn segments_from(&self, offset: i64) -> Vec<Arc<Segment>> {
        let segments = self.segments.read();
        let idx = segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        segments[idx..].to_vec()
    }

    /// The earliest offset at or above the log start whose record timestamp is >= `timestamp`,
    /// with that timestamp. `None` if every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.retry_on_retired(|| self.offset_for_timestamp_once(timestamp))
    }

    fn offset_for_timestamp_once(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let start = self.log_start_offset();
        for segment in self.segments_from(start) {
            if segment.max_timestamp() < timestamp {
                continue;
            }
            let mut pos = segment.time_lookup(timestamp)?;
            while let Some((at, header)) = segment.find_by_time(pos, timestamp)? {
                if header.last_offset() >= start {
                    let bytes = segment.read_batch(at, &header)?;
                    let limits = self.config.read().decode;
                    if let Some(found) = first_record_at_or_after(&bytes, timestamp, start, limits)?
                    {
                        return Ok(Some(found));
                    }
                }
                pos = at + header.total_len() as u64;
            }
        }
        Ok(None)
    }
}

/// Walks a stored batch (holding no record) for its first record with timestamp >= `ts` and
/// offset >= `min`. A batch that cannot be decoded within `limits` is reported and answered
/// by its header (its max timestamp is >= `ts`), so one bad batch cannot block the lookup.
fn first_record_at_or_after(
    bytes: &[u8],
    ts: i64,
    min: i64,
    limits: crate::DecodeLimits,
) -> Result<Option<(i64, i64)>, LogError> {
    let walk = || -> Result<Option<(i64, i64)>, LogError> {
        let mut reader = crate::RecordReader::new(bytes, crate::Fields::Skip, limits)?;
        while let Some(r) = reader.next_record()? {
            if r.timestamp >= ts && r.offset >= min {
                return Ok(Some((r.offset, r.timestamp)));
            }
        }
        Ok(None)
    };
    match walk() {
        Ok(found) => Ok(found),
        Err(err) => {
            let Some(h) = BatchHeader::parse(bytes) else {
                return Err(err);
            };
            tracing::warn!(base_offset = h.base_offset, error = %err,
                "stored batch cannot be decoded for a time lookup; answering with its header");
            Ok(Some((h.base_offset.max(min), h.max_timestamp)))
        }
    }
}
