//! Strom's storage engine.
//!
//! A [`Log`] is one partition: a directory of segments, each holding Kafka record batch v2
//! bytes exactly as received (base offset stamped), with a sparse offset index and a time
//! index beside it. This crate owns everything that touches those files: validation of
//! incoming batches, appends with the configured durability, reads, recovery after a crash,
//! retention. It does plain blocking I/O and knows nothing about the network.

mod batch;
mod clean_batch;
mod cleaned_output;
mod cleaner_txns;
mod compact_batch;
mod compaction;
mod config;
pub mod decode;
mod encode;
mod error;
mod fd_cache;
mod fd_limit;
mod files;
mod flusher;
mod index;
mod log;
mod plain_record;
mod recovery;
mod roll_sync;
mod segment;
mod sync;
#[cfg(test)]
mod tests;
mod tiering;

pub use batch::{BatchHeader, BATCH_HEADER_LEN};
pub use cleaner_txns::CleanerTxns;
pub use compaction::{
    max_keys_for_bytes, CleanerStats, CompactionConfig, Throttle, DEFAULT_DEDUPE_BUFFER_BYTES,
    DEFAULT_MAX_KEYS,
};
pub use config::{Durability, LogConfig};
pub use decode::{DecodeLimits, DecodedRecord, Fields, RecordReader};
pub use encode::{recompress, Codec};
pub use error::LogError;
pub use fd_cache::{open_file_budget, open_file_stats, set_open_file_budget, OpenFileStats};
pub use fd_limit::{raise_nofile_limit, soft_nofile, NofileLimit};
pub use files::{dir_writable, sync_dir, write_file_atomically};
pub use flusher::Flusher;
pub use log::{now_ms, AppendInfo, Log, ReadResult, RetentionOutcome};
pub use plain_record::plain_record;
pub use sync::SyncStats;
pub use tiering::ClosedSegment;
