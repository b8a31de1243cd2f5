//! Per-log configuration: segment sizing, durability, retention and input limits.

use std::time::Duration;

/// When appended bytes are forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fsync` before an append returns. Concurrent appenders share one fsync (group commit).
    /// Readers only see synced data, so a consumer never sees a record that a crash could undo.
    Always,
    /// A [`crate::Flusher`] syncs dirty logs every interval; a crash loses at most that window.
    Interval(Duration),
    /// Leave it to the operating system.
    Never,
}

/// Configuration of one log (partition). Can be changed live with [`crate::Log::set_config`].
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Roll to a new segment when the active one would exceed this many bytes.
    pub segment_bytes: u64,
    /// Roll to a new segment when the active one is older than this (by its first append).
    pub segment_ms: Option<u64>,
    /// Add an index entry every this many bytes of appended batches.
    pub index_interval_bytes: u64,
    pub durability: Durability,
    /// Delete closed segments whose newest record is older than this.
    pub retention_ms: Option<i64>,
    /// Delete the oldest closed segments while the log is larger than this.
    pub retention_bytes: Option<u64>,
    /// Largest batch accepted by [`crate::Log::append`].
    pub max_batch_bytes: usize,
    /// Bounds on decoding a batch's records: its decompressed size (checked at append) and
    /// the size of one record a reader materialises.
    pub decode: crate::DecodeLimits,
    /// `Some` for compacted topics (`cleanup.policy` includes `compact`).
    pub compaction: Option<crate::CompactionConfig>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: Some(7 * 24 * 3600 * 1000),
            index_interval_bytes: 4096,
            durability: Durability::Interval(Duration::from_millis(1000)),
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            max_batch_bytes: 1024 * 1024 + 12 * 1024,
            decode: crate::DecodeLimits::default(),
            compaction: None,
        }
    }
}
