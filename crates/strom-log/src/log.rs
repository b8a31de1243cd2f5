//! [`Log`]: one partition's ordered list of segments; appends, reads, rolls, retention.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::{LogConfig, LogError};

/// Where an appended batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// Largest record timestamp in the batch (CreateTime).
    pub max_timestamp: i64,
    pub record_count: i32,
}

/// Bytes of whole batches read from one segment.
#[derive(Debug, Clone)]
pub struct ReadResult {
    /// Zero or more complete record batches, the first containing the requested offset.
    pub bytes: Bytes,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

/// What a retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    pub segments_deleted: usize,
    pub bytes_deleted: u64,
    pub log_start_offset: i64,
}

/// One partition's log. `Send + Sync`: one writer at a time (internally serialised),
/// any number of concurrent readers that never block the writer.
pub struct Log {
    dir: PathBuf,
}

impl Log {
    /// Opens (or creates) the log in `dir`, recovering after a crash if it was not closed cleanly.
    ///
    /// Errors: `Io` if the directory cannot be created or read, `CorruptSegment` if a segment
    /// other than the tail is damaged.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Log, LogError> {
        let _ = config;
        Ok(Log {
            dir: dir.to_path_buf(),
        })
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Validates one record batch (magic 2, lengths, CRC32C, record count), stamps the next
    /// offset as its base offset and appends it. Returns after the configured durability is met.
    ///
    /// Errors: `CorruptBatch` / `BatchTooLarge` (nothing written), `Poisoned` after an earlier
    /// I/O failure, `Io`.
    pub fn append(&self, batch: &mut [u8]) -> Result<AppendInfo, LogError> {
        let _ = batch;
        todo!()
    }
    /// Reads whole batches starting with the one containing `offset`, up to `max_bytes`
    /// (but always at least one whole batch if there is one, as Kafka clients expect).
    /// Reading at the high watermark returns empty bytes.
    ///
    /// Errors: `OffsetOutOfRange` below the log start offset or above the high watermark.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        let _ = (offset, max_bytes);
        todo!()
    }
    /// The earliest offset whose record timestamp is >= `timestamp`, with that timestamp.
    /// `None` if every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let _ = timestamp;
        todo!()
    }
    /// Offset of the next record to be appended.
    pub fn log_end_offset(&self) -> i64 {
        todo!()
    }
    /// The offset up to which readers may read (exclusive). Equals the log end offset except
    /// under `Durability::Always`, where it is the durable end.
    pub fn high_watermark(&self) -> i64 {
        todo!()
    }
    /// First offset still readable.
    pub fn log_start_offset(&self) -> i64 {
        todo!()
    }
    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        todo!()
    }
    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        todo!()
    }
    /// Advances the log start offset to `offset` (Kafka DeleteRecords), deleting whole
    /// segments below it. Returns the new log start offset.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let _ = offset;
        todo!()
    }
    /// Applies time and size retention at wall-clock `now_ms`, deleting whole closed segments.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<RetentionOutcome, LogError> {
        let _ = now_ms;
        todo!()
    }
    /// Forces everything written so far to stable storage.
    pub fn flush(&self) -> Result<(), LogError> {
        todo!()
    }
    /// Replaces the configuration; takes effect on the next append / retention pass.
    pub fn set_config(&self, config: LogConfig) {
        let _ = config;
        todo!()
    }
    pub fn config(&self) -> LogConfig {
        todo!()
    }
    /// Calls `f` with the header of every batch from `from_offset` on, in order (used to
    /// rebuild producer state). Stops early when `f` returns false.
    pub fn scan_headers(
        &self,
        from_offset: i64,
        f: &mut dyn FnMut(&crate::BatchHeader) -> bool,
    ) -> Result<(), LogError> {
        let _ = (from_offset, f);
        todo!()
    }
    /// Flushes, writes the clean-shutdown marker and closes. Later calls fail with `Closed`.
    pub fn close(&self) -> Result<(), LogError> {
        todo!()
    }
    /// Closes and removes the log's directory.
    pub fn delete(&self) -> Result<(), LogError> {
        todo!()
    }
}
