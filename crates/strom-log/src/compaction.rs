//! Log compaction: rewrites closed segments keeping only the latest record per key, with
//! offsets preserved (gaps allowed), and drops tombstones and transaction markers once their
//! delete horizon has passed (clean_batch.rs decides per batch). Never touches the active
//! segment.
//!
//! Crash safety: a cleaned segment is written to `<base>.log.cleaned` and fsynced; then, under
//! the writer lock, the old segment's index files are removed and the cleaned file is renamed
//! over `<base>.log` (an atomic replace), and the directory is fsynced. A crash before the
//! rename leaves the old segment (the stray `.cleaned` file is deleted on open); after it, the
//! new one. A segment without index files is re-verified and re-indexed on open, so no step
//! can pair a log file with a stale index.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::batch::BatchHeader;
use crate::clean_batch::CleanPass;
use crate::cleaned_output::CleanedOutput;
use crate::cleaner_txns::{CleanerTxns, TxnWalk};
use crate::compact_batch::for_each_keyed;
use crate::error::IoContext;
use crate::files::{sync_dir, write_file_atomically};
use crate::segment::{segment_file_name, Segment};
use crate::{Log, LogError};

pub(crate) const CLEANER_CHECKPOINT: &str = "cleaner-checkpoint";

/// Memory for the cleaner's key map per run, like Kafka's default
/// `log.cleaner.dedupe.buffer.size`.
pub const DEFAULT_DEDUPE_BUFFER_BYTES: usize = 128 << 20;

/// Keys in the cleaner's map per run with the default memory (about 4 million).
pub const DEFAULT_MAX_KEYS: usize = DEFAULT_DEDUPE_BUFFER_BYTES / MAP_BYTES_PER_KEY;

/// Bytes the cleaner's map needs per key: the 16-byte hash, the 8-byte offset, and the hash
/// table's control byte and spare capacity.
const MAP_BYTES_PER_KEY: usize = 32;

/// Keys a key map of `bytes` holds (at least one).
pub fn max_keys_for_bytes(bytes: usize) -> usize {
    (bytes / MAP_BYTES_PER_KEY).max(1)
}

/// The cleaner's identity for a key: 128 bits of xxh3, so a collision (which would drop a
/// live record) is as unlikely as in Kafka's MD5-based offset map.
fn key_hash(key: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key)
}

/// Kafka's compaction settings for one log.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionConfig {
    /// Clean when dirty bytes / closed bytes reaches this (`min.cleanable.dirty.ratio`).
    pub min_cleanable_dirty_ratio: f64,
    /// Records newer than this stay uncompacted (`min.compaction.lag.ms`).
    pub min_compaction_lag_ms: i64,
    /// Clean regardless of the ratio once dirty data is this old (`max.compaction.lag.ms`).
    pub max_compaction_lag_ms: i64,
    /// How long a tombstone stays readable (`delete.retention.ms`).
    pub delete_retention_ms: i64,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 24 * 3600 * 1000,
        }
    }
}

/// An I/O budget shared by cleaners so they do not starve producers: at most
/// `bytes_per_sec` read plus written per second, enforced by sleeping the cleaner thread.
pub struct Throttle {
    bytes_per_sec: u64,
    window: Mutex<(Instant, u64)>,
    interrupted: AtomicBool,
}

impl Throttle {
    pub fn new(bytes_per_sec: u64) -> Throttle {
        Throttle {
            bytes_per_sec: bytes_per_sec.max(1),
            window: Mutex::new((Instant::now(), 0)),
            interrupted: AtomicBool::new(false),
        }
    }

    /// Makes every compaction using this budget stop at its next batch with
    /// `LogError::Interrupted` (for shutdown: a long cleaning must not hold it up). Segments
    /// already swapped stay cleaned; the rest is cleaned again by a later run.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::Release);
    }

    fn check(&self) -> Result<(), LogError> {
        if self.interrupted.load(Ordering::Acquire) {
            return Err(LogError::Interrupted);
        }
        Ok(())
    }

    /// Counts `bytes` against the budget, sleeping while over it (also used by tiered uploads).
    pub fn consume(&self, bytes: u64) {
        let sleep = {
            let mut w = self.window.lock();
            if w.0.elapsed() > Duration::from_secs(1) {
                *w = (Instant::now(), 0);
            }
            w.1 += bytes;
            let allowed = Duration::from_secs_f64(w.1 as f64 / self.bytes_per_sec as f64);
            allowed.saturating_sub(w.0.elapsed())
        };
        if !sleep.is_zero() {
            std::thread::sleep(sleep);
        }
    }
}

/// What the cleaner did last, and the current dirty ratio.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CleanerStats {
    pub last_cleaned_ms: Option<i64>,
    pub segments_cleaned: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_removed: u64,
    pub tombstones_removed: u64,
    /// Batches the last cleaning could not decode within the decode limits (a corrupt or
    /// over-budget batch stored before validation existed): reported and kept as they are.
    pub batches_skipped: u64,
    pub dirty_ratio: f64,
    /// Transaction markers removed (their transaction had no records left and their delete
    /// horizon had passed).
    pub markers_removed: u64,
    /// The earliest delete horizon among the tombstones and discardable transaction markers
    /// the last cleaning kept: a cleaning from then on removes them (`None`: it kept none,
    /// or no cleaning ran since the log was opened).
    pub next_tombstone_expiry_ms: Option<i64>,
}

impl Log {
    /// Dirty bytes (closed segments not yet cleaned) over all closed-segment bytes.
    pub fn dirty_ratio(&self) -> f64 {
        let checkpoint = self.cleaned_up_to.load(Ordering::Acquire);
        let segments = self.segments.read();
        let closed = &segments[..segments.len().saturating_sub(1)];
        let total: u64 = closed.iter().map(|s| s.size()).sum();
        let dirty: u64 = closed
            .iter()
            .filter(|s| s.base_offset() >= checkpoint)
            .map(|s| s.size())
            .sum();
        if total == 0 {
            0.0
        } else {
            dirty as f64 / total as f64
        }
    }

    /// Whether the log is compacted and due for cleaning at `now_ms`.
    pub fn needs_cleaning(&self, now_ms: i64) -> bool {
        let Some(cfg) = self.config.read().compaction.clone() else {
            return false;
        };
        let ratio = self.dirty_ratio();
        if ratio > 0.0 && ratio >= cfg.min_cleanable_dirty_ratio {
            return true;
        }
        // Tombstones only go when a cleaning runs, so a quiet, fully cleaned log would keep
        // them forever: it is due once the oldest kept tombstone expires. Right after open
        // the tombstones of the clean section are unknown, so one cleaning finds them.
        {
            let stats = self.cleaner_stats.lock();
            let unknown =
                stats.last_cleaned_ms.is_none() && self.cleaned_up_to.load(Ordering::Acquire) > 0;
            if unknown || stats.next_tombstone_expiry_ms.is_some_and(|t| now_ms >= t) {
                return true;
            }
        }
        let checkpoint = self.cleaned_up_to.load(Ordering::Acquire);
        let segments = self.segments.read();
        segments[..segments.len().saturating_sub(1)]
            .iter()
            .filter(|s| s.base_offset() >= checkpoint && s.size() > 0)
            .any(|s| s.max_timestamp() < now_ms.saturating_sub(cfg.max_compaction_lag_ms))
    }

    /// The last cleaning's figures with the current dirty ratio.
    pub fn cleaner_stats(&self) -> CleanerStats {
        let mut stats = self.cleaner_stats.lock().clone();
        stats.dirty_ratio = self.dirty_ratio();
        stats
    }

    /// Compacts every closed segment older than `min.compaction.lag.ms`: keeps the latest
    /// record per key (records without a key are kept), drops tombstones once their delete
    /// horizon has passed (`delete.retention.ms` after the cleaning that first kept them,
    /// as Kafka since KIP-534), preserves offsets. A no-op unless the log has a compaction config.
    ///
    /// A stored batch that cannot be decoded within the log's decode limits is reported,
    /// counted in [`CleanerStats::batches_skipped`] and kept as it is.
    ///
    /// Errors: `Io` (the old segment stays in place), `Interrupted`.
    pub fn compact(
        &self,
        now_ms: i64,
        throttle: Option<&Throttle>,
    ) -> Result<CleanerStats, LogError> {
        self.compact_with_map_limit(now_ms, throttle, DEFAULT_MAX_KEYS)
    }

    /// [`Log::compact`] with at most about `max_keys` keys in the cleaner's map per run
    /// (at least one segment's worth, so every run makes progress).
    pub fn compact_with_map_limit(
        &self,
        now_ms: i64,
        throttle: Option<&Throttle>,
        max_keys: usize,
    ) -> Result<CleanerStats, LogError> {
        self.compact_transactional(now_ms, throttle, max_keys, &CleanerTxns::default())
    }

    /// [`Log::compact_with_map_limit`] following Kafka's cleaner rules for transactions:
    /// only segments wholly below the last stable offset are cleaned (an undecided record
    /// must not supersede a committed one), records of aborted transactions are removed and
    /// never enter the key map, and a marker (control batch) stays while records of its
    /// transaction remain, then until its delete horizon (see clean_batch.rs).
    pub fn compact_transactional(
        &self,
        now_ms: i64,
        throttle: Option<&Throttle>,
        max_keys: usize,
        txns: &CleanerTxns,
    ) -> Result<CleanerStats, LogError> {
        let _cleaner = self.cleaner_lock.lock();
        let Some(cfg) = self.config.read().compaction.clone() else {
            return Ok(self.cleaner_stats());
        };
        let lag_horizon = now_ms.saturating_sub(cfg.min_compaction_lag_ms);
        let candidates: Vec<Arc<Segment>> = {
            let segments = self.segments.read();
            segments[..segments.len().saturating_sub(1)]
                .iter()
                .take_while(|s| {
                    s.max_timestamp() <= lag_horizon && s.next_offset() <= txns.stable_offset
                })
                .cloned()
                .collect()
        };
        if candidates.is_empty() {
            return Ok(self.cleaner_stats());
        }
        let consume = |n: u64| -> Result<(), LogError> {
            if let Some(t) = throttle {
                t.check()?;
                t.consume(n);
            }
            Ok(())
        };

        // Pass 1: the latest offset of every key in the dirty part of the cleanable range.
        // The clean part before the checkpoint holds each key at most once, so a record there
        // survives unless the map has a newer one. Keys are kept as 128-bit hashes, never as
        // slices of the decoded batches (which would keep every batch in memory), and the map
        // stops growing at segment boundaries once it holds `max_keys` (a later run goes on
        // from there), so memory is bounded however many keys the log has.
        let checkpoint_offset = self.cleaned_up_to.load(Ordering::Acquire);
        let limits = self.config.read().decode;
        let mut latest: HashMap<u128, i64> = HashMap::new();
        let mut mapped = 0usize;
        for (i, segment) in candidates.iter().enumerate() {
            if segment.base_offset() < checkpoint_offset {
                mapped = i + 1;
                continue;
            }
            let mut keys: HashMap<u128, i64> = HashMap::new();
            for_each_batch(segment, &mut |header, bytes| {
                consume(bytes.len() as u64)?;
                // Control records (transaction markers) carry a marker type in their key, not
                // a user key: letting them into the map would make a marker supersede a data
                // record whose key happens to have the same four bytes.
                if header.is_control() || txns.is_aborted(header) {
                    return Ok(());
                }
                let mut add = |r: &crate::DecodedRecord| {
                    if let Some(k) = &r.key {
                        keys.insert(key_hash(k), r.offset);
                    }
                };
                if let Err(err) = for_each_keyed(bytes, limits, &mut add) {
                    // Keys already added stay: they only make the cleaner keep more. Pass 2
                    // meets the batch again, and reports and counts it there.
                    tracing::debug!(base_offset = header.base_offset, error = %err,
                        "cleaner cannot map the keys of a stored batch");
                }
                Ok(())
            })?;
            if !latest.is_empty() && latest.len() + keys.len() > max_keys {
                break;
            }
            latest.extend(keys);
            mapped = i + 1;
        }
        let candidates = &candidates[..mapped];

        // The checkpoint file also tells recovery that gaps between segments are legitimate,
        // so it must exist before the first rewritten segment does.
        let checkpoint = self.dir.join(CLEANER_CHECKPOINT);
        if !checkpoint.exists() {
            let current = self.cleaned_up_to.load(Ordering::Acquire);
            write_file_atomically(&checkpoint, current.to_string().as_bytes())?;
        }

        // Pass 2: rewrite each segment that loses something, in offset order (the
        // transaction walk relies on it).
        let mut pass = CleanPass {
            latest: &latest,
            key_hash,
            limits,
            now_ms,
            delete_retention_ms: cfg.delete_retention_ms,
            walk: TxnWalk::new(txns),
            stats: CleanerStats {
                last_cleaned_ms: Some(now_ms),
                ..CleanerStats::default()
            },
            next_expiry: None,
        };
        for segment in candidates {
            let base = segment.base_offset();
            let cleaned = self
                .dir
                .join(format!("{}.cleaned", segment_file_name(base, "log")));
            let mut out = CleanedOutput::new(segment, cleaned);
            for_each_batch(segment, &mut |header, bytes| {
                consume(bytes.len() as u64)?;
                pass.clean(header, bytes, &mut out)
            })?;
            let Some((cleaned, written)) = out.finish()? else {
                continue;
            };
            consume(written)?;
            pass.stats.segments_cleaned += 1;
            pass.stats.bytes_before += segment.size();
            pass.stats.bytes_after += written;
            self.swap_in(segment, &cleaned)?;
        }
        let mut stats = pass.stats;
        let up_to = candidates
            .last()
            .map(|s| s.next_offset().max(s.base_offset() + 1))
            .unwrap_or(0);
        let next_base = {
            let segments = self.segments.read();
            segments
                .iter()
                .map(|s| s.base_offset())
                .find(|b| *b >= up_to)
                .unwrap_or(up_to)
        };
        stats.next_tombstone_expiry_ms = pass.next_expiry;
        write_file_atomically(
            &self.dir.join(CLEANER_CHECKPOINT),
            next_base.to_string().as_bytes(),
        )?;
        self.cleaned_up_to.store(next_base, Ordering::Release);
        if stats.segments_cleaned > 0 {
            tracing::info!(
                log = %self.dir.display(),
                segments = stats.segments_cleaned,
                bytes_before = stats.bytes_before,
                bytes_after = stats.bytes_after,
                records_removed = stats.records_removed,
                "compacted log"
            );
        }
        *self.cleaner_stats.lock() = stats.clone();
        stats.dirty_ratio = self.dirty_ratio();
        Ok(stats)
    }

    /// Replaces `old` with the fsynced file `cleaned` (see the module doc for crash safety).
    fn swap_in(&self, old: &Arc<Segment>, cleaned: &Path) -> Result<(), LogError> {
        let base = old.base_offset();
        // Not the writer lock: appends only touch the active segment, so producers keep going
        // while the cleaned segment is renamed in, verified and indexed. The maintenance lock
        // keeps retention from deleting the segment under the swap.
        let _m = self.maintenance.lock();
        let still_there = self.segments.read().iter().any(|s| Arc::ptr_eq(s, old));
        if !still_there {
            // Retention removed it meanwhile; nothing to replace.
            std::fs::remove_file(cleaned).at(cleaned)?;
            return Ok(());
        }
        self.mark_unclean()?;
        // From here on the old segment's paths name other files: it must not reopen them.
        old.retire();
        for ext in ["index", "timeindex"] {
            let p = self.dir.join(segment_file_name(base, ext));
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io(p, e)),
            }
        }
        sync_dir(&self.dir)?;
        let target = self.dir.join(segment_file_name(base, "log"));
        std::fs::rename(cleaned, &target).at(&target)?;
        sync_dir(&self.dir)?;
        let index_interval = self.config.read().index_interval_bytes;
        let fresh = Segment::open_unindexed(&self.dir, base, false, old.created_ms)?;
        let outcome = fresh.rescan(index_interval)?;
        if let Some((position, reason)) = outcome.invalid {
            return Err(LogError::CorruptSegment {
                file: target,
                position,
                reason: format!("cleaned segment failed verification: {reason}"),
            });
        }
        fresh.sync_all()?;
        fresh.deactivate()?;
        let mut segments = self.segments.write();
        if let Some(slot) = segments.iter_mut().find(|s| Arc::ptr_eq(s, old)) {
            *slot = Arc::new(fresh);
        }
        Ok(())
    }
}

/// A visitor of one stored batch: its header and its bytes.
type BatchVisitor<'a> = dyn FnMut(&BatchHeader, &[u8]) -> Result<(), LogError> + 'a;

/// Calls `f` with each visible batch of `segment` in order.
fn for_each_batch(segment: &Segment, f: &mut BatchVisitor<'_>) -> Result<(), LogError> {
    let mut pos = 0u64;
    let limit = segment.visible_size();
    while pos < limit {
        let Some(header) = segment.header_at(pos)? else {
            break;
        };
        if header.batch_length <= 0 {
            return Err(LogError::CorruptSegment {
                file: segment.path().to_path_buf(),
                position: pos,
                reason: "non-positive batch length".into(),
            });
        }
        let bytes = segment.read_batch(pos, &header)?;
        f(&header, &bytes)?;
        pos += header.total_len() as u64;
    }
    Ok(())
}
