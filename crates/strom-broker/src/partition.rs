//! [`Partition`]: a log plus its high-watermark notifier and idempotent-producer state.

use std::time::Duration;

use bytes::Bytes;
use strom_log::Log;

use crate::{BrokerError, NewRecord};

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    pub base_offset: i64,
    pub last_offset: i64,
    /// -1 for CreateTime topics (Kafka's convention).
    pub log_append_time: i64,
    pub log_start_offset: i64,
}

/// Bytes of whole record batches from a read.
#[derive(Debug, Clone)]
pub struct FetchResult {
    pub records: Bytes,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

pub struct Partition {
    topic: String,
    index: i32,
    log: Log,
}

impl Partition {
    pub fn topic(&self) -> &str {
        &self.topic
    }
    pub fn index(&self) -> i32 {
        self.index
    }
    pub fn log(&self) -> &Log {
        &self.log
    }
    /// Appends one Kafka record batch v2 as received (blocking: may fsync; call from
    /// `spawn_blocking` in async code). Checks producer id/epoch/sequence for idempotent
    /// batches: a retried batch already written returns `DuplicateSequence` with its original
    /// base offset (front ends answer success), a gap returns `OutOfOrderSequence`.
    pub fn append_batch(&self, batch: &mut [u8]) -> Result<AppendResult, BrokerError> {
        let _ = batch;
        todo!()
    }
    /// Encodes `records` into one batch and appends it (blocking).
    pub fn append_records(&self, records: &[NewRecord]) -> Result<AppendResult, BrokerError> {
        let _ = records;
        todo!()
    }
    /// Reads whole batches from `offset` (see [`strom_log::Log::read`]).
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<FetchResult, BrokerError> {
        let _ = (offset, max_bytes);
        todo!()
    }
    /// Waits until the high watermark is above `offset` or `timeout` passes, whichever is first;
    /// returns the high watermark. Event-driven: woken by appends, never polls.
    pub async fn wait_for_data(&self, offset: i64, timeout: Duration) -> i64 {
        let _ = (offset, timeout);
        todo!()
    }
    /// A receiver that changes whenever the high watermark advances.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        todo!()
    }
    pub fn high_watermark(&self) -> i64 {
        self.log.high_watermark()
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log.log_start_offset()
    }
    /// Earliest `(offset, timestamp)` with timestamp >= `timestamp`.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, BrokerError> {
        Ok(self.log.offset_for_timestamp(timestamp)?)
    }
    /// Kafka DeleteRecords: advances the log start offset; returns the new low watermark.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, BrokerError> {
        Ok(self.log.delete_records_before(offset)?)
    }
    pub fn size_bytes(&self) -> u64 {
        self.log.size_bytes()
    }
}
