//! [`Log`]: one partition's ordered list of segments; appends with the configured durability,
//! reads, segment rolls, log start offset and retention.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::batch::{self, BatchHeader};
use crate::files::sync_dir;
use crate::recovery;
use crate::roll_sync::{unflushed_marker, RollSyncer};
use crate::segment::Segment;
use crate::sync::{GroupCommit, SyncCounter, SyncStats};
use crate::{Durability, LogConfig, LogError};

mod read;
mod retention;

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

/// Largest segment file: index positions are 32-bit.
const MAX_SEGMENT_BYTES: u64 = i32::MAX as u64;

/// Wall-clock milliseconds since the Unix epoch (Kafka's timestamp unit); 0 if the clock is
/// before the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One partition's log. `Send + Sync`: one writer at a time (internally serialised),
/// any number of concurrent readers that never wait for the writer.
pub struct Log {
    pub(crate) dir: PathBuf,
    pub(crate) config: RwLock<LogConfig>,
    /// Ordered by base offset; the last one is active. Readers clone the `Arc`s they need.
    pub(crate) segments: RwLock<Vec<Arc<Segment>>>,
    /// Serialises appends, rolls and segment deletion.
    pub(crate) writer: Mutex<()>,
    /// Serialises changes to closed segments (retention, DeleteRecords, compaction swaps),
    /// which must not wait for or block appends. Taken before `writer` when both are needed.
    pub(crate) maintenance: Mutex<()>,
    /// One compaction at a time.
    pub(crate) cleaner_lock: Mutex<()>,
    pub(crate) cleaner_stats: Mutex<crate::CleanerStats>,
    /// Segments with a base offset below this have been cleaned.
    pub(crate) cleaned_up_to: AtomicI64,
    log_start: AtomicI64,
    high_watermark: AtomicI64,
    group: GroupCommit,
    syncs: SyncCounter,
    roll_sync: RollSyncer,
    poisoned: AtomicBool,
    /// Opened on a read-only directory: refuses writes like a poisoned log, closes without
    /// writing anything.
    read_only: AtomicBool,
    closed: AtomicBool,
    dirty: AtomicBool,
    /// The clean-shutdown marker is on disk. It is removed (durably) before the first change
    /// to the log's files and written again by a clean close.
    clean_marker: Mutex<bool>,
}

impl Log {
    /// Opens (or creates) the log in `dir`, recovering after a crash if it was not closed cleanly.
    ///
    /// If `dir` is not writable (a read-only mount), the log is opened *read-only*: nothing is
    /// written, reads are served, and every write is refused with `Poisoned` (so the broker
    /// reopens it, with full recovery, once the directory is writable again). Only a cleanly
    /// closed log can be opened so.
    ///
    /// Errors: `Io` if the directory cannot be created or read (or, read-only, if the log
    /// needs recovery: kind `ReadOnlyFilesystem`), `CorruptSegment` if a segment other than
    /// the tail is damaged.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Log, LogError> {
        let read_only = !crate::files::dir_writable(dir);
        let recovered =
            recovery::open_segments(dir, config.index_interval_bytes, now_ms(), read_only)?;
        if read_only {
            tracing::warn!(log = %dir.display(), "data directory is read-only: log opened read-only");
        }
        if recovered.truncated_bytes > 0 {
            tracing::warn!(log = %dir.display(), bytes = recovered.truncated_bytes, "recovered log after a crash");
        }
        let leo = recovered
            .segments
            .last()
            .map(|s| s.next_offset())
            .unwrap_or(0);
        Ok(Log {
            dir: dir.to_path_buf(),
            config: RwLock::new(config),
            segments: RwLock::new(recovered.segments),
            writer: Mutex::new(()),
            maintenance: Mutex::new(()),
            cleaner_lock: Mutex::new(()),
            cleaner_stats: Mutex::new(crate::CleanerStats::default()),
            cleaned_up_to: AtomicI64::new(recovered.cleaned_up_to),
            log_start: AtomicI64::new(recovered.log_start.min(leo)),
            high_watermark: AtomicI64::new(leo),
            group: GroupCommit::new(leo),
            syncs: SyncCounter::new(leo),
            roll_sync: RollSyncer::new(dir)?,
            poisoned: AtomicBool::new(false),
            read_only: AtomicBool::new(read_only),
            closed: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            clean_marker: Mutex::new(recovered.clean_marker),
        })
    }

    /// True for a log opened read-only (see [`Log::open`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn active(&self) -> Arc<Segment> {
        let segments = self.segments.read();
        Arc::clone(
            segments
                .last()
                .expect("a log always has at least one segment"),
        )
    }

    /// Errors with `Closed` or `Poisoned` if the log refuses writes.
    pub fn check_writable(&self) -> Result<(), LogError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(LogError::Closed);
        }
        if self.poisoned.load(Ordering::Acquire) || self.read_only.load(Ordering::Acquire) {
            return Err(LogError::Poisoned(self.dir.clone()));
        }
        if self.roll_sync.failed() {
            return Err(self.poison(LogError::Poisoned(self.dir.clone())));
        }
        Ok(())
    }

    /// Removes the clean-shutdown marker before the first change to the log's files, so a
    /// crash from here on is never mistaken for a clean shutdown.
    pub(crate) fn mark_unclean(&self) -> Result<(), LogError> {
        let mut present = self.clean_marker.lock();
        if *present {
            recovery::remove_clean_marker(&self.dir)?;
            *present = false;
        }
        Ok(())
    }

    fn poison(&self, err: LogError) -> LogError {
        tracing::error!(log = %self.dir.display(), error = %err, "I/O failure: log refuses writes until reopened");
        self.poisoned.store(true, Ordering::Release);
        self.group.fail();
        err
    }

    /// Validates one or more record batches (magic 2, lengths, CRC32C, record count), stamps
    /// consecutive base offsets and appends them atomically: all or nothing. Returns after the
    /// configured durability is met.
    ///
    /// Every inner record is walked too (see [`crate::decode`]), compressed or not.
    ///
    /// Errors: `CorruptBatch` / `InvalidRecord` / `BatchTooLarge` / `DecompressedTooLarge`
    /// (nothing written), `Poisoned` after an earlier
    /// I/O failure, `Closed`, `Io` (which also poisons the log).
    pub fn append(&self, batch: &mut [u8]) -> Result<AppendInfo, LogError> {
        let info = self.append_unsynced(batch)?;
        self.wait_durable(info.last_offset + 1)?;
        Ok(info)
    }

    /// [`Log::append`] without waiting for durability: the caller must call
    /// [`Log::wait_durable`] before acknowledging. Lets the broker make a check-and-append
    /// atomic under its own lock while concurrent appenders still share one fsync.
    pub fn append_unsynced(&self, batch: &mut [u8]) -> Result<AppendInfo, LogError> {
        let (durability, max, index_interval, limits) = {
            let c = self.config.read();
            (
                c.durability,
                c.max_batch_bytes,
                c.index_interval_bytes,
                c.decode,
            )
        };
        if batch.len() > max {
            return Err(LogError::BatchTooLarge {
                size: batch.len(),
                max,
            });
        }
        // CRC work happens before taking the writer lock so appenders validate in parallel.
        let mut headers = batch::validate_batches(batch, limits)?;
        batch::fix_max_timestamps(batch, &mut headers);
        let guard = self.writer.lock();
        self.check_writable()?;
        self.mark_unclean()?;
        let active = self.maybe_roll(batch.len() as u64, &headers)?;
        let base = active.next_offset();
        let mut next = base;
        let mut pos = 0usize;
        for h in headers.iter_mut() {
            let len = h.total_len();
            batch::stamp(&mut batch[pos..pos + len], next);
            h.base_offset = next;
            next = h.last_offset() + 1;
            pos += len;
        }
        if let Err(err) = active.append(batch, &headers, index_interval) {
            // Cut back whatever part reached the file so a later reopen does not see it.
            let _ = active.truncate(active.size());
            return Err(self.poison(err));
        }
        self.dirty.store(true, Ordering::Release);
        if durability != Durability::Always {
            active.set_visible(active.size());
            self.high_watermark.store(next, Ordering::Release);
        }
        drop(guard);
        if durability == Durability::Always {
            self.group.sync_to(
                next,
                || self.sync_active(),
                || LogError::Poisoned(self.dir.clone()),
            )?;
        }
        Ok(AppendInfo {
            base_offset: base,
            last_offset: next - 1,
            max_timestamp: headers.iter().map(|h| h.max_timestamp).max().unwrap_or(-1),
            record_count: headers.iter().map(|h| h.record_count).sum(),
        })
    }

    /// Returns once offsets below `end` are durable under the configured policy (an fsync,
    /// shared with concurrent appenders, under `Always`; nothing otherwise).
    ///
    /// Errors: `Poisoned` if the fsync failed.
    pub fn wait_durable(&self, end: i64) -> Result<(), LogError> {
        if self.config.read().durability != Durability::Always {
            return Ok(());
        }
        self.group.sync_to(
            end,
            || self.sync_active(),
            || LogError::Poisoned(self.dir.clone()),
        )
    }

    /// Fsyncs the active segment and publishes what it covered to readers. Returns the offset
    /// below which everything is durable.
    fn sync_active(&self) -> Result<i64, LogError> {
        let (active, leo, size) = {
            let _w = self.writer.lock();
            let a = self.active();
            let (leo, size) = (a.next_offset(), a.size());
            (a, leo, size)
        };
        if let Err(err) = active.sync_data() {
            return Err(self.poison(err));
        }
        self.syncs.record(leo);
        active.set_visible(size);
        self.high_watermark.fetch_max(leo, Ordering::AcqRel);
        Ok(leo)
    }

    /// Rolls to a new segment if the batch would overflow the active one or it is too old.
    /// Called with the writer lock held.
    fn maybe_roll(&self, incoming: u64, headers: &[BatchHeader]) -> Result<Arc<Segment>, LogError> {
        let active = self.active();
        if active.size() == 0 {
            return Ok(active);
        }
        let (segment_bytes, segment_ms) = {
            let c = self.config.read();
            (c.segment_bytes.min(MAX_SEGMENT_BYTES), c.segment_ms)
        };
        let records: i64 = headers
            .iter()
            .map(|h| i64::from(h.last_offset_delta) + 1)
            .sum();
        let too_big = active.size() + incoming > segment_bytes;
        let too_old = segment_ms.is_some_and(|ms| now_ms() - active.created_ms >= ms as i64);
        // Relative offsets in the index are 32-bit.
        let offsets_full = active.next_offset() + records - active.base_offset() >= u32::MAX as i64;
        if !(too_big || too_old || offsets_full) {
            return Ok(active);
        }
        self.roll(&active).map_err(|e| self.poison(e))
    }

    fn roll(&self, old: &Arc<Segment>) -> Result<Arc<Segment>, LogError> {
        let leo = old.next_offset();
        let deferred = self.config.read().durability != Durability::Always;
        if deferred {
            // The old segment's write-back happens in the background (see `roll_sync`); the
            // marker, made durable by the directory fsync below, tells recovery so.
            let marker = unflushed_marker(&self.dir, old.base_offset());
            std::fs::File::create(&marker).map_err(|e| LogError::io(&marker, e))?;
        } else {
            // Segments rolled before a live switch to `always` are synced first, so the
            // recovery point written below never covers one that is not on disk.
            self.roll_sync.drain()?;
            // Every append was already fsynced: this only adds the index files.
            old.sync_all()?;
            self.syncs.record(leo);
        }
        old.set_visible(old.size());
        self.high_watermark.fetch_max(leo, Ordering::AcqRel);
        if !deferred {
            self.group.mark_synced(leo);
        }
        let new = Arc::new(Segment::create(&self.dir, leo, now_ms())?);
        sync_dir(&self.dir)?;
        self.segments.write().push(Arc::clone(&new));
        old.deactivate()?;
        if deferred {
            self.roll_sync.submit(Arc::clone(old));
        } else {
            // Everything before the new segment is durable: a crash only needs to rescan from here.
            self.roll_sync.advance_recovery_point(leo)?;
        }
        Ok(new)
    }

    /// Offset of the next record to be appended.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }

    /// The offset up to which readers may read (exclusive). Equals the log end offset except
    /// under `Durability::Always`, where it is the durable end.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    /// First offset still readable.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start.load(Ordering::Acquire)
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.read().iter().map(|s| s.size()).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.read().len()
    }

    /// Whether data was appended since the last flush.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Data fsyncs so far and the offset they cover (see [`SyncStats`]).
    pub fn sync_stats(&self) -> SyncStats {
        self.syncs.stats()
    }

    /// Forces everything written so far to stable storage.
    pub fn flush(&self) -> Result<(), LogError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(LogError::Poisoned(self.dir.clone()));
        }
        self.dirty.store(false, Ordering::Release);
        let leo = self.sync_active()?;
        self.group.mark_synced(leo);
        Ok(())
    }

    /// Replaces the configuration; takes effect on the next append / retention pass.
    pub fn set_config(&self, config: LogConfig) {
        *self.config.write() = config;
    }

    pub fn config(&self) -> LogConfig {
        self.config.read().clone()
    }

    /// Calls `f` with the header of every batch from the one containing `from_offset` on, in
    /// order (used to rebuild producer state). Stops early when `f` returns false.
    pub fn scan_headers(
        &self,
        from_offset: i64,
        f: &mut dyn FnMut(&BatchHeader) -> bool,
    ) -> Result<(), LogError> {
        for segment in self.segments_from(from_offset) {
            if !segment.for_each_header(from_offset, f)? {
                break;
            }
        }
        Ok(())
    }

    /// Flushes, writes the clean-shutdown marker and closes. Later writes fail with `Closed`.
    pub fn close(&self) -> Result<(), LogError> {
        let _w = self.writer.lock();
        if self.read_only.load(Ordering::Acquire) {
            // Nothing was written: the clean-shutdown marker on disk still holds.
            self.closed.store(true, Ordering::Release);
            return Ok(());
        }
        if self.poisoned.load(Ordering::Acquire) {
            // Never vouch for a log whose last writes failed: the next open must rescan.
            self.closed.store(true, Ordering::Release);
            // Background segment syncs end before anyone reopens the directory.
            let _ = self.roll_sync.drain();
            return Err(LogError::Poisoned(self.dir.clone()));
        }
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.roll_sync.drain()?;
        let mut marker = self.clean_marker.lock();
        if *marker {
            // Nothing changed since the files were last known durable: no fsync needed.
            return Ok(());
        }
        self.active().sync_all()?;
        recovery::write_clean_marker(&self.dir)?;
        *marker = true;
        Ok(())
    }

    /// Closes and removes the log's directory.
    pub fn delete(&self) -> Result<(), LogError> {
        let _w = self.writer.lock();
        self.closed.store(true, Ordering::Release);
        self.roll_sync.stop();
        std::fs::remove_dir_all(&self.dir).map_err(|e| LogError::io(&self.dir, e))
    }
}

impl Drop for Log {
    /// Waits for rolled segments still being written back, so nothing touches the directory
    /// after the log is gone (a reopen must not race a recovery-point update).
    fn drop(&mut self) {
        let _ = self.roll_sync.drain();
    }
}
