//! Background fsync of rolled segments under `interval` and `never` durability.
//!
//! Rolling used to fsync the old segment inline: up to a whole segment (1 GiB by default) of
//! dirty pages, written back while the appender that triggered the roll waited, which cost
//! `never` appends over half their throughput. Like Kafka, Strom now hands the rolled segment
//! to a background thread and lets appends go on. Under `always` nothing is deferred: every
//! append already waited for its own fsync.
//!
//! Crash safety: before the new segment is created, an `.unflushed` marker for the old one is
//! created (both made durable by one directory fsync). The recovery point only advances once
//! the segment and its indexes are synced, and the marker is removed after that. Recovery may
//! therefore truncate a damaged segment that still has its marker (its tail was never
//! promised durable: a power loss during write-back), while damage in any other closed segment
//! is still reported as corruption.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::files::{read_i64_file, sync_dir, write_file_atomically};
use crate::recovery::RECOVERY_POINT;
use crate::segment::{segment_file_name, Segment};
use crate::LogError;

/// Path of the marker saying "segment `base` may not be fully on disk yet".
pub(crate) fn unflushed_marker(dir: &Path, base: i64) -> PathBuf {
    dir.join(segment_file_name(base, "unflushed"))
}

/// Owns the recovery-point file and the queue of rolled segments awaiting fsync.
pub(crate) struct RollSyncer {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    queue: Mutex<Queue>,
    /// Held while one segment is synced, so [`RollSyncer::drain`] can wait for it.
    in_flight: Mutex<()>,
    /// Serialises recovery-point writes; the value only grows.
    recovery_point: Mutex<i64>,
    failed: AtomicBool,
    stopped: AtomicBool,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Arc<Segment>>,
    worker_running: bool,
}

impl RollSyncer {
    pub(crate) fn new(dir: &Path) -> Result<RollSyncer, LogError> {
        let rp = read_i64_file(&dir.join(RECOVERY_POINT))?.unwrap_or(0);
        Ok(RollSyncer {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                queue: Mutex::new(Queue::default()),
                in_flight: Mutex::new(()),
                recovery_point: Mutex::new(rp),
                failed: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
            }),
        })
    }

    /// True once a background fsync failed: the log must refuse writes.
    pub(crate) fn failed(&self) -> bool {
        self.inner.failed.load(Ordering::Acquire)
    }

    /// Records that everything below `offset` is durable (after an inline sync).
    pub(crate) fn advance_recovery_point(&self, offset: i64) -> Result<(), LogError> {
        self.inner.advance(offset)
    }

    /// Queues a rolled segment whose marker already exists; a worker thread syncs it.
    pub(crate) fn submit(&self, segment: Arc<Segment>) {
        let spawn = {
            let mut q = self.inner.queue.lock();
            q.pending.push_back(segment);
            !std::mem::replace(&mut q.worker_running, true)
        };
        if spawn {
            let inner = Arc::clone(&self.inner);
            let started = std::thread::Builder::new()
                .name("strom-roll-sync".into())
                .spawn(move || inner.work());
            if let Err(e) = started {
                tracing::warn!(error = %e, "cannot start the roll-sync thread; syncing inline");
                self.inner.queue.lock().worker_running = false;
                self.inner.work();
            }
        }
    }

    /// Syncs everything queued, in this thread, and waits for a sync in progress.
    pub(crate) fn drain(&self) -> Result<(), LogError> {
        self.inner.work_queue();
        drop(self.inner.in_flight.lock());
        if self.failed() {
            return Err(LogError::Poisoned(self.inner.dir.clone()));
        }
        Ok(())
    }

    /// Stops recording progress (the log's directory is being removed).
    pub(crate) fn stop(&self) {
        self.inner.stopped.store(true, Ordering::Release);
    }
}

impl Inner {
    /// Worker thread body: sync until the queue is empty, then exit.
    fn work(&self) {
        loop {
            self.work_queue();
            let mut q = self.queue.lock();
            if q.pending.is_empty() {
                q.worker_running = false;
                return;
            }
        }
    }

    fn work_queue(&self) {
        loop {
            // Take the in-flight lock before popping so `drain` cannot miss a popped segment.
            let _busy = self.in_flight.lock();
            let Some(segment) = self.queue.lock().pending.pop_front() else {
                return;
            };
            if let Err(err) = self.sync_one(&segment) {
                if !self.stopped.load(Ordering::Acquire) {
                    tracing::error!(log = %self.dir.display(), error = %err,
                        "fsync of a rolled segment failed: log refuses writes until reopened");
                    self.failed.store(true, Ordering::Release);
                }
            }
        }
    }

    fn sync_one(&self, segment: &Segment) -> Result<(), LogError> {
        if self.failed.load(Ordering::Acquire) || self.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        segment.sync_all()?;
        self.advance(segment.next_offset())?;
        let marker = unflushed_marker(&self.dir, segment.base_offset());
        match std::fs::remove_file(&marker) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LogError::io(marker, e)),
        }
    }

    fn advance(&self, offset: i64) -> Result<(), LogError> {
        let mut rp = self.recovery_point.lock();
        if offset <= *rp || self.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        write_file_atomically(
            &self.dir.join(RECOVERY_POINT),
            offset.to_string().as_bytes(),
        )?;
        *rp = offset;
        Ok(())
    }
}
