//! The broker's disk check: a background thread re-reads the data directory's free space and
//! read-only flag every [`crate::DiskConfig::check_interval`] and, once writes are accepted,
//! reopens every partition whose log was poisoned by a failed write or fsync — from disk, as a
//! restart would — so a full or read-only disk heals without a restart. Logs opened read-only
//! at a read-only start count as poisoned and are reopened the same way; topics that could
//! not open then at all (their logs need recovery) are opened. Owns no state of its
//! own: the [`crate::DiskGuard`] holds the figures, each [`crate::Partition`] its log.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Broker;
use crate::{StorageStatus, Topic};

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
            if let Err(e) = self.ensure_prepared() {
                tracing::warn!(error = %e, "cannot set up the data directory yet; retrying at the next check");
            }
            self.open_unopened();
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
        let mut status = self.disk.status(poisoned);
        status.unavailable_topics = self.unopened_topics();
        status
    }

    /// Opens the topics a read-only start left closed (their logs needed recovery), now that
    /// the directory is writable; one that still fails is retried at the next check.
    fn open_unopened(self: &Broker) {
        let pending = std::mem::take(&mut *self.unopened.lock());
        if pending.is_empty() {
            return;
        }
        let _admin = self.admin.lock();
        let mut failed = Vec::new();
        for (path, meta) in pending {
            match Topic::open(&path, &meta, &self.config.log_defaults) {
                Ok(topic) => {
                    let topic = Arc::new(topic);
                    self.register_flush(&topic);
                    self.topics.write().insert(meta.name.clone(), topic);
                    tracing::info!(topic = %meta.name, "opened a topic left closed by a read-only start");
                }
                Err(e) => {
                    tracing::warn!(topic = %meta.name, error = %e, "cannot open the topic yet; retrying at the next check");
                    failed.push((path, meta));
                }
            }
        }
        self.unopened.lock().extend(failed);
    }

    /// Topics a read-only start could not open yet.
    pub(crate) fn unopened_topics(&self) -> usize {
        self.unopened.lock().len()
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
