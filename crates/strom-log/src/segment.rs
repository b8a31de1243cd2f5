//! One segment: a `.log` file of record batches named by its 20-digit base offset, with its
//! offset and time indexes. Owns positional reads and writes of that file and the scan that
//! rebuilds its indexes; it knows nothing about other segments or durability policy.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::batch::{self, BatchHeader, BATCH_HEADER_LEN};
use crate::error::IoContext;
use crate::fd_cache::{CachedFile, Mode};
use crate::index::{self, IndexFile, OFFSET_ENTRY, TIME_ENTRY};
use crate::LogError;

mod read;

pub(crate) fn segment_file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:020}.{ext}")
}

/// Indexes plus the writer's bookkeeping for when to add the next entry.
struct Indexes {
    offsets: IndexFile,
    times: IndexFile,
    bytes_since_entry: u64,
    /// Largest timestamp of all batches appended so far.
    max_timestamp: i64,
}

pub(crate) struct Segment {
    base_offset: i64,
    path: PathBuf,
    /// Opened on demand under the process-wide file budget (see `fd_cache`).
    file: Arc<CachedFile>,
    indexes: Mutex<Indexes>,
    /// Bytes written.
    size: AtomicU64,
    /// Bytes readers may see (equals `size` except while waiting for an fsync under `Always`).
    visible: AtomicU64,
    /// One past the last offset written.
    next_offset: AtomicI64,
    max_timestamp: AtomicI64,
    /// Wall-clock time of the segment's creation or opening, for `segment.ms`.
    pub(crate) created_ms: i64,
}

/// What scanning a segment found.
pub(crate) struct ScanOutcome {
    /// Bytes of valid batches from the start.
    pub(crate) valid_bytes: u64,
    /// Why the scan stopped before the end of the file, with the position.
    pub(crate) invalid: Option<(u64, String)>,
}

impl Segment {
    /// Creates a new, empty segment (files truncated if they exist).
    pub(crate) fn create(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Segment, LogError> {
        let path = dir.join(segment_file_name(base_offset, "log"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .at(&path)?;
        let leftover = file.metadata().at(&path)?.len() > 0;
        if leftover {
            file.set_len(0).at(&path)?;
        }
        let file = CachedFile::with_open(&path, Mode::Existing, file);
        if leftover {
            // The truncation must reach the disk with the first sync.
            file.mark_written();
        }
        let mut offsets = IndexFile::open(
            &dir.join(segment_file_name(base_offset, "index")),
            OFFSET_ENTRY,
            true,
        )?;
        let mut times = IndexFile::open(
            &dir.join(segment_file_name(base_offset, "timeindex")),
            TIME_ENTRY,
            true,
        )?;
        offsets.clear()?;
        times.clear()?;
        Ok(Segment {
            base_offset,
            path,
            file,
            indexes: Mutex::new(Indexes {
                offsets,
                times,
                bytes_since_entry: 0,
                max_timestamp: -1,
            }),
            size: AtomicU64::new(0),
            visible: AtomicU64::new(0),
            next_offset: AtomicI64::new(base_offset),
            max_timestamp: AtomicI64::new(-1),
            created_ms: now_ms,
        })
    }

    /// Opens an existing segment trusting its indexes (clean shutdown or below the recovery
    /// point). Reads only the tail after the last index entry to learn the next offset and
    /// largest timestamp. `active` keeps the indexes in memory.
    pub(crate) fn open(
        dir: &Path,
        base_offset: i64,
        active: bool,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        let segment = Segment::open_unindexed(dir, base_offset, active, now_ms)?;
        segment.load_tail()?;
        // Trusted means already on disk: closing it again needs no fsync.
        segment.file.mark_synced();
        Ok(segment)
    }

    /// Opens the files without reading anything; the caller must [`Segment::rescan`] next.
    pub(crate) fn open_unindexed(
        dir: &Path,
        base_offset: i64,
        active: bool,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        let path = dir.join(segment_file_name(base_offset, "log"));
        let file = CachedFile::open(&path, Mode::Existing).at(&path)?;
        let size = file.get().and_then(|f| f.metadata()).at(&path)?.len();
        // Written by an earlier process and maybe not yet on disk: the first sync syncs it.
        file.mark_written();
        let offsets = IndexFile::open(
            &dir.join(segment_file_name(base_offset, "index")),
            OFFSET_ENTRY,
            active,
        )?;
        let times = IndexFile::open(
            &dir.join(segment_file_name(base_offset, "timeindex")),
            TIME_ENTRY,
            active,
        )?;
        let segment = Segment {
            base_offset,
            path,
            file,
            indexes: Mutex::new(Indexes {
                offsets,
                times,
                bytes_since_entry: 0,
                max_timestamp: -1,
            }),
            size: AtomicU64::new(size),
            visible: AtomicU64::new(size),
            next_offset: AtomicI64::new(base_offset),
            max_timestamp: AtomicI64::new(-1),
            created_ms: now_ms,
        };
        Ok(segment)
    }

    /// Learns next offset and max timestamp from the last index entries and the batches after
    /// them; a damaged index or tail is reported as a corrupt segment.
    fn load_tail(&self) -> Result<(), LogError> {
        let size = self.size();
        let mut idx = self.indexes.lock();
        let (start, mut max_ts) = match (idx.offsets.last()?, idx.times.last()?) {
            (Some(o), t) => {
                let (_, pos) = index::parse_offset_entry(&o);
                let ts = t.map(|t| index::parse_time_entry(&t).0).unwrap_or(-1);
                (u64::from(pos), ts)
            }
            (None, _) => (0, -1),
        };
        if size > 0 && (idx.offsets.len() == 0 || start >= size) {
            return Err(self.corrupt(start, "index does not match the segment file"));
        }
        let mut next = self.base_offset;
        let mut since = 0u64;
        let mut pos = start;
        while pos < size {
            let header = self.header_at(pos)?;
            let header = match header {
                Some(h) if h.magic == 2 && pos + h.total_len() as u64 <= size => h,
                _ => return Err(self.corrupt(pos, "invalid batch header")),
            };
            next = header.last_offset() + 1;
            max_ts = max_ts.max(header.max_timestamp);
            pos += header.total_len() as u64;
            since += header.total_len() as u64;
        }
        idx.bytes_since_entry = since;
        idx.max_timestamp = max_ts;
        self.next_offset.store(next, Ordering::Release);
        self.max_timestamp.store(max_ts, Ordering::Release);
        Ok(())
    }

    fn corrupt(&self, position: u64, reason: &str) -> LogError {
        LogError::CorruptSegment {
            file: self.path.clone(),
            position,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }
    pub(crate) fn visible_size(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }
    pub(crate) fn set_visible(&self, size: u64) {
        self.visible.fetch_max(size, Ordering::AcqRel);
    }
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset.load(Ordering::Acquire)
    }
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.max_timestamp.load(Ordering::Acquire)
    }
    /// The open segment file (reopened if the file budget closed it).
    ///
    /// Errors: `Io` (`NotFound` once the segment is retired).
    pub(crate) fn file(&self) -> Result<Arc<File>, LogError> {
        self.file.get().at(&self.path)
    }

    /// Refuses to reopen the segment's files once closed: their paths are about to be
    /// removed or to name a replacement. Callers that then fail on this segment retry with
    /// the log's current segment list.
    pub(crate) fn retire(&self) {
        self.file.retire();
        let idx = self.indexes.lock();
        idx.offsets.retire();
        idx.times.retire();
    }

    /// `fdatasync` of the segment file, if anything was written since the last one.
    pub(crate) fn sync_data(&self) -> Result<(), LogError> {
        self.file.sync_data().at(&self.path)
    }

    /// Appends already validated and stamped batches. `headers` describe them in order.
    /// Single writer: the caller holds the log's writer lock.
    pub(crate) fn append(
        &self,
        bytes: &[u8],
        headers: &[BatchHeader],
        index_interval: u64,
    ) -> Result<(), LogError> {
        let start = self.size();
        self.file()?.write_all_at(bytes, start).at(&self.path)?;
        self.file.mark_written();
        let mut idx = self.indexes.lock();
        let mut pos = start;
        for h in headers {
            if idx.offsets.len() == 0 || idx.bytes_since_entry >= index_interval {
                let rel = (h.base_offset - self.base_offset) as u32;
                idx.offsets.append(&index::offset_entry(rel, pos as u32))?;
                let before = idx.max_timestamp;
                idx.times.append(&index::time_entry(before, rel))?;
                idx.bytes_since_entry = 0;
            }
            idx.bytes_since_entry += h.total_len() as u64;
            idx.max_timestamp = idx.max_timestamp.max(h.max_timestamp);
            pos += h.total_len() as u64;
        }
        let max_ts = idx.max_timestamp;
        drop(idx);
        if let Some(last) = headers.last() {
            self.next_offset
                .store(last.last_offset() + 1, Ordering::Release);
        }
        self.max_timestamp.store(max_ts, Ordering::Release);
        self.size.store(pos, Ordering::Release);
        Ok(())
    }

    /// Verifies every batch from the start (CRC included) and rebuilds both indexes from what
    /// is valid. Does not truncate: the caller decides what an invalid tail means.
    pub(crate) fn rescan(&self, index_interval: u64) -> Result<ScanOutcome, LogError> {
        let file = self.file()?;
        let size = file.metadata().at(&self.path)?.len();
        let mut idx = self.indexes.lock();
        idx.offsets.clear()?;
        idx.times.clear()?;
        idx.bytes_since_entry = 0;
        idx.max_timestamp = -1;
        let mut pos = 0u64;
        let mut next = self.base_offset;
        let mut invalid = None;
        let mut buf = Vec::new();
        while pos < size {
            let mut head = [0u8; BATCH_HEADER_LEN];
            if pos + BATCH_HEADER_LEN as u64 > size {
                invalid = Some((pos, "truncated batch header".to_string()));
                break;
            }
            file.read_exact_at(&mut head, pos).at(&self.path)?;
            let Some(h) = BatchHeader::parse(&head) else {
                invalid = Some((pos, "truncated batch header".to_string()));
                break;
            };
            let total = h.total_len() as u64;
            if h.magic != 2 || h.batch_length <= 0 || pos + total > size {
                invalid = Some((pos, "truncated or invalid batch".to_string()));
                break;
            }
            if h.base_offset < next {
                invalid = Some((pos, format!("offset {} goes backwards", h.base_offset)));
                break;
            }
            buf.resize(total as usize, 0);
            file.read_exact_at(&mut buf, pos).at(&self.path)?;
            if let Err(reason) = batch::verify_stored(&buf) {
                invalid = Some((pos, reason));
                break;
            }
            if idx.offsets.len() == 0 || idx.bytes_since_entry >= index_interval {
                let rel = (h.base_offset - self.base_offset) as u32;
                idx.offsets.append(&index::offset_entry(rel, pos as u32))?;
                let before = idx.max_timestamp;
                idx.times.append(&index::time_entry(before, rel))?;
                idx.bytes_since_entry = 0;
            }
            idx.bytes_since_entry += total;
            idx.max_timestamp = idx.max_timestamp.max(h.max_timestamp);
            next = h.last_offset() + 1;
            pos += total;
        }
        self.max_timestamp
            .store(idx.max_timestamp, Ordering::Release);
        self.next_offset.store(next, Ordering::Release);
        self.size.store(pos, Ordering::Release);
        self.visible.store(pos, Ordering::Release);
        Ok(ScanOutcome {
            valid_bytes: pos,
            invalid,
        })
    }

    /// Cuts the file to `len` bytes (after a rescan found an invalid tail).
    pub(crate) fn truncate(&self, len: u64) -> Result<(), LogError> {
        self.file()?.set_len(len).at(&self.path)?;
        self.file.sync_all().at(&self.path)
    }

    /// Forces data and indexes to disk (files not written since their last sync are skipped).
    pub(crate) fn sync_all(&self) -> Result<(), LogError> {
        self.file.sync_data().at(&self.path)?;
        let mut idx = self.indexes.lock();
        idx.offsets.sync()?;
        idx.times.sync()
    }

    /// Writes and releases the in-memory index copy once this segment is closed for writes.
    pub(crate) fn deactivate(&self) -> Result<(), LogError> {
        let mut idx = self.indexes.lock();
        idx.offsets.release_cache()?;
        idx.times.release_cache()
    }

    /// Removes the segment's files.
    pub(crate) fn delete_files(&self, dir: &Path) -> Result<(), LogError> {
        delete_segment_files(dir, self.base_offset)
    }
}

/// Removes the files of the segment at `base_offset` in `dir` (those present).
pub(crate) fn delete_segment_files(dir: &Path, base_offset: i64) -> Result<(), LogError> {
    for ext in ["log", "index", "timeindex", "unflushed"] {
        let p = dir.join(segment_file_name(base_offset, ext));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LogError::io(p, e)),
        }
    }
    Ok(())
}
