//! Sparse indexes beside each segment: fixed-width entries appended to a file, searched by
//! binary search. The active segment keeps its entries in memory and writes them to the file
//! only when it is synced (roll, flush, close): the index is derived data that recovery
//! rebuilds for any segment not closed cleanly, so appends pay no index write. Closed
//! segments are searched with positional reads, so memory stays flat however long the log grows.
//!
//! Offset index entry (8 bytes): relative offset u32, file position u32 (big-endian).
//! Time index entry (12 bytes): largest timestamp *before* the indexed batch i64, relative
//! offset u32 — so every batch before the entry is known to be older than or equal to it.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::error::IoContext;
use crate::fd_cache::{CachedFile, Mode};
use crate::LogError;

pub(crate) const OFFSET_ENTRY: usize = 8;
pub(crate) const TIME_ENTRY: usize = 12;

/// One index file of fixed-width entries.
pub(crate) struct IndexFile {
    /// Opened on demand under the process-wide file budget.
    file: Arc<CachedFile>,
    width: usize,
    entries: u64,
    /// Entries already in the file; the rest are only in `cache`.
    persisted: u64,
    /// All entries, for the active segment only.
    cache: Option<Vec<u8>>,
}

impl IndexFile {
    /// Opens or creates the file; a partial trailing entry (torn write) is cut off.
    pub(crate) fn open(path: &Path, width: usize, cached: bool) -> Result<IndexFile, LogError> {
        let file = CachedFile::open(path, Mode::Create).at(path)?;
        let len = file.get().and_then(|f| f.metadata()).at(path)?.len();
        let entries = len / width as u64;
        if entries * width as u64 != len {
            file.get()
                .and_then(|f| f.set_len(entries * width as u64))
                .at(path)?;
            file.mark_written();
        }
        let mut index = IndexFile {
            file,
            width,
            entries,
            persisted: entries,
            cache: None,
        };
        if cached {
            index.load_cache()?;
        }
        Ok(index)
    }

    fn load_cache(&mut self) -> Result<(), LogError> {
        let mut buf = vec![0u8; (self.entries as usize) * self.width];
        self.handle()?.read_exact_at(&mut buf, 0).at(self.path())?;
        self.cache = Some(buf);
        Ok(())
    }

    /// Writes entries that so far exist only in memory, then drops the in-memory copy once
    /// the segment is no longer active.
    pub(crate) fn release_cache(&mut self) -> Result<(), LogError> {
        self.write_pending()?;
        self.cache = None;
        Ok(())
    }

    /// Writes the entries that so far exist only in memory.
    fn write_pending(&mut self) -> Result<(), LogError> {
        if let Some(cache) = &self.cache {
            if self.persisted < self.entries {
                let from = self.persisted as usize * self.width;
                self.handle()?
                    .write_all_at(&cache[from..], from as u64)
                    .at(self.path())?;
                self.file.mark_written();
                self.persisted = self.entries;
            }
        }
        Ok(())
    }

    fn path(&self) -> &Path {
        self.file.path()
    }

    /// The open file (reopened if the budget closed it).
    fn handle(&self) -> Result<Arc<std::fs::File>, LogError> {
        self.file.get().at(self.file.path())
    }

    /// Closes the file and refuses to reopen it (the segment is being removed or replaced).
    pub(crate) fn retire(&self) {
        self.file.retire();
    }

    pub(crate) fn len(&self) -> u64 {
        self.entries
    }

    pub(crate) fn append(&mut self, entry: &[u8]) -> Result<(), LogError> {
        debug_assert_eq!(entry.len(), self.width);
        match &mut self.cache {
            Some(cache) => cache.extend_from_slice(entry),
            None => {
                self.handle()?
                    .write_all_at(entry, self.entries * self.width as u64)
                    .at(self.path())?;
                self.file.mark_written();
                self.persisted += 1;
            }
        }
        self.entries += 1;
        Ok(())
    }

    /// Reads entry `i` into `out` (which must be `width` long). `file` is the open file
    /// when the entries are not in memory.
    fn entry(&self, file: Option<&std::fs::File>, i: u64, out: &mut [u8]) -> Result<(), LogError> {
        let at = i as usize * self.width;
        match (&self.cache, file) {
            (Some(cache), _) => {
                out.copy_from_slice(&cache[at..at + self.width]);
                Ok(())
            }
            (None, Some(file)) => file.read_exact_at(out, at as u64).at(self.path()),
            (None, None) => self.handle()?.read_exact_at(out, at as u64).at(self.path()),
        }
    }

    /// The open file if entries must be read from it, fetched once per search.
    fn reader(&self) -> Result<Option<Arc<std::fs::File>>, LogError> {
        match (&self.cache, self.entries) {
            (Some(_), _) | (None, 0) => Ok(None),
            (None, _) => self.handle().map(Some),
        }
    }

    /// The last entry for which `le(entry)` holds, assuming `le` is monotone (true then false).
    pub(crate) fn floor(&self, le: impl Fn(&[u8]) -> bool) -> Result<Option<Vec<u8>>, LogError> {
        let mut buf = vec![0u8; self.width];
        let file = self.reader()?;
        let file = file.as_deref();
        let (mut lo, mut hi) = (0u64, self.entries);
        // Invariant: entries below `lo` satisfy `le`, entries at or above `hi` do not.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            self.entry(file, mid, &mut buf)?;
            if le(&buf) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            return Ok(None);
        }
        self.entry(file, lo - 1, &mut buf)?;
        Ok(Some(buf))
    }

    pub(crate) fn last(&self) -> Result<Option<Vec<u8>>, LogError> {
        if self.entries == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; self.width];
        self.entry(None, self.entries - 1, &mut buf)?;
        Ok(Some(buf))
    }

    /// Removes every entry.
    pub(crate) fn clear(&mut self) -> Result<(), LogError> {
        // `entries` counts what the file holds (a torn tail was cut at open), so an empty
        // index needs no write and, later, no fsync.
        if self.persisted > 0 {
            self.handle()?.set_len(0).at(self.path())?;
            self.file.mark_written();
        }
        self.entries = 0;
        self.persisted = 0;
        if let Some(cache) = &mut self.cache {
            cache.clear();
        }
        Ok(())
    }

    /// Writes pending entries and forces the file to disk.
    pub(crate) fn sync(&mut self) -> Result<(), LogError> {
        self.write_pending()?;
        self.file.sync_data().at(self.file.path())
    }
}

pub(crate) fn offset_entry(rel_offset: u32, position: u32) -> [u8; OFFSET_ENTRY] {
    let mut e = [0u8; OFFSET_ENTRY];
    e[..4].copy_from_slice(&rel_offset.to_be_bytes());
    e[4..].copy_from_slice(&position.to_be_bytes());
    e
}

pub(crate) fn parse_offset_entry(e: &[u8]) -> (u32, u32) {
    (
        u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
        u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
    )
}

pub(crate) fn time_entry(timestamp: i64, rel_offset: u32) -> [u8; TIME_ENTRY] {
    let mut e = [0u8; TIME_ENTRY];
    e[..8].copy_from_slice(&timestamp.to_be_bytes());
    e[8..].copy_from_slice(&rel_offset.to_be_bytes());
    e
}

pub(crate) fn parse_time_entry(e: &[u8]) -> (i64, u32) {
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&e[..8]);
    (
        i64::from_be_bytes(ts),
        u32::from_be_bytes([e[8], e[9], e[10], e[11]]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_finds_last_entry_not_above_target_cached_and_uncached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.index");
        let mut idx = IndexFile::open(&path, OFFSET_ENTRY, true).expect("open");
        for i in 0..100u32 {
            idx.append(&offset_entry(i * 10, i * 1000)).expect("append");
        }
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len(),
            0,
            "the active index is written only when synced"
        );
        idx.sync().expect("sync");
        for cached in [true, false] {
            let idx = IndexFile::open(&path, OFFSET_ENTRY, cached).expect("reopen");
            let find = |t: u32| {
                idx.floor(|e| parse_offset_entry(e).0 <= t)
                    .expect("floor")
                    .map(|e| parse_offset_entry(&e))
            };
            assert_eq!(find(0), Some((0, 0)));
            assert_eq!(find(15), Some((10, 1000)));
            assert_eq!(find(990), Some((990, 99_000)));
            assert_eq!(find(5000), Some((990, 99_000)));
        }
    }

    #[test]
    fn torn_trailing_entry_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.timeindex");
        std::fs::write(&path, [0u8; TIME_ENTRY * 2 + 5]).expect("write");
        let idx = IndexFile::open(&path, TIME_ENTRY, false).expect("open");
        assert_eq!(idx.len(), 2);
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len(),
            TIME_ENTRY as u64 * 2
        );
    }
}
