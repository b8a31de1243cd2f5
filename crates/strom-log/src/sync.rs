//! Group commit: concurrent appenders under `Durability::Always` share fsyncs. One caller
//! performs the sync while the others wait on a condition variable; when it finishes, every
//! appender whose data it covered returns without an fsync of its own.

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
