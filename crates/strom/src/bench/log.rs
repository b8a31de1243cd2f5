//! `strom bench log`: for each durability policy, appends N GiB of 1 KiB records in batches
//! to a fresh `strom_log::Log`, reads them back from a cold page cache, and does the same
//! with a plain file (see `baseline`); then `always` with several appender threads (group
//! commit) against `interval` with the same threads. Prints throughput and ratios.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use strom_log::{BatchHeader, Durability, Flusher, Log, LogConfig};

use super::baseline::{self, Cadence};
use super::machine;
use super::workload::Workload;
use super::LogBenchArgs;

const MIB: f64 = (1u64 << 20) as f64;

/// Throughput of one side of one measurement.
#[derive(Debug, Clone, Copy)]
struct Rate {
    bytes: u64,
    elapsed: Duration,
}

impl Rate {
    fn mib_s(self) -> f64 {
        self.bytes as f64 / MIB / self.elapsed.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, Clone, Copy)]
enum Policy {
    Always,
    Interval(Duration),
    Never,
}

impl Policy {
    fn durability(self) -> Durability {
        match self {
            Policy::Always => Durability::Always,
            Policy::Interval(d) => Durability::Interval(d),
            Policy::Never => Durability::Never,
        }
    }
    fn cadence(self) -> Cadence {
        match self {
            Policy::Always => Cadence::EveryBatch,
            Policy::Interval(d) => Cadence::Every(d),
            Policy::Never => Cadence::Never,
        }
    }
    fn name(self) -> String {
        match self {
            Policy::Always => "always".into(),
            Policy::Interval(d) => format!("interval {}ms", d.as_millis()),
            Policy::Never => "never".into(),
        }
    }
}

pub fn run(args: &LogBenchArgs) -> anyhow::Result<()> {
    // Written so that NaN is refused too.
    let gib_ok = args.gib.is_finite() && args.gib > 0.0;
    if !gib_ok || args.record_bytes == 0 || args.batch_records == 0 || args.threads == 0 {
        bail!("--gib, --record-bytes, --batch-records and --threads must be positive");
    }
    let (root, _tmp) = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            (d.clone(), None)
        }
        None => {
            let t = std::env::temp_dir().join(format!("strom-bench-{}", std::process::id()));
            std::fs::create_dir_all(&t)
                .with_context(|| format!("cannot create {}", t.display()))?;
            (t.clone(), Some(RemoveOnDrop(t)))
        }
    };
    let w = Workload::new(args.record_bytes, args.batch_records)?;
    let batches = w.batches_for(args.gib);
    let cold = machine::drop_page_cache();
    println!("strom bench log");
    println!("machine: {}", machine::describe(&root));
    println!(
        "workload: {:.2} GiB per policy = {batches} batches of {} records x {} B ({} B per batch), reads of {} KiB",
        args.gib,
        w.records_per_batch,
        args.record_bytes,
        w.batch_bytes,
        args.read_bytes / 1024
    );
    println!(
        "page cache: {}",
        if cold {
            "dropped before every read pass (cold reads)"
        } else {
            "NOT dropped (not permitted): reads are warm-cache for both sides"
        }
    );
    println!();
    println!(
        "{:<18} {:>12} {:>12} {:>7}   {:>12} {:>12} {:>7}",
        "policy", "append MiB/s", "write MiB/s", "ratio", "log read", "file read", "ratio"
    );
    let interval = Policy::Interval(Duration::from_millis(args.interval_ms));
    let wanted: Vec<&str> = args.policies.split(',').map(str::trim).collect();
    let mut interval_single: Option<Rate> = None;
    for policy in [Policy::Always, interval, Policy::Never] {
        let key = match policy {
            Policy::Always => "always",
            Policy::Interval(_) => "interval",
            Policy::Never => "never",
        };
        if !wanted.contains(&key) {
            continue;
        }
        let row = single_writer(&root, &w, batches, policy, args.read_bytes)?;
        if let Policy::Interval(_) = policy {
            interval_single = Some(row.append);
        }
        println!(
            "{:<18} {:>12.1} {:>12.1} {:>7.3}   {:>12.1} {:>12.1} {:>7.3}",
            policy.name(),
            row.append.mib_s(),
            row.write.mib_s(),
            row.append.mib_s() / row.write.mib_s(),
            row.log_read.mib_s(),
            row.file_read.mib_s(),
            row.log_read.mib_s() / row.file_read.mib_s(),
        );
    }
    println!(
        "peak RSS after the single-writer runs: {:.1} MiB (current {:.1} MiB)",
        machine::peak_rss() as f64 / MIB,
        machine::current_rss() as f64 / MIB
    );
    if wanted.contains(&"concurrent") {
        let gib = args.concurrent_gib.unwrap_or(args.gib);
        let n = w.batches_for(gib);
        println!();
        println!(
            "group commit: {} appender threads, {gib:.2} GiB total",
            args.threads
        );
        let always = concurrent(&root, &w, n, Policy::Always, args.threads)?;
        let int = concurrent(&root, &w, n, interval, args.threads)?;
        println!(
            "  always   x{}: {:>8.1} MiB/s  ({:.0} appends/s)",
            args.threads,
            always.mib_s(),
            n as f64 / always.elapsed.as_secs_f64()
        );
        println!(
            "  {} x{}: {:>8.1} MiB/s",
            interval.name(),
            args.threads,
            int.mib_s()
        );
        println!(
            "  ratio always/interval: {:.3} (target >= 0.5)",
            always.mib_s() / int.mib_s()
        );
        if let Some(single) = interval_single {
            println!(
                "  ratio always x{} / single-writer interval: {:.3}",
                args.threads,
                always.mib_s() / single.mib_s()
            );
        }
        println!(
            "peak RSS after the concurrent runs: {:.1} MiB",
            machine::peak_rss() as f64 / MIB
        );
    }
    Ok(())
}

struct Row {
    append: Rate,
    write: Rate,
    log_read: Rate,
    file_read: Rate,
}

fn log_config(durability: Durability) -> LogConfig {
    LogConfig {
        durability,
        retention_ms: None,
        ..LogConfig::default()
    }
}

fn single_writer(
    root: &Path,
    w: &Workload,
    batches: u64,
    policy: Policy,
    read_bytes: usize,
) -> anyhow::Result<Row> {
    let bytes = batches * w.batch_bytes as u64;
    let file = root.join("baseline.bin");
    let dir = root.join("log");
    let _cleanup = (RemoveOnDrop(file.clone()), RemoveOnDrop(dir.clone()));

    // Baseline first, then the log: both start with the same clean-ish page cache.
    machine::drop_page_cache();
    let write = Rate {
        bytes,
        elapsed: baseline::write(&file, w, batches, policy.cadence())?,
    };
    machine::drop_page_cache();
    let log = Arc::new(Log::open(&dir, log_config(policy.durability()))?);
    let mut flusher = match policy {
        Policy::Interval(d) => {
            let f = Flusher::start(d);
            f.register(&log);
            Some(f)
        }
        _ => None,
    };
    let mut buf = vec![0u8; w.batch_bytes];
    let start = Instant::now();
    for i in 0..batches {
        buf.copy_from_slice(&w.batches[i as usize % w.batches.len()]);
        log.append(&mut buf)?;
    }
    let append = Rate {
        bytes,
        elapsed: start.elapsed(),
    };
    if let Some(f) = flusher.as_mut() {
        f.stop();
    }
    log.close()?;

    machine::drop_page_cache();
    let (elapsed, read) = baseline::read(&file, read_bytes)?;
    if read != bytes {
        bail!("baseline read back {read} bytes, wrote {bytes}");
    }
    let file_read = Rate { bytes, elapsed };
    machine::drop_page_cache();
    let log_read = read_log(&log, read_bytes, bytes)?;
    Ok(Row {
        append,
        write,
        log_read,
        file_read,
    })
}

/// Reads the whole log from offset 0 in `read_bytes` requests.
fn read_log(log: &Log, read_bytes: usize, expect: u64) -> anyhow::Result<Rate> {
    let hw = log.high_watermark();
    let mut at = log.log_start_offset();
    let mut total = 0u64;
    let start = Instant::now();
    while at < hw {
        let r = log.read(at, read_bytes)?;
        let last = last_batch(&r.bytes).context("log read returned no whole batch")?;
        at = last.last_offset() + 1;
        total += r.bytes.len() as u64;
    }
    let elapsed = start.elapsed();
    if total != expect {
        bail!("log read back {total} bytes, appended {expect}");
    }
    Ok(Rate {
        bytes: total,
        elapsed,
    })
}

/// Header of the last whole batch in `bytes`.
fn last_batch(bytes: &[u8]) -> Option<BatchHeader> {
    let mut pos = 0;
    let mut last = None;
    while let Some(h) = bytes.get(pos..).and_then(BatchHeader::parse) {
        if h.batch_length <= 0 || pos + h.total_len() > bytes.len() {
            break;
        }
        pos += h.total_len();
        last = Some(h);
    }
    last
}

/// `threads` appenders share `batches` appends to one log; returns the append rate.
fn concurrent(
    root: &Path,
    w: &Workload,
    batches: u64,
    policy: Policy,
    threads: usize,
) -> anyhow::Result<Rate> {
    let dir = root.join("log-concurrent");
    let _cleanup = RemoveOnDrop(dir.clone());
    let log = Arc::new(Log::open(&dir, log_config(policy.durability()))?);
    let mut flusher = match policy {
        Policy::Interval(d) => {
            let f = Flusher::start(d);
            f.register(&log);
            Some(f)
        }
        _ => None,
    };
    let per_thread = batches / threads as u64;
    let start = Instant::now();
    let results: Vec<anyhow::Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let log = Arc::clone(&log);
                s.spawn(move || -> anyhow::Result<()> {
                    let mut buf = vec![0u8; w.batch_bytes];
                    for i in 0..per_thread {
                        let k = (i as usize + t) % w.batches.len();
                        buf.copy_from_slice(&w.batches[k]);
                        log.append(&mut buf)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("appender thread panicked")))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    for r in results {
        r?;
    }
    if let Some(f) = flusher.as_mut() {
        f.stop();
    }
    log.close()?;
    Ok(Rate {
        bytes: per_thread * threads as u64 * w.batch_bytes as u64,
        elapsed,
    })
}

/// Removes a benchmark file or directory when the measurement is done, whatever happened.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        // Best effort: a leftover temp file is not worth failing the benchmark over.
        let _ = if self.0.is_dir() {
            std::fs::remove_dir_all(&self.0)
        } else {
            std::fs::remove_file(&self.0)
        };
    }
}
