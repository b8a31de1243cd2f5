//! The typed errors of the storage engine. Front ends map them to protocol error codes.

use std::path::PathBuf;

/// Everything that can go wrong in the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The input batch is malformed (wrong magic, bad CRC, inconsistent lengths...).
    /// Nothing of it was written.
    #[error("corrupt record batch: {0}")]
    CorruptBatch(String),
    /// A record inside the batch breaks the record format's rules (count, offset deltas,
    /// field lengths, timestamps, headers). Nothing of it was written.
    #[error("invalid record: {reason}")]
    InvalidRecord { reason: String },
    /// The batch's records decompress to more than the configured budget (a compression
    /// bomb, or a batch far above what producers send).
    #[error("record batch decompresses to more than {max} bytes")]
    DecompressedTooLarge { max: usize },
    /// A stored record is longer than a reader may materialise; the reader walked past it.
    #[error("record at offset {offset} is {size} bytes, above the {max}-byte limit for one decoded record")]
    RecordTooLarge {
        offset: i64,
        size: usize,
        max: usize,
    },
    /// The batch is larger than the configured maximum.
    #[error("record batch of {size} bytes exceeds the maximum of {max} bytes")]
    BatchTooLarge { size: usize, max: usize },
    /// A read asked for an offset outside `[log_start_offset, log_end_offset]`.
    #[error("offset {offset} is out of range [{start}, {end}]")]
    OffsetOutOfRange { offset: i64, start: i64, end: i64 },
    /// A previous fsync or write failed; the log refuses writes until it is reopened,
    /// because the kernel may have dropped the dirty pages and we can no longer tell
    /// what is on disk.
    #[error("log at {0} refuses writes after an earlier I/O failure; reopen it")]
    Poisoned(PathBuf),
    /// A segment that is not the tail of the log is damaged. Recovery never skips it
    /// silently: the operator has to look.
    #[error("corrupt segment {file} at byte {position}: {reason}")]
    CorruptSegment {
        file: PathBuf,
        position: u64,
        reason: String,
    },
    /// The log has been closed or deleted.
    #[error("log is closed")]
    Closed,

    /// A long-running maintenance task (compaction) was asked to stop; nothing is lost.
    #[error("interrupted: the server is shutting down")]
    Interrupted,
    /// An operating-system I/O error, with the path it concerned.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LogError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LogError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Attach a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T, LogError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, LogError> {
        self.map_err(|e| LogError::io(path, e))
    }
}
