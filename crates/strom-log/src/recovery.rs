//! Opening a log directory: finding its segments, trusting the indexes of a cleanly closed
//! log, and after a crash re-verifying every segment written since the last recovery point,
//! truncating a torn or corrupt tail of the last segment and refusing to skip damage anywhere
//! else. On a read-only data directory only a cleanly closed log opens (nothing is written).

use std::path::Path;
use std::sync::Arc;

use crate::error::IoContext;
use crate::files::{read_i64_file, read_only_error, sync_dir};
use crate::roll_sync::unflushed_marker;
use crate::segment::{delete_segment_files, Segment};
use crate::LogError;

pub(crate) const CLEAN_MARKER: &str = ".clean-shutdown";
pub(crate) const RECOVERY_POINT: &str = "recovery-point";
pub(crate) const LOG_START: &str = "log-start-offset";

/// The segments found on disk and the persisted log start offset.
pub(crate) struct Recovered {
    pub(crate) segments: Vec<Arc<Segment>>,
    pub(crate) log_start: i64,
    pub(crate) truncated_bytes: u64,
    pub(crate) cleaned_up_to: i64,
    /// The clean-shutdown marker is on disk: nothing changed since the log was last known
    /// durable and consistent with its indexes.
    pub(crate) clean_marker: bool,
}

/// Removes the clean-shutdown marker durably; must precede any change to the log's files.
pub(crate) fn remove_clean_marker(dir: &Path) -> Result<(), LogError> {
    let marker = dir.join(CLEAN_MARKER);
    match std::fs::remove_file(&marker) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(marker, e)),
    }
}

/// Creates the (empty) clean-shutdown marker; one directory fsync makes it durable.
pub(crate) fn write_clean_marker(dir: &Path) -> Result<(), LogError> {
    let marker = dir.join(CLEAN_MARKER);
    std::fs::File::create(&marker).at(&marker)?;
    sync_dir(dir)
}

/// Base offsets of the `.log` files in `dir`, sorted. Leftover temporary files are removed
/// (left in place when `read_only`).
fn list_segments(dir: &Path, read_only: bool) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".log") {
            if stem.len() == 20 {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.push(base);
                    continue;
                }
            }
        }
        // Leftovers of an interrupted atomic write or compaction: the old files still stand.
        if !read_only && (name.ends_with(".tmp") || name.ends_with(".cleaned")) {
            let path = entry.path();
            std::fs::remove_file(&path).at(&path)?;
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Opens the segments of `dir`. A `read_only` open writes nothing: it opens only a log whose
/// clean-shutdown marker vouches for its indexes; a log that needs recovery (rescans that
/// rebuild indexes, a torn tail to cut, a segment to create) is refused with an `Io` error of
/// kind `ReadOnlyFilesystem` saying so.
pub(crate) fn open_segments(
    dir: &Path,
    index_interval: u64,
    now_ms: i64,
    read_only: bool,
) -> Result<Recovered, LogError> {
    if !read_only {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    let bases = list_segments(dir, read_only)?;
    let clean = dir.join(CLEAN_MARKER).exists();
    if read_only && (!clean || bases.is_empty()) {
        return Err(read_only_error(
            dir,
            "the log was not shut down cleanly and needs recovery",
        ));
    }
    // The marker stays while nothing changes: an idle log costs no fsync to open or close.
    let mut clean_kept = clean;
    let recovery_point = read_i64_file(&dir.join(RECOVERY_POINT))?.unwrap_or(0);
    let persisted_start = read_i64_file(&dir.join(LOG_START))?.unwrap_or(0);
    let cleaned_up_to =
        read_i64_file(&dir.join(crate::compaction::CLEANER_CHECKPOINT))?.unwrap_or(0);
    // Offsets between segments may only be missing where compaction removed records.
    let gaps_allowed = dir.join(crate::compaction::CLEANER_CHECKPOINT).exists();

    let mut segments: Vec<Arc<Segment>> = Vec::with_capacity(bases.len());
    let mut truncated_bytes = 0;
    for (i, &base) in bases.iter().enumerate() {
        let mut last = i + 1 == bases.len();
        let trusted = clean || (!last && base < recovery_point);
        let marker = unflushed_marker(dir, base);
        // Rolled under `interval`/`never` and not yet written back when the process stopped:
        // its tail was never promised durable, so damage there is cut off like a torn tail.
        let unflushed = !last && marker.exists();
        let segment = if trusted {
            match Segment::open(dir, base, last, now_ms) {
                Ok(s) => s,
                // A stale or missing index is rebuilt; real damage is caught by the rescan.
                Err(LogError::CorruptSegment { .. }) if read_only => {
                    return Err(read_only_error(dir, "a segment's index must be rebuilt"))
                }
                Err(LogError::CorruptSegment { .. }) => {
                    if std::mem::take(&mut clean_kept) {
                        remove_clean_marker(dir)?;
                    }
                    let s = Segment::open_unindexed(dir, base, last, now_ms)?;
                    truncated_bytes += verify(&s, index_interval, last)?;
                    s
                }
                Err(e) => return Err(e),
            }
        } else if unflushed {
            let s = Segment::open_unindexed(dir, base, false, now_ms)?;
            let cut = verify(&s, index_interval, true)?;
            // A power loss can also leave a clean prefix (cut at a batch boundary): the
            // segment then ends short of the next one, and what follows it cannot stand.
            // (Compaction may leave such gaps on purpose.)
            let short =
                !gaps_allowed && bases.get(i + 1).is_some_and(|&next| s.next_offset() < next);
            if cut > 0 || short {
                truncated_bytes += cut;
                let dropped = drop_segments_after(dir, &bases[i + 1..])?;
                tracing::warn!(segment = %s.path().display(), bytes = cut, later_segments = dropped,
                    "a rolled segment had not been written back before the stop: truncated its \
                     damaged or missing tail and removed the segments after it");
                drop(s);
                last = true;
                let s = Segment::open_unindexed(dir, base, true, now_ms)?;
                verify(&s, index_interval, true)?;
                s
            } else {
                s
            }
        } else {
            let s = Segment::open_unindexed(dir, base, last, now_ms)?;
            truncated_bytes += verify(&s, index_interval, last)?;
            s
        };
        if let Some(prev) = segments.last() {
            if prev.next_offset() < base && !gaps_allowed {
                return Err(LogError::CorruptSegment {
                    file: segment.path().to_path_buf(),
                    position: 0,
                    reason: format!(
                        "offsets {}..{base} are missing: the previous segment ends at {} \
                         (a segment file was lost?)",
                        prev.next_offset(),
                        prev.next_offset()
                    ),
                });
            }
            if prev.next_offset() > base {
                return Err(LogError::CorruptSegment {
                    file: segment.path().to_path_buf(),
                    position: 0,
                    reason: format!(
                        "segment starts at offset {base} but the previous one ends at {}",
                        prev.next_offset()
                    ),
                });
            }
        }
        if !last {
            segment.deactivate()?;
        }
        if marker.exists() && read_only {
            return Err(read_only_error(dir, "a rolled segment must be synced"));
        }
        if marker.exists() {
            // Whatever survived is made durable now, so the marker can go.
            segment.sync_all()?;
            std::fs::remove_file(&marker).at(&marker)?;
            sync_dir(dir)?;
        }
        segments.push(Arc::new(segment));
        if last {
            break;
        }
    }
    if segments.is_empty() {
        let base = persisted_start.max(0);
        segments.push(Arc::new(Segment::create(dir, base, now_ms)?));
        // A new, empty log is clean; the one directory fsync covers the files and the marker.
        std::fs::File::create(dir.join(CLEAN_MARKER)).at(dir)?;
        clean_kept = true;
        sync_dir(dir)?;
    }
    let first_base = segments.first().map(|s| s.base_offset()).unwrap_or(0);
    Ok(Recovered {
        cleaned_up_to,
        log_start: persisted_start.max(first_base),
        segments,
        truncated_bytes,
        clean_marker: clean_kept,
    })
}

/// Removes the files of the segments with these base offsets; returns how many there were.
fn drop_segments_after(dir: &Path, bases: &[i64]) -> Result<usize, LogError> {
    for &base in bases {
        delete_segment_files(dir, base)?;
    }
    sync_dir(dir)?;
    Ok(bases.len())
}

/// Rescans a segment. An invalid tail of the last segment is truncated (a torn write);
/// anywhere else it is reported. Returns the bytes truncated.
fn verify(segment: &Segment, index_interval: u64, last: bool) -> Result<u64, LogError> {
    let file_len = segment.file()?.metadata().at(segment.path())?.len();
    let outcome = segment.rescan(index_interval)?;
    match outcome.invalid {
        None => Ok(0),
        Some((position, reason)) if last => {
            tracing::warn!(
                segment = %segment.path().display(),
                position,
                reason = %reason,
                dropped_bytes = file_len - outcome.valid_bytes,
                "truncating the torn or corrupt tail of the log"
            );
            segment.truncate(outcome.valid_bytes)?;
            Ok(file_len - outcome.valid_bytes)
        }
        Some((position, reason)) => Err(LogError::CorruptSegment {
            file: segment.path().to_path_buf(),
            position,
            reason,
        }),
    }
}
