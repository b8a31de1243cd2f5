//! [`LogStartFloor`]: the partition's log start offset as DeleteRecords set it, when it lies
//! below the local log (in the remote tier) or the remote tier would otherwise still serve
//! offsets below it. The local log records a log start only within its own segments; this
//! floor, persisted in the partition directory before DeleteRecords answers, hides everything
//! below it at once, and the uploader then moves the remote manifest's log start up to it and
//! deletes the remote segments wholly below it (`upload.rs`, total retention).

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::Mutex;

use crate::BrokerError;

/// File of the floor in the partition directory (one decimal offset).
const FLOOR_FILE: &str = "log-start-floor";

/// The persisted DeleteRecords floor of one partition (0: none).
#[derive(Debug, Default)]
pub(crate) struct LogStartFloor {
    value: AtomicI64,
    /// Serialises raises, so the file never goes back to a lower value.
    write: Mutex<()>,
}

impl LogStartFloor {
    /// The floor persisted in `dir` (0 when there is none or it is unreadable: the local
    /// and remote log starts still hold).
    pub(crate) fn load(dir: &Path) -> LogStartFloor {
        let path = dir.join(FLOOR_FILE);
        let value = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<i64>().unwrap_or_else(|e| {
                tracing::warn!(file = %path.display(), error = %e, "unreadable log start floor; ignored");
                0
            }),
            Err(_) => 0,
        };
        LogStartFloor {
            value: AtomicI64::new(value.max(0)),
            write: Mutex::new(()),
        }
    }

    pub(crate) fn get(&self) -> i64 {
        self.value.load(Ordering::Acquire)
    }

    /// Raises the floor to `offset` (never lowers it): written to disk first, then visible.
    /// Errors: `Io` (nothing changed).
    pub(crate) fn raise(&self, dir: &Path, offset: i64) -> Result<(), BrokerError> {
        let _w = self.write.lock();
        if offset <= self.get() {
            return Ok(());
        }
        strom_log::write_file_atomically(&dir.join(FLOOR_FILE), offset.to_string().as_bytes())?;
        self.value.store(offset, Ordering::Release);
        Ok(())
    }
}
