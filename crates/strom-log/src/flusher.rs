//! [`Flusher`]: one background thread that syncs dirty logs every interval, for logs under
//! `Durability::Interval`. One thread serves any number of logs, so thousands of partitions
//! do not mean thousands of threads.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::Log;

struct Shared {
    logs: Mutex<Vec<Weak<Log>>>,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// Syncs registered logs periodically until stopped or dropped.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the flusher thread.
    pub fn start(interval: Duration) -> Flusher {
        let shared = Arc::new(Shared {
            logs: Mutex::new(Vec::new()),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("strom-flusher".into())
            .spawn(move || run(&worker, interval))
            .ok();
        if thread.is_none() {
            tracing::error!("cannot start the flusher thread; interval fsync is disabled");
        }
        Flusher { shared, thread }
    }

    /// Adds a log; it is dropped from the list when the log is dropped.
    pub fn register(&self, log: &Arc<Log>) {
        self.shared.logs.lock().push(Arc::downgrade(log));
    }

    /// Stops the thread after one last flush of every registered log.
    pub fn stop(&mut self) {
        *self.shared.stop.lock() = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared, interval: Duration) {
    loop {
        let stopping = {
            let mut stop = shared.stop.lock();
            if !*stop {
                // A timed wait, not a poll for data: this is the interval policy itself.
                shared.wake.wait_for(&mut stop, interval);
            }
            *stop
        };
        let logs: Vec<Arc<Log>> = {
            let mut list = shared.logs.lock();
            list.retain(|w| w.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        };
        for log in logs {
            if log.is_dirty() {
                if let Err(err) = log.flush() {
                    tracing::error!(log = %log.dir().display(), error = %err, "interval fsync failed");
                }
            }
        }
        if stopping {
            return;
        }
    }
}
