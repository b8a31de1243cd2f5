//! [`DiskGuard`]: whether the data directory's file system can take more writes, checked
//! cheaply on every append.
//!
//! A background check (every [`DiskConfig::check_interval`]) reads `statvfs` for the free
//! space, the size and the read-only flag; between checks every accepted append subtracts its
//! size from the cached free figure, so a fast producer cannot run far past the minimum. An
//! append is refused early — before anything is written — while free space is below
//! [`DiskConfig::min_free_bytes`] (or `min_free_percent` of the file system, whichever is
//! larger) or while the file system is read-only. A write that fails with `ENOSPC`, `EROFS` or
//! `EACCES` flips the state at once, without waiting for the next check. This module never
//! writes data and knows nothing of partitions; the broker reopens poisoned logs once
//! [`DiskGuard::refresh`] reports that writes are accepted again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use crate::BrokerError;

/// Limits on the data directory's file system.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskConfig {
    /// Appends are refused while fewer bytes than this are free.
    pub min_free_bytes: u64,
    /// Appends are refused while less than this percentage of the file system is free
    /// (0 turns the percentage off); the larger of the two minimums applies.
    pub min_free_percent: f64,
    /// How often free space and the read-only flag are read.
    pub check_interval: Duration,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig {
            min_free_bytes: 128 << 20,
            min_free_percent: 0.0,
            check_interval: Duration::from_secs(1),
        }
    }
}

/// Whether writes are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskState {
    Writable,
    /// Free space is below the configured minimum (or a write hit `ENOSPC`).
    LowSpace,
    /// The file system is mounted read-only (or a write hit `EROFS` / `EACCES`).
    ReadOnly,
}

impl DiskState {
    fn from_u8(v: u8) -> DiskState {
        match v {
            1 => DiskState::LowSpace,
            2 => DiskState::ReadOnly,
            _ => DiskState::Writable,
        }
    }
}

/// A snapshot for health endpoints and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageStatus {
    pub state: DiskState,
    /// Free bytes as last measured, less what was appended since.
    pub free_bytes: u64,
    pub total_bytes: u64,
    /// The effective minimum (the larger of the byte and percentage settings).
    pub min_free_bytes: u64,
    /// Partitions whose log refuses writes after a failed write or fsync, waiting to be
    /// reopened from disk.
    pub poisoned_partitions: usize,
    /// Appends refused because of the state above, since start.
    pub refused_appends: u64,
    /// Poisoned partitions reopened from disk without a restart, since start.
    pub reopened_partitions: u64,
    /// Topics a read-only start could not open (their logs need recovery, which writes);
    /// opened once the directory is writable. Filled in by the broker.
    pub unavailable_topics: usize,
}

impl StorageStatus {
    /// True while appends are accepted.
    pub fn accepts_writes(&self) -> bool {
        self.state == DiskState::Writable
    }

    /// Why the server is degraded, or `None` when it is not. Never names a path.
    pub fn reason(&self) -> Option<String> {
        match self.state {
            DiskState::LowSpace => Some(format!(
                "writes refused: {} bytes free on the data directory's file system, below the \
                 minimum of {} bytes (min_free_bytes / min_free_percent)",
                self.free_bytes, self.min_free_bytes
            )),
            DiskState::ReadOnly if self.unavailable_topics > 0 => Some(format!(
                "writes refused: the data directory is read-only; {} topic(s) unavailable until \
                 it is writable (their logs need recovery)",
                self.unavailable_topics
            )),
            DiskState::ReadOnly => {
                Some("writes refused: the data directory is read-only".to_string())
            }
            DiskState::Writable if self.poisoned_partitions > 0 => Some(format!(
                "{} partition(s) refuse writes after a storage failure and are being reopened",
                self.poisoned_partitions
            )),
            DiskState::Writable => None,
        }
    }
}

/// What `statvfs` says about a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    free: u64,
    total: u64,
    read_only: bool,
}

fn statvfs(dir: &Path) -> std::io::Result<Stat> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `path` is a valid NUL-terminated string and `st` a writable, zeroed struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; statvfs only writes into `st`.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let frsize = st.f_frsize as u64;
    Ok(Stat {
        free: (st.f_bavail as u64).saturating_mul(frsize),
        total: (st.f_blocks as u64).saturating_mul(frsize),
        read_only: st.f_flag & libc::ST_RDONLY != 0,
    })
}

/// Creates and removes a probe file: the read-only flag of the mount does not cover a
/// directory made read-only by permissions or a write error the kernel reported once.
fn can_create_files(dir: &Path) -> bool {
    let probe = dir.join(".write-probe");
    let ok = std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// The data directory's write gate; see the module doc.
pub struct DiskGuard {
    dir: PathBuf,
    config: DiskConfig,
    state: AtomicU8,
    free: AtomicU64,
    total: AtomicU64,
    min_free: AtomicU64,
    refused: AtomicU64,
    reopened: AtomicU64,
}

impl DiskGuard {
    /// A guard for `dir`, measured once now.
    pub fn new(dir: &Path, config: DiskConfig) -> DiskGuard {
        let guard = DiskGuard {
            dir: dir.to_path_buf(),
            config,
            state: AtomicU8::new(DiskState::Writable as u8),
            free: AtomicU64::new(u64::MAX),
            total: AtomicU64::new(0),
            min_free: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            reopened: AtomicU64::new(0),
        };
        guard.refresh();
        guard
    }

    pub fn config(&self) -> &DiskConfig {
        &self.config
    }

    pub fn state(&self) -> DiskState {
        DiskState::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, state: DiskState) {
        let old = DiskState::from_u8(self.state.swap(state as u8, Ordering::AcqRel));
        if old == state {
            return;
        }
        let (free, min) = (
            self.free.load(Ordering::Acquire),
            self.min_free.load(Ordering::Acquire),
        );
        match state {
            DiskState::Writable => {
                tracing::info!(free_bytes = free, "data directory accepts writes again")
            }
            DiskState::LowSpace => tracing::warn!(
                free_bytes = free,
                min_free_bytes = min,
                "free space below the minimum: refusing writes until space is freed"
            ),
            DiskState::ReadOnly => tracing::warn!(
                "data directory is read-only: refusing writes until it is writable again"
            ),
        }
    }

    /// Re-reads free space and the read-only flag; returns the new state. A failed
    /// `statvfs` keeps the previous figures.
    pub fn refresh(&self) -> DiskState {
        let stat = match statvfs(&self.dir) {
            Ok(stat) => stat,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the data directory's free space");
                return self.state();
            }
        };
        let by_percent = (stat.total as f64 * self.config.min_free_percent / 100.0) as u64;
        let min = self.config.min_free_bytes.max(by_percent);
        self.total.store(stat.total, Ordering::Release);
        self.min_free.store(min, Ordering::Release);
        self.free.store(stat.free, Ordering::Release);
        let state = if stat.read_only
            || (self.state() == DiskState::ReadOnly && !can_create_files(&self.dir))
        {
            DiskState::ReadOnly
        } else if stat.free < min {
            DiskState::LowSpace
        } else {
            DiskState::Writable
        };
        self.set_state(state);
        state
    }

    /// Admits an append of `bytes`, counting them against the free space until the next
    /// check.
    ///
    /// Errors: `ReadOnlyStorage` or `InsufficientSpace`; nothing has been written then.
    pub fn admit(&self, bytes: u64) -> Result<(), BrokerError> {
        let refuse = |err: BrokerError| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Err(err)
        };
        let min = self.min_free.load(Ordering::Acquire);
        match self.state() {
            DiskState::ReadOnly => return refuse(BrokerError::ReadOnlyStorage),
            DiskState::LowSpace => {
                let free_bytes = self.free.load(Ordering::Acquire);
                return refuse(BrokerError::InsufficientSpace {
                    free_bytes,
                    min_free_bytes: min,
                });
            }
            DiskState::Writable => {}
        }
        let taken = self
            .free
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| {
                (free >= min.saturating_add(bytes)).then(|| free - bytes)
            });
        match taken {
            Ok(_) => Ok(()),
            Err(free_bytes) => {
                self.set_state(DiskState::LowSpace);
                refuse(BrokerError::InsufficientSpace {
                    free_bytes,
                    min_free_bytes: min,
                })
            }
        }
    }

    /// Looks at a failed write: `ENOSPC` means the disk is full, `EROFS` / `EACCES` that it
    /// is read-only; either refuses later appends at once, before the next check.
    pub fn note_failure(&self, err: &BrokerError) {
        let source = match err {
            BrokerError::Log(strom_log::LogError::Io { source, .. }) => source,
            BrokerError::Io { source, .. } => source,
            _ => return,
        };
        match source.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
                self.free.store(0, Ordering::Release);
                self.set_state(DiskState::LowSpace);
            }
            Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM) => {
                self.set_state(DiskState::ReadOnly)
            }
            _ => {}
        }
    }

    pub(crate) fn count_reopen(&self) {
        self.reopened.fetch_add(1, Ordering::Relaxed);
    }

    /// The current figures; `poisoned_partitions` is filled in by the broker.
    pub fn status(&self, poisoned_partitions: usize) -> StorageStatus {
        StorageStatus {
            state: self.state(),
            free_bytes: self.free.load(Ordering::Acquire),
            total_bytes: self.total.load(Ordering::Acquire),
            min_free_bytes: self.min_free.load(Ordering::Acquire),
            poisoned_partitions,
            refused_appends: self.refused.load(Ordering::Relaxed),
            reopened_partitions: self.reopened.load(Ordering::Relaxed),
            unavailable_topics: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(min_free_bytes: u64) -> (tempfile::TempDir, DiskGuard) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = DiskConfig {
            min_free_bytes,
            ..DiskConfig::default()
        };
        let g = DiskGuard::new(dir.path(), config);
        (dir, g)
    }

    #[test]
    fn measures_the_file_system() {
        let (_dir, g) = guard(0);
        let s = g.status(0);
        assert!(s.total_bytes > 0 && s.free_bytes > 0, "{s:?}");
        assert!(s.accepts_writes() && s.reason().is_none());
    }

    #[test]
    fn refuses_below_the_minimum_and_counts_appends_between_checks() {
        let (_dir, g) = guard(0);
        let free = g.status(0).free_bytes;
        // A minimum just below what is free: a small append fits, the next big one does not.
        g.min_free.store(free - 1000, Ordering::Release);
        g.admit(600).expect("fits");
        match g.admit(600) {
            Err(BrokerError::InsufficientSpace {
                free_bytes,
                min_free_bytes,
            }) => {
                assert_eq!(free_bytes, free - 600);
                assert_eq!(min_free_bytes, free - 1000);
            }
            other => panic!("expected InsufficientSpace, got {other:?}"),
        }
        assert_eq!(g.state(), DiskState::LowSpace);
        assert!(g.status(0).reason().is_some_and(|r| r.contains("below")));
        assert_eq!(g.status(0).refused_appends, 1);
    }

    #[test]
    fn a_minimum_above_the_disk_refuses_and_a_refresh_keeps_refusing() {
        let (_dir, g) = guard(u64::MAX / 2);
        assert_eq!(g.state(), DiskState::LowSpace);
        assert!(matches!(
            g.admit(1),
            Err(BrokerError::InsufficientSpace { .. })
        ));
        assert_eq!(g.refresh(), DiskState::LowSpace);
    }

    #[test]
    fn write_errors_flip_the_state_and_a_refresh_restores_it() {
        let (_dir, g) = guard(0);
        let io = |code| {
            BrokerError::Log(strom_log::LogError::Io {
                path: "/x".into(),
                source: std::io::Error::from_raw_os_error(code),
            })
        };
        g.note_failure(&io(libc::ENOSPC));
        assert!(matches!(
            g.admit(1),
            Err(BrokerError::InsufficientSpace { .. })
        ));
        assert_eq!(g.refresh(), DiskState::Writable, "space is really there");
        g.note_failure(&io(libc::EROFS));
        assert!(matches!(g.admit(1), Err(BrokerError::ReadOnlyStorage)));
        // The directory is writable (the probe file can be created), so a refresh clears it.
        assert_eq!(g.refresh(), DiskState::Writable);
        g.admit(1).expect("writable again");
    }
}
