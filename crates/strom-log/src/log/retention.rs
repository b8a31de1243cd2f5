//! Removing a [`Log`]'s front: DeleteRecords (the persisted log start offset), time and size
//! retention, and the deletion of whole closed segments both share.

use std::sync::atomic::Ordering;

use super::{Log, RetentionOutcome};
use crate::files::{sync_dir, write_file_atomically};
use crate::recovery::LOG_START;
use crate::segment::Segment;
use crate::LogError;

impl Log {
    /// Advances the log start offset to `offset` (Kafka DeleteRecords), deleting whole
    /// segments below it. Returns the new log start offset.
    ///
    /// Errors: `OffsetOutOfRange` above the high watermark.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let _m = self.maintenance.lock();
        let _w = self.writer.lock();
        self.check_writable()?;
        self.mark_unclean()?;
        let hw = self.high_watermark();
        if offset > hw || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset(),
                end: hw,
            });
        }
        let start = self.log_start_offset().max(offset);
        self.set_log_start(start)?;
        self.delete_front_segments(|_, next_base, _| next_base.is_some_and(|n| n <= start))?;
        Ok(self.log_start_offset())
    }

    fn set_log_start(&self, start: i64) -> Result<(), LogError> {
        if start > self.log_start_offset() {
            write_file_atomically(&self.dir.join(LOG_START), start.to_string().as_bytes())?;
            self.log_start.fetch_max(start, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Deletes closed segments from the front while `doomed(segment, next_base, total_size)`
    /// holds. Called with the writer lock held. Returns (segments, bytes) deleted.
    pub(crate) fn delete_front_segments(
        &self,
        mut doomed: impl FnMut(&Segment, Option<i64>, u64) -> bool,
    ) -> Result<(usize, u64), LogError> {
        let mut removed = Vec::new();
        {
            let mut segments = self.segments.write();
            let mut total: u64 = segments.iter().map(|s| s.size()).sum();
            while segments.len() > 1 {
                let next_base = segments.get(1).map(|s| s.base_offset());
                if !doomed(&segments[0], next_base, total) {
                    break;
                }
                total -= segments[0].size();
                removed.push(segments.remove(0));
            }
        }
        if removed.is_empty() {
            return Ok((0, 0));
        }
        self.mark_unclean()?;
        let new_start = self.segments.read()[0].base_offset();
        self.set_log_start(new_start)?;
        let mut bytes = 0;
        for segment in &removed {
            bytes += segment.size();
            segment.retire();
            segment.delete_files(&self.dir)?;
        }
        sync_dir(&self.dir)?;
        Ok((removed.len(), bytes))
    }

    /// Applies time and size retention at wall-clock `now_ms`, deleting whole closed segments
    /// from the front: by time when a segment's newest record is older than `retention_ms`,
    /// by size while the log without its oldest segment is still above `retention_bytes`.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<RetentionOutcome, LogError> {
        let (retention_ms, retention_bytes) = {
            let c = self.config.read();
            (c.retention_ms, c.retention_bytes)
        };
        let _m = self.maintenance.lock();
        let _w = self.writer.lock();
        self.check_writable()?;
        // Like Kafka, when every segment has expired, roll the active one so that an idle
        // topic's data still ages out instead of living forever in the active segment.
        // (The roll fsyncs the segment and publishes it to readers.)
        let active = self.active();
        let all_expired = retention_ms.is_some_and(|ms| {
            ms >= 0
                && self
                    .segments
                    .read()
                    .iter()
                    .all(|s| s.max_timestamp() < now_ms.saturating_sub(ms))
        });
        if active.size() > 0 && all_expired {
            self.mark_unclean()?;
            self.roll(&active).map_err(|e| self.poison(e))?;
        }
        let (segments_deleted, bytes_deleted) = self.delete_front_segments(|seg, _, total| {
            let expired = retention_ms
                .is_some_and(|ms| ms >= 0 && seg.max_timestamp() < now_ms.saturating_sub(ms));
            let oversize =
                retention_bytes.is_some_and(|max| total.saturating_sub(seg.size()) >= max);
            expired || oversize
        })?;
        if segments_deleted > 0 {
            tracing::info!(log = %self.dir.display(), segments_deleted, bytes_deleted, "retention deleted segments");
        }
        Ok(RetentionOutcome {
            segments_deleted,
            bytes_deleted,
            log_start_offset: self.log_start_offset(),
        })
    }
}
