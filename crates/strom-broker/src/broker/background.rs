//! The broker's interval threads (retention, log cleaner) and its shutdown, which stops them
//! and closes every log cleanly.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use super::Broker;
use crate::BrokerError;

impl Broker {
    /// Runs `work` on a named thread every retention-check interval until shutdown. The
    /// thread holds only a weak reference, so it never keeps a dropped broker alive.
    pub(super) fn spawn_periodic(
        self: &Arc<Self>,
        name: &str,
        slot: &Mutex<Option<JoinHandle<()>>>,
        every: Duration,
        work: impl Fn(&Broker) + Send + 'static,
    ) {
        let weak = Arc::downgrade(self);
        let bg = Arc::clone(&self.background);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                {
                    let mut stop = bg.stop.lock();
                    if !*stop {
                        bg.wake.wait_for(&mut stop, every);
                    }
                    if *stop {
                        return;
                    }
                }
                let Some(broker) = weak.upgrade() else { return };
                work(&broker);
            });
        match handle {
            Ok(h) => *slot.lock() = Some(h),
            Err(e) => {
                tracing::error!(thread = name, error = %e, "cannot start a background thread")
            }
        }
    }

    pub(super) fn start_retention(self: &Arc<Self>) {
        let every = Duration::from_millis(self.config.retention_check_interval_ms.max(10));
        self.spawn_periodic("strom-retention", &self.retention_thread, every, |b| {
            b.enforce_retention()
        });
    }

    /// Runs the log cleaner on its own thread, so a long compaction never delays retention.
    pub(super) fn start_cleaner(self: &Arc<Self>) {
        let throttle = Arc::clone(&self.cleaner_throttle);
        let every = Duration::from_millis(self.config.retention_check_interval_ms.max(10));
        self.spawn_periodic("strom-cleaner", &self.cleaner_thread, every, move |b| {
            b.clean_logs(Some(&throttle));
        });
    }

    /// Compacts every compacted partition that is due; returns how many were cleaned.
    pub fn clean_logs(&self, throttle: Option<&strom_log::Throttle>) -> usize {
        if !self.disk.status(0).accepts_writes() {
            // Cleaning writes new segments first; it waits until the disk has room again.
            return 0;
        }
        let now = crate::records::now_ms();
        let mut cleaned = 0;
        for topic in self.topics() {
            for p in topic.partitions() {
                if self.shutting_down.load(Ordering::Acquire) || !p.log().needs_cleaning(now) {
                    continue;
                }
                let max_keys =
                    strom_log::max_keys_for_bytes(self.config.cleaner_dedupe_buffer_bytes);
                match p.compact(now, throttle, max_keys) {
                    Ok(_) => cleaned += 1,
                    Err(BrokerError::Log(strom_log::LogError::Interrupted)) => {
                        tracing::info!(topic = %topic.name(), partition = p.index(), "compaction interrupted for shutdown");
                        return cleaned;
                    }
                    Err(e) => {
                        tracing::warn!(topic = %topic.name(), partition = p.index(), error = %e, "compaction failed")
                    }
                }
            }
        }
        cleaned
    }

    /// Runs one retention pass over every partition now.
    pub fn enforce_retention(&self) {
        if self.disk.state() == crate::DiskState::ReadOnly {
            // Retention deletes files: it waits until the directory is writable again.
            return;
        }
        let now = crate::records::now_ms();
        for topic in self.topics() {
            for p in topic.partitions() {
                if let Err(e) = p.log().enforce_retention(now) {
                    tracing::warn!(topic = %topic.name(), partition = p.index(), error = %e, "retention failed");
                }
            }
        }
    }

    /// Flushes and cleanly closes every log. Appends afterwards fail with `ShuttingDown`.
    pub fn shutdown(&self) -> Result<(), BrokerError> {
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        *self.background.stop.lock() = true;
        self.background.wake.notify_all();
        self.cleaner_throttle.interrupt();
        for thread in [
            &self.retention_thread,
            &self.cleaner_thread,
            &self.disk_thread,
        ] {
            if let Some(h) = thread.lock().take() {
                let _ = h.join();
            }
        }
        if let Some(mut f) = self.flusher.lock().take() {
            f.stop();
        }
        let mut first_error = None;
        for topic in self.topics() {
            for p in topic.partitions() {
                if let Err(e) = p.close() {
                    tracing::error!(topic = %topic.name(), partition = p.index(), error = %e, "clean close failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
