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
    /// CPU time of the whole process (all threads) while it was measured; zero where not taken.
    cpu: Duration,
}

impl Rate {
    fn mib_s(self) -> f64 {
        self.bytes as f64 / MIB / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// MiB per CPU-second: throughput independent of how busy the machine was.
    fn mib_per_cpu_s(self) -> f64 {
        self.bytes as f64 / MIB / self.cpu.as_secs_f64().max(1e-9)
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
    let positive = |x: f64| x.is_finite() && x > 0.0;
    let always_gib = args.always_gib.unwrap_or(args.gib);
    let concurrent_gib = args.concurrent_gib.unwrap_or(args.gib);
    let threads = parse_threads(&args.threads)?;
    if !positive(args.gib)
        || !positive(always_gib)
        || !positive(concurrent_gib)
        || args.record_bytes == 0
        || args.batch_records == 0
        || args.repeat == 0
    {
        bail!("--gib, --always-gib, --concurrent-gib, --record-bytes, --batch-records and --repeat must be positive");
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
    let base = LogConfig {
        index_interval_bytes: args.index_interval_bytes,
        retention_ms: None,
        ..LogConfig::default()
    };
    let cold = machine::drop_page_cache();
    println!("strom bench log");
    println!("machine: {}", machine::describe(&root));
    println!(
        "log: index_interval_bytes {}, segment_bytes {}",
        base.index_interval_bytes, base.segment_bytes
    );
    println!(
        "workload: {} records x {} B per batch ({} B), {:.2} GiB per pass ({:.2} GiB for always), \
         median of {} passes, reads of {} KiB",
        w.records_per_batch,
        args.record_bytes,
        w.batch_bytes,
        args.gib,
        always_gib,
        args.repeat,
        args.read_bytes / 1024
    );
    println!(
        "page cache: {}",
        if cold {
            "dropped before every write and read pass (cold reads)"
        } else {
            "NOT dropped (not permitted): reads are warm-cache for both sides"
        }
    );
    println!();
    println!(
        "{:<18} {:>12} {:>12} {:>7}   {:>12} {:>12} {:>7}   {:>10} {:>10} {:>7}",
        "policy",
        "append MiB/s",
        "write MiB/s",
        "ratio",
        "cold log rd",
        "cold file rd",
        "ratio",
        "warm log",
        "warm file",
        "ratio"
    );
    let interval = Policy::Interval(Duration::from_millis(args.interval_ms));
    let wanted: Vec<&str> = args.policies.split(',').map(str::trim).collect();
    let mut single: Vec<(&str, f64)> = Vec::new();
    for (key, policy) in [
        ("always", Policy::Always),
        ("interval", interval),
        ("never", Policy::Never),
    ] {
        if !wanted.contains(&key) {
            continue;
        }
        let gib = if key == "always" {
            always_gib
        } else {
            args.gib
        };
        let mut rows = Vec::new();
        for pass in 0..args.repeat {
            rows.push(single_writer(
                &root,
                &w,
                w.batches_for(gib),
                policy,
                args.read_bytes,
                pass % 2 == 1,
                &base,
            )?);
        }
        let med = |f: fn(&Row) -> Rate| median(rows.iter().map(|r| f(r).mib_s()).collect());
        // Ratios are per pass (both sides under the same conditions), then the geometric
        // mean over passes; with alternating order, going first or second evens out.
        let ratio = |a: fn(&Row) -> Rate, b: fn(&Row) -> Rate| {
            geo_mean(rows.iter().map(|r| a(r).mib_s() / b(r).mib_s()).collect())
        };
        let append = med(|r| r.append);
        single.push((key, append));
        println!(
            "{:<18} {:>12.1} {:>12.1} {:>7.3}   {:>12.1} {:>12.1} {:>7.3}   {:>10.1} {:>10.1} {:>7.3}",
            policy.name(),
            append,
            med(|r| r.write),
            ratio(|r| r.append, |r| r.write),
            med(|r| r.log_read),
            med(|r| r.file_read),
            ratio(|r| r.log_read, |r| r.file_read),
            med(|r| r.log_warm),
            med(|r| r.file_warm),
            ratio(|r| r.log_warm, |r| r.file_warm),
        );
        let per_cpu =
            |f: fn(&Row) -> Rate| median(rows.iter().map(|r| f(r).mib_per_cpu_s()).collect());
        println!(
            "  log CPU: append {:.1} MiB per CPU-second, warm read {:.1} MiB per CPU-second",
            per_cpu(|r| r.append),
            per_cpu(|r| r.log_warm)
        );
        for (i, r) in rows.iter().enumerate() {
            println!(
                "  pass {i} ({} first): append {:.1} / write {:.1}, cold read {:.1} / {:.1}, warm read {:.1} / {:.1}",
                if i % 2 == 1 { "log" } else { "file" },
                r.append.mib_s(),
                r.write.mib_s(),
                r.log_read.mib_s(),
                r.file_read.mib_s(),
                r.log_warm.mib_s(),
                r.file_warm.mib_s()
            );
        }
    }
    println!(
        "peak RSS after the single-writer runs: {:.1} MiB (current {:.1} MiB)",
        machine::peak_rss() as f64 / MIB,
        machine::current_rss() as f64 / MIB
    );
    if wanted.contains(&"concurrent") {
        let n = w.batches_for(concurrent_gib);
        println!();
        println!("group commit: one log, N appender threads, {concurrent_gib:.2} GiB per run");
        println!(
            "{:>8} {:>14} {:>14} {:>16} {:>12}",
            "threads", "always MiB/s", "appends/s", "interval MiB/s", "always/int"
        );
        for &t in &threads {
            let always = concurrent(&root, &w, n, Policy::Always, t, &base)?;
            let int = concurrent(&root, &w, n, interval, t, &base)?;
            println!(
                "{:>8} {:>14.1} {:>14.0} {:>16.1} {:>12.3}",
                t,
                always.mib_s(),
                always.appends as f64 / always.rate.elapsed.as_secs_f64(),
                int.rate.mib_s(),
                always.mib_s() / int.rate.mib_s()
            );
        }
        if let Some((_, a)) = single.iter().find(|(k, _)| *k == "always") {
            println!("(single-writer always for comparison: {a:.1} MiB/s)");
        }
        println!(
            "peak RSS after the concurrent runs: {:.1} MiB",
            machine::peak_rss() as f64 / MIB
        );
    }
    Ok(())
}

fn parse_threads(list: &str) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for t in list.split(',') {
        let n: usize = t
            .trim()
            .parse()
            .with_context(|| format!("invalid thread count '{t}'"))?;
        if n == 0 {
            bail!("thread counts must be positive");
        }
        out.push(n);
    }
    Ok(out)
}

fn geo_mean(v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let n = v.len() as f64;
    (v.iter().map(|x| x.ln()).sum::<f64>() / n).exp()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

struct Row {
    append: Rate,
    write: Rate,
    log_read: Rate,
    file_read: Rate,
    /// Second read of the same data straight after the cold one: the read path's CPU cost.
    log_warm: Rate,
    file_warm: Rate,
}

/// The log's configuration for one run: defaults (1 GiB segments), no retention.
fn log_config(base: &LogConfig, durability: Durability) -> LogConfig {
    LogConfig {
        durability,
        ..base.clone()
    }
}

fn single_writer(
    root: &Path,
    w: &Workload,
    batches: u64,
    policy: Policy,
    read_bytes: usize,
    log_first: bool,
    base: &LogConfig,
) -> anyhow::Result<Row> {
    let bytes = batches * w.batch_bytes as u64;
    let file = root.join("baseline.bin");
    let dir = root.join("log");
    let _cleanup = (RemoveOnDrop(file.clone()), RemoveOnDrop(dir.clone()));

    // Alternate which side goes first between passes so neither always gets the emptier
    // page cache or the freshly trimmed disk.
    let mut write = None;
    let mut append = None;
    for side in if log_first {
        [true, false]
    } else {
        [false, true]
    } {
        machine::drop_page_cache();
        if side {
            append = Some(write_log(&dir, w, batches, policy, base)?);
        } else {
            write = Some(Rate {
                bytes,
                elapsed: baseline::write(&file, w, batches, policy.cadence())?,
                cpu: Duration::ZERO,
            });
        }
    }
    let (Some(write), Some((append, log))) = (write, append) else {
        bail!("both sides ran");
    };

    let mut file_read = None;
    let mut log_read = None;
    let mut file_warm = None;
    let mut log_warm = None;
    let order = if log_first {
        [true, false]
    } else {
        [false, true]
    };
    for side in order {
        machine::drop_page_cache();
        if side {
            log_read = Some(read_log(&log, read_bytes, bytes)?);
            log_warm = Some(read_log(&log, read_bytes, bytes)?);
        } else {
            file_read = Some(read_file(&file, read_bytes, bytes)?);
            file_warm = Some(read_file(&file, read_bytes, bytes)?);
        }
    }
    let (Some(file_read), Some(log_read), Some(file_warm), Some(log_warm)) =
        (file_read, log_read, file_warm, log_warm)
    else {
        bail!("both sides read");
    };
    Ok(Row {
        append,
        write,
        log_read,
        file_read,
        log_warm,
        file_warm,
    })
}

/// Appends `batches` batches to a new log in `dir` under `policy`; returns the rate and the
/// closed log (still readable).
fn write_log(
    dir: &Path,
    w: &Workload,
    batches: u64,
    policy: Policy,
    base: &LogConfig,
) -> anyhow::Result<(Rate, Log)> {
    let log = Arc::new(Log::open(dir, log_config(base, policy.durability()))?);
    let mut flusher = match policy {
        Policy::Interval(d) => {
            let f = Flusher::start(d);
            f.register(&log);
            Some(f)
        }
        _ => None,
    };
    let mut buf = vec![0u8; w.batch_bytes];
    let cpu = machine::process_cpu();
    let start = Instant::now();
    for i in 0..batches {
        buf.copy_from_slice(&w.batches[i as usize % w.batches.len()]);
        log.append(&mut buf)?;
    }
    let rate = Rate {
        bytes: batches * w.batch_bytes as u64,
        elapsed: start.elapsed(),
        cpu: machine::process_cpu().saturating_sub(cpu),
    };
    if let Some(f) = flusher.as_mut() {
        f.stop();
    }
    drop(flusher);
    log.close()?;
    let log = Arc::try_unwrap(log)
        .map_err(|_| anyhow::anyhow!("log still shared after the flusher stopped"))?;
    Ok((rate, log))
}

fn read_file(file: &Path, read_bytes: usize, expect: u64) -> anyhow::Result<Rate> {
    let (elapsed, read) = baseline::read(file, read_bytes)?;
    if read != expect {
        bail!("baseline read back {read} bytes, wrote {expect}");
    }
    Ok(Rate {
        bytes: read,
        elapsed,
        cpu: Duration::ZERO,
    })
}

/// Reads the whole log from offset 0 in `read_bytes` requests.
fn read_log(log: &Log, read_bytes: usize, expect: u64) -> anyhow::Result<Rate> {
    let hw = log.high_watermark();
    let mut at = log.log_start_offset();
    let mut total = 0u64;
    let cpu = machine::process_cpu();
    let start = Instant::now();
    while at < hw {
        let r = log.read(at, read_bytes)?;
        let last = last_batch(&r.bytes).context("log read returned no whole batch")?;
        at = last.last_offset() + 1;
        total += r.bytes.len() as u64;
    }
    let elapsed = start.elapsed();
    let cpu = machine::process_cpu().saturating_sub(cpu);
    if total != expect {
        bail!("log read back {total} bytes, appended {expect}");
    }
    Ok(Rate {
        bytes: total,
        elapsed,
        cpu,
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

/// Result of a concurrent append run.
struct Concurrent {
    rate: Rate,
    appends: u64,
}

impl Concurrent {
    fn mib_s(&self) -> f64 {
        self.rate.mib_s()
    }
}

/// `threads` appenders share `batches` appends to one log.
fn concurrent(
    root: &Path,
    w: &Workload,
    batches: u64,
    policy: Policy,
    threads: usize,
    base: &LogConfig,
) -> anyhow::Result<Concurrent> {
    let dir = root.join("log-concurrent");
    let _cleanup = RemoveOnDrop(dir.clone());
    let log = Arc::new(Log::open(&dir, log_config(base, policy.durability()))?);
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
    let appends = per_thread * threads as u64;
    Ok(Concurrent {
        rate: Rate {
            bytes: appends * w.batch_bytes as u64,
            elapsed,
            cpu: Duration::ZERO,
        },
        appends,
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
