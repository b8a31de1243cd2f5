//! The broker's disk check: a background thread re-reads the data directory's free space and
//! read-only flag every [`crate::DiskConfig::check_interval`] and, once writes are accepted,
//! reopens every partition whose log was poisoned by a failed write or fsync — from disk, as a
//! restart would — so a full or read-only disk heals without a restart. Owns no state of its
//! own: the [`crate::DiskGuard`] holds the figures, each [`crate::Partition`] its log.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Broker;
use crate::StorageStatus;

impl Broker {
    pub(super) fn start_disk_check(self: &Arc<Self>) {
        let every = self.disk.config().check_interval;
        self.spawn_periodic("strom-disk", &self.disk_thread, every, |b| {
            b.check_storage();
        });
    }

    /// Re-reads free space now and, if writes are accepted, reopens poisoned partitions.
    /// Runs every check interval in the background; tests call it to skip the wait. Returns
    /// the status after the check.
    pub fn check_storage(&self) -> StorageStatus {
        if self.disk.refresh() == crate::DiskState::Writable {
            self.reopen_poisoned();
        }
        self.storage_status()
    }

    /// Free space, the write state and the poisoned partitions, for health and metrics.
    pub fn storage_status(&self) -> StorageStatus {
        let poisoned = self
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .filter(|p| p.is_poisoned())
            .count();
        self.disk.status(poisoned)
    }

    /// Reopens every poisoned partition from disk. Holds the admin lock, so no topic is
    /// created or deleted meanwhile (a deleted topic's directory must not be recreated).
    fn reopen_poisoned(&self) {
        let topics = self.topics();
        if !topics
            .iter()
            .flat_map(|t| t.partitions())
            .any(|p| p.is_poisoned())
        {
            return;
        }
        let _admin = self.admin.lock();
        for topic in self.topics() {
            for p in topic.partitions() {
                if self.shutting_down.load(Ordering::Acquire) {
                    return;
                }
                match p.reopen_if_poisoned() {
                    Ok(Some(log)) => {
                        if let Some(flusher) = self.flusher.lock().as_ref() {
                            flusher.register(&log);
                        }
                        self.disk.count_reopen();
                        tracing::info!(topic = %topic.name(), partition = p.index(),
                            log_end_offset = log.log_end_offset(),
                            "reopened a partition from disk after a storage failure");
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(topic = %topic.name(), partition = p.index(), error = %e,
                            "cannot reopen a poisoned partition yet; retrying at the next check")
                    }
                }
            }
        }
    }
}
