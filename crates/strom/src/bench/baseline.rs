//! The baseline: the same bytes written with plain sequential `write` calls to one file with
//! the same fsync cadence as the durability policy under test, and read back with plain
//! sequential `read` calls. What the log costs is its ratio to this.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::workload::Workload;

/// When the baseline fsyncs, mirroring a `Durability`.
#[derive(Debug, Clone, Copy)]
pub enum Cadence {
    EveryBatch,
    Every(Duration),
    Never,
}

/// Writes `batches` batches to a new file at `path`; returns the elapsed time.
pub fn write(
    path: &Path,
    w: &Workload,
    batches: u64,
    cadence: Cadence,
) -> anyhow::Result<Duration> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // The log gets each batch in a caller-owned mutable buffer; copy into one here as well.
    let mut buf = vec![0u8; w.batch_bytes];
    let start = Instant::now();
    let mut last_sync = start;
    for i in 0..batches {
        buf.copy_from_slice(&w.batches[i as usize % w.batches.len()]);
        file.write_all(&buf)
            .with_context(|| format!("write to {}", path.display()))?;
        let sync = match cadence {
            Cadence::EveryBatch => true,
            Cadence::Every(interval) => last_sync.elapsed() >= interval,
            Cadence::Never => false,
        };
        if sync {
            file.sync_data()
                .with_context(|| format!("fsync {}", path.display()))?;
            last_sync = Instant::now();
        }
    }
    Ok(start.elapsed())
}

/// Reads the file at `path` sequentially in `chunk`-byte reads; returns (elapsed, bytes).
pub fn read(path: &Path, chunk: usize) -> anyhow::Result<(Duration, u64)> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; chunk];
    let mut total = 0u64;
    let start = Instant::now();
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("read {}", path.display()))?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    Ok((start.elapsed(), total))
}
