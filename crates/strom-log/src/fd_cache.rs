//! The process-wide budget of open segment and index files.
//!
//! Every segment file (`.log`, `.index`, `.timeindex`) is a [`CachedFile`]: a path that is
//! opened on first use and may be closed again whenever more than the budget of files is
//! open, whatever the number of partitions. Eviction is a clock (second-chance) sweep over
//! the open files: a file used since the last sweep is spared once. Readers clone an
//! `Arc<File>` and do positional I/O on it, so closing a cached file never disturbs an
//! operation in flight (its descriptor closes when that operation drops its clone); the hot
//! path takes only the file's own small lock, the global ring lock is taken only to open or
//! evict.
//!
//! Must not: reopen a file whose path now names different data. Segments that are deleted or
//! replaced (retention, compaction swap) are [`CachedFile::retire`]d first; a retired file
//! that is no longer open answers `NotFound` and the log retries with its current segments.
//!
//! Closing a file with unsynced writes is safe on Linux: dirty pages belong to the inode, a
//! later `fsync` through a new descriptor writes them, and since Linux 4.16 a write-back error
//! not yet reported to anyone is reported to that `fsync` too. Files that were never written
//! since their last sync are not synced again, so closing an idle partition costs no fsync.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

/// Fewest files the budget allows, so a log can always open its active segment.
const MIN_BUDGET: usize = 16;

struct Cache {
    /// Most files kept open; 0 until set or first derived from `RLIMIT_NOFILE`.
    limit: AtomicUsize,
    open: AtomicUsize,
    ring: Mutex<VecDeque<Weak<CachedFile>>>,
    opened_total: AtomicU64,
    evicted_total: AtomicU64,
}

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Cache {
        limit: AtomicUsize::new(0),
        open: AtomicUsize::new(0),
        ring: Mutex::new(VecDeque::new()),
        opened_total: AtomicU64::new(0),
        evicted_total: AtomicU64::new(0),
    })
}

/// Sets how many segment and index files all logs of this process keep open at most
/// (at least 16). Files in use by an operation stay open until it ends, so the true count
/// may briefly exceed this by the number of operations in flight.
pub fn set_open_file_budget(files: usize) {
    cache()
        .limit
        .store(files.max(MIN_BUDGET), Ordering::Release);
}

/// The current budget; unless set, half of the soft `RLIMIT_NOFILE` (the other half is left
/// for sockets, directories and short-lived files).
pub fn open_file_budget() -> usize {
    let c = cache();
    match c.limit.load(Ordering::Acquire) {
        0 => {
            let derived = (crate::fd_limit::soft_nofile() / 2).max(MIN_BUDGET as u64);
            let derived = usize::try_from(derived).unwrap_or(usize::MAX);
            // Another thread may have set it meanwhile; keep theirs.
            let _ = c
                .limit
                .compare_exchange(0, derived, Ordering::AcqRel, Ordering::Acquire);
            c.limit.load(Ordering::Acquire)
        }
        n => n,
    }
}

/// Counters of the file cache, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileStats {
    /// Segment and index files open in the cache now.
    pub open: usize,
    pub budget: usize,
    /// Opens since the start of the process (first opens and reopens after eviction).
    pub opened_total: u64,
    pub evicted_total: u64,
}

pub fn open_file_stats() -> OpenFileStats {
    let c = cache();
    OpenFileStats {
        open: c.open.load(Ordering::Acquire),
        budget: open_file_budget(),
        opened_total: c.opened_total.load(Ordering::Acquire),
        evicted_total: c.evicted_total.load(Ordering::Acquire),
    }
}

impl Cache {
    /// Closes least recently used files until one more fits in the budget. Files whose lock
    /// is busy are skipped; the sweep is bounded, so a budget smaller than the files in use
    /// at once overshoots rather than spins.
    fn make_room(&self) {
        let limit = open_file_budget();
        if self.open.load(Ordering::Acquire) < limit {
            return;
        }
        let mut ring = self.ring.lock();
        let mut steps = ring.len() * 2 + 1;
        while self.open.load(Ordering::Acquire) >= limit && steps > 0 {
            steps -= 1;
            let Some(weak) = ring.pop_front() else { break };
            let Some(file) = weak.upgrade() else { continue };
            let Some(mut state) = file.state.try_lock() else {
                ring.push_back(weak);
                continue;
            };
            if file.used.swap(false, Ordering::AcqRel) {
                drop(state);
                ring.push_back(weak);
                continue;
            }
            state.in_ring = false;
            if state.file.take().is_some() {
                self.open.fetch_sub(1, Ordering::AcqRel);
                self.evicted_total.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// How a segment file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Read-write; the file must exist.
    Existing,
    /// Read-write, created if missing (index files are derived data).
    Create,
}

struct State {
    file: Option<Arc<File>>,
    retired: bool,
    /// An entry for this file is in the ring.
    in_ring: bool,
}

/// One segment or index file, open while the budget allows.
pub(crate) struct CachedFile {
    path: PathBuf,
    mode: Mode,
    state: Mutex<State>,
    used: AtomicBool,
    /// Written (or truncated) since the last successful sync.
    unsynced: AtomicBool,
}

impl CachedFile {
    /// Wraps an already open file (just created or checked).
    pub(crate) fn with_open(path: &Path, mode: Mode, file: File) -> Arc<CachedFile> {
        let cached = Arc::new(CachedFile {
            path: path.to_path_buf(),
            mode,
            state: Mutex::new(State {
                file: None,
                retired: false,
                in_ring: false,
            }),
            used: AtomicBool::new(true),
            unsynced: AtomicBool::new(false),
        });
        cache().make_room();
        cache().opened_total.fetch_add(1, Ordering::Relaxed);
        cached.install(file);
        cached
    }

    /// Opens `path` now (so a missing file is reported at once) under the budget.
    pub(crate) fn open(path: &Path, mode: Mode) -> io::Result<Arc<CachedFile>> {
        cache().make_room();
        let file = open_with(path, mode)?;
        Ok(CachedFile::with_open(path, mode, file))
    }

    fn install(self: &Arc<Self>, file: File) -> Arc<File> {
        let file = Arc::new(file);
        let push = {
            let mut state = self.state.lock();
            if state.file.is_none() {
                cache().open.fetch_add(1, Ordering::AcqRel);
            }
            state.file = Some(Arc::clone(&file));
            !std::mem::replace(&mut state.in_ring, true)
        };
        if push {
            cache().ring.lock().push_back(Arc::downgrade(self));
        }
        file
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, reopened if the cache closed it.
    ///
    /// Errors: `NotFound` once the file is retired and closed, or the open's own error.
    pub(crate) fn get(self: &Arc<Self>) -> io::Result<Arc<File>> {
        self.used.store(true, Ordering::Release);
        if let Some(file) = &self.state.lock().file {
            return Ok(Arc::clone(file));
        }
        cache().make_room();
        let state = self.state.lock();
        if let Some(file) = &state.file {
            return Ok(Arc::clone(file));
        }
        if state.retired {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the segment was removed or replaced",
            ));
        }
        // Opened under the lock, so `retire` cannot slip in between the check and the open.
        let file = open_with(&self.path, self.mode)?;
        cache().opened_total.fetch_add(1, Ordering::Relaxed);
        drop(state);
        Ok(self.install(file))
    }

    /// Records that the file was written; the next [`CachedFile::sync_data`] must sync it.
    /// Call after the write returned.
    pub(crate) fn mark_written(&self) {
        self.unsynced.store(true, Ordering::Release);
    }

    /// Records that the file's content is known to be on disk already.
    pub(crate) fn mark_synced(&self) {
        self.unsynced.store(false, Ordering::Release);
    }

    /// `fdatasync` if anything was written since the last sync; nothing otherwise, and
    /// nothing for a retired file (its data is being removed or was replaced).
    pub(crate) fn sync_data(self: &Arc<Self>) -> io::Result<()> {
        if !self.unsynced.swap(false, Ordering::AcqRel) || self.state.lock().retired {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let result = self.get().and_then(|f| f.sync_data());
        metrics::histogram!("strom_log_fsync_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.unsynced.store(true, Ordering::Release);
        }
        result
    }

    /// `fsync` including metadata (after a truncation); nothing for a retired file.
    pub(crate) fn sync_all(self: &Arc<Self>) -> io::Result<()> {
        self.unsynced.store(false, Ordering::Release);
        if self.state.lock().retired {
            return Ok(());
        }
        let result = self.get().and_then(|f| f.sync_all());
        if result.is_err() {
            self.unsynced.store(true, Ordering::Release);
        }
        result
    }

    /// Refuses to reopen the file once it is closed: its path is about to be removed or to
    /// name another file. While still open it keeps serving the old data (as an open file
    /// does after `unlink` or `rename`), so readers that picked the segment just before
    /// rarely notice; it is closed by eviction or when the segment is dropped.
    pub(crate) fn retire(&self) {
        self.state.lock().retired = true;
    }
}

impl Drop for CachedFile {
    fn drop(&mut self) {
        if self.state.get_mut().file.take().is_some() {
            cache().open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Opens read-write; an existing file on a read-only file system (or without write
/// permission) is opened read-only instead, so a read-only log can still be read. Its writes
/// then fail (`EBADF`), which poisons the log as any failed write does.
fn open_with(path: &Path, mode: Mode) -> io::Result<File> {
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(mode == Mode::Create)
        .truncate(false)
        .open(path);
    match opened {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EROFS | libc::EACCES | libc::EPERM)
            ) =>
        {
            File::open(path).map_err(|_| e)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    fn read_all(file: &File) -> Vec<u8> {
        let mut buf = vec![0u8; 3];
        file.read_exact_at(&mut buf, 0).expect("read");
        buf
    }

    #[test]
    fn a_retired_file_serves_while_open_and_is_never_reopened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("00.log");
        std::fs::write(&path, b"old").expect("write");
        let cached = CachedFile::open(&path, Mode::Existing).expect("open");
        cached.retire();
        // The path now names a replacement, as after a compaction swap.
        let replacement = dir.path().join("00.log.cleaned");
        std::fs::write(&replacement, b"new").expect("write");
        std::fs::rename(&replacement, &path).expect("rename");
        assert_eq!(read_all(&cached.get().expect("still open")), b"old");
        // Evicted: it must refuse to reopen the path rather than serve the other file.
        if cached.state.lock().file.take().is_some() {
            cache().open.fetch_sub(1, Ordering::AcqRel);
        }
        let err = cached.get().expect_err("a retired file is not reopened");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(
            cached.sync_data().is_ok(),
            "nothing to sync for a retired file"
        );
    }

    #[test]
    fn an_evicted_file_is_reopened_on_its_next_use() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("01.log");
        std::fs::write(&path, b"abc").expect("write");
        let cached = CachedFile::open(&path, Mode::Existing).expect("open");
        if cached.state.lock().file.take().is_some() {
            cache().open.fetch_sub(1, Ordering::AcqRel);
        }
        assert_eq!(read_all(&cached.get().expect("reopened")), b"abc");
    }
}
