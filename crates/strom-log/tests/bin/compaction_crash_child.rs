//! Child process for the compaction crash test; never used by the server.
//!
//! `<dir> <seed> <segment_bytes> <delete_retention_ms>`: opens a compacted log with
//! `Durability::Always`, then two appender threads write keyed records (values and some
//! tombstones, keys `k0`..`k15`, wall-clock timestamps) while a third thread runs
//! `compact(now)` in a loop, until the parent kills it. After each append returns Ok the
//! thread prints `ack <offset> <key> <value or ->`; after each compaction that rewrote
//! something, `compacted <segments>`. Values are `<seed>-<thread>-<n>`, unique per run.

#[path = "../common_compaction/mod.rs"]
mod common_compaction;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common_compaction::{plain_batch, Put};
use strom_log::{CompactionConfig, Durability, Log, LogConfig};

const KEYS: u64 = 16;

fn config(segment_bytes: u64, delete_retention_ms: i64) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_ms: None,
        index_interval_bytes: 256,
        durability: Durability::Always,
        retention_ms: None,
        retention_bytes: None,
        max_batch_bytes: 1 << 20,
        decode: Default::default(),
        compaction: Some(CompactionConfig {
            min_cleanable_dirty_ratio: 0.0,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms,
        }),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Prints one line and pushes it into the pipe before returning, so a line the parent reads
/// is never ahead of what the log acknowledged.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the parent is gone; nothing useful is left to do but exit.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(3);
    }
}

/// xorshift64*: deterministic per seed without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn append_forever(log: &Log, seed: u64, thread: u64) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(31).wrapping_add(thread) | 1);
    for n in 0u64.. {
        let key = format!("k{}", rng.next() % KEYS);
        let value = format!("{seed}-{thread}-{n}");
        // Tombstones often enough that some expire while the child runs.
        let put = if rng.next().is_multiple_of(8) {
            Put::tombstone(&key, now_ms())
        } else {
            Put::value(&key, &value, now_ms())
        };
        let shown = put
            .value
            .as_ref()
            .map_or("-".to_string(), |_| value.clone());
        let info = log
            .append(&mut plain_batch(&[put]))
            .map_err(|e| format!("append: {e}"))?;
        say(&format!("ack {} {key} {shown}", info.base_offset));
    }
    Ok(())
}

fn compact_forever(log: &Log) -> Result<(), String> {
    loop {
        let stats = log
            .compact(now_ms(), None)
            .map_err(|e| format!("compact: {e}"))?;
        if stats.segments_cleaned > 0 {
            say(&format!("compacted {}", stats.segments_cleaned));
        }
        // Leave the two shared cores some air; kills still land mid-compaction often.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let get = |i: usize, what: &str| {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("missing {what}"))
    };
    let dir = PathBuf::from(get(1, "dir")?);
    let seed: u64 = get(2, "seed")?.parse().map_err(|_| "bad seed")?;
    let segment_bytes: u64 = get(3, "segment_bytes")?
        .parse()
        .map_err(|_| "bad segment_bytes")?;
    let drm: i64 = get(4, "delete_retention_ms")?
        .parse()
        .map_err(|_| "bad delete_retention_ms")?;
    let log =
        Arc::new(Log::open(&dir, config(segment_bytes, drm)).map_err(|e| format!("open: {e}"))?);
    say(&format!("ready {}", log.log_end_offset()));
    let mut handles = Vec::new();
    for thread in 0..2 {
        let log = Arc::clone(&log);
        handles.push(std::thread::spawn(move || {
            append_forever(&log, seed, thread)
        }));
    }
    {
        let log = Arc::clone(&log);
        handles.push(std::thread::spawn(move || compact_forever(&log)));
    }
    for h in handles {
        h.join().map_err(|_| "thread panicked".to_string())??;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compaction crash child: {e}");
            ExitCode::FAILURE
        }
    }
}
