//! What tiered storage needs from a log: its closed, durable segments (to upload) and the
//! deletion of uploaded segments from the front (local retention). The log's own retention
//! (`retention.ms/bytes`) is unchanged; this only removes segments a caller says are safe
//! elsewhere.

use std::path::PathBuf;

use crate::roll_sync::unflushed_marker;
use crate::segment::segment_file_name;
use crate::{Log, LogError};

/// A closed segment's files and extent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSegment {
    pub base_offset: i64,
    /// One past its last offset.
    pub end_offset: i64,
    pub size: u64,
    pub max_timestamp: i64,
    pub log: PathBuf,
    pub index: PathBuf,
    pub timeindex: PathBuf,
}

impl Log {
    /// The closed segments whose bytes are on stable storage (rolled segments still being
    /// written back in the background are left out until they are), in offset order.
    pub fn closed_segments(&self) -> Vec<ClosedSegment> {
        let segments = self.segments.read();
        let closed = &segments[..segments.len().saturating_sub(1)];
        closed
            .iter()
            .filter(|s| !unflushed_marker(&self.dir, s.base_offset()).exists())
            .map(|s| ClosedSegment {
                base_offset: s.base_offset(),
                end_offset: s.next_offset(),
                size: s.size(),
                max_timestamp: s.max_timestamp(),
                log: s.path().to_path_buf(),
                index: self.dir.join(segment_file_name(s.base_offset(), "index")),
                timeindex: self
                    .dir
                    .join(segment_file_name(s.base_offset(), "timeindex")),
            })
            .collect()
    }

    /// Local retention of a tiered log: deletes closed segments from the front that end at or
    /// below `uploaded_end` (recorded in the remote manifest) and are older than `max_age_ms`
    /// (newest record) or beyond `max_bytes` of local data. The local log start advances;
    /// readers below it go to the remote tier. Returns (segments, bytes) deleted.
    ///
    /// Errors: `Poisoned`/`Closed`, `Io`.
    pub fn delete_uploaded_segments(
        &self,
        uploaded_end: i64,
        now_ms: i64,
        max_age_ms: Option<i64>,
        max_bytes: Option<u64>,
    ) -> Result<(usize, u64), LogError> {
        let _m = self.maintenance.lock();
        let _w = self.writer.lock();
        self.check_writable()?;
        self.delete_front_segments(|seg, next_base, total| {
            let uploaded = next_base.is_some_and(|n| n <= uploaded_end);
            let expired =
                max_age_ms.is_some_and(|ms| seg.max_timestamp() < now_ms.saturating_sub(ms));
            let oversize = max_bytes.is_some_and(|max| total.saturating_sub(seg.size()) >= max);
            uploaded && (expired || oversize)
        })
    }
}
