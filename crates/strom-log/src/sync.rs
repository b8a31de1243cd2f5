//! Group commit: concurrent appenders under `Durability::Always` share fsyncs. One caller
//! performs the sync while the others wait on a condition variable; when it finishes, every
//! appender whose data it covered returns without an fsync of its own. [`SyncCounter`] counts
//! the data fsyncs themselves, so tests (and metrics) can check that every acknowledged append
//! under `Always` was covered by one and that concurrent appenders really share them.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};

use crate::LogError;

struct State {
    /// Offsets below this are durable.
    synced: i64,
    syncing: bool,
    failed: bool,
}

pub(crate) struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

impl GroupCommit {
    pub(crate) fn new(synced: i64) -> GroupCommit {
        GroupCommit {
            state: Mutex::new(State {
                synced,
                syncing: false,
                failed: false,
            }),
            done: Condvar::new(),
        }
    }

    /// Returns once offsets below `target` are durable. If no sync is running, the caller runs
    /// `sync`, which must return the offset it made durable (at least `target`, since the data
    /// was written before this call).
    pub(crate) fn sync_to(
        &self,
        target: i64,
        sync: impl FnOnce() -> Result<i64, LogError>,
        poisoned: impl Fn() -> LogError,
    ) -> Result<(), LogError> {
        let mut st = self.state.lock();
        loop {
            if st.synced >= target {
                return Ok(());
            }
            if st.failed {
                return Err(poisoned());
            }
            if !st.syncing {
                break;
            }
            self.done.wait(&mut st);
        }
        st.syncing = true;
        drop(st);
        let result = sync();
        let mut st = self.state.lock();
        st.syncing = false;
        match &result {
            Ok(up_to) => st.synced = st.synced.max(*up_to),
            Err(_) => st.failed = true,
        }
        self.done.notify_all();
        result.map(|_| ())
    }

    /// Records that offsets below `offset` became durable by other means (a roll or flush).
    pub(crate) fn mark_synced(&self, offset: i64) {
        let mut st = self.state.lock();
        st.synced = st.synced.max(offset);
        self.done.notify_all();
    }

    /// Wakes waiters with a failure after an I/O error elsewhere.
    pub(crate) fn fail(&self) {
        let mut st = self.state.lock();
        st.failed = true;
        self.done.notify_all();
    }
}

/// What [`SyncCounter`] has seen: how many data fsyncs of the log ran, and the offset below which
/// they (or the previous open) made everything durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStats {
    /// Data fsyncs of the active segment (appends under `Always`, flushes) and of a segment being
    /// rolled under `Always`, since the log was opened.
    pub data_syncs: u64,
    /// Offsets below this were on disk at open or covered by a counted fsync since.
    pub synced_end: i64,
}

/// Counts data fsyncs. The fsync runs inside [`SyncCounter::sync_data`], so a sync that is
/// skipped is also a sync that is not counted.
pub(crate) struct SyncCounter {
    syncs: AtomicU64,
    synced_end: AtomicI64,
}

impl SyncCounter {
    pub(crate) fn new(synced_end: i64) -> SyncCounter {
        SyncCounter {
            syncs: AtomicU64::new(0),
            synced_end: AtomicI64::new(synced_end),
        }
    }

    /// Counts an fsync done elsewhere that made offsets below `end` durable.
    pub(crate) fn record(&self, end: i64) {
        self.syncs.fetch_add(1, Ordering::AcqRel);
        self.synced_end.fetch_max(end, Ordering::AcqRel);
    }

    pub(crate) fn stats(&self) -> SyncStats {
        SyncStats {
            data_syncs: self.syncs.load(Ordering::Acquire),
            synced_end: self.synced_end.load(Ordering::Acquire),
        }
    }
}
