//! `strom bench compaction`: how fast the log cleaner cleans and how much it costs producers.
//!
//! For each cleaner setting (unthrottled, then the server's default 50 MiB/s budget) it builds
//! a fresh compacted log of N MiB of keyed records in closed segments, then measures in the
//! same run:
//! - a plain sequential read of those segment files (the layer below: the cleaner reads every
//!   byte at least twice, so this bounds it);
//! - a producer thread appending to the log's active segment while `Log::compact` runs, and
//!   the cleaning itself;
//! - the same producer with the cleaner idle, right after (so its data is not cleaned).
//!
//! It prints cleaning MiB/s (closed bytes before cleaning / cleaning time) against the raw
//! read, and producer MiB/s while cleaning against the idle producer, with the worst single
//! append latency of each (a swap holds the writer lock, which appends wait for).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rand::{Rng, SeedableRng};
use strom_log::{CompactionConfig, Durability, Log, LogConfig, Throttle};

use super::machine;

const MIB: f64 = (1u64 << 20) as f64;

/// Flags of `strom bench compaction`.
#[derive(clap::Args, Debug, Clone)]
pub struct CompactionBenchArgs {
    /// Closed-segment data to clean per run, in MiB.
    #[arg(long, default_value_t = 256)]
    pub mib: u64,
    /// Distinct keys in the cleaned data (fewer keys: more is removed).
    #[arg(long, default_value_t = 20_000)]
    pub keys: u64,
    /// Value size of each record.
    #[arg(long, default_value_t = 256)]
    pub record_bytes: usize,
    /// Records per batch (fill and producer).
    #[arg(long, default_value_t = 32)]
    pub batch_records: usize,
    /// Segment size in MiB.
    #[arg(long, default_value_t = 16)]
    pub segment_mib: u64,
    /// Seconds the producer runs with the cleaner idle.
    #[arg(long, default_value_t = 3.0)]
    pub idle_secs: f64,
    /// Cleaner budgets to run, comma-separated MiB/s, `0` for unthrottled.
    #[arg(long, default_value = "0,50")]
    pub throttles: String,
    /// Directory for the logs, on the file system to measure
    /// [default: a new directory under the system temp dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Bytes moved in a time span, and the slowest single operation in it.
#[derive(Debug, Clone, Copy)]
struct Rate {
    bytes: u64,
    elapsed: Duration,
    worst: Duration,
}

impl Rate {
    fn mib_s(self) -> f64 {
        self.bytes as f64 / MIB / self.elapsed.as_secs_f64().max(1e-9)
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn encode(records: &[Record]) -> anyhow::Result<Vec<u8>> {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options)
        .context("encoding a benchmark batch")?;
    Ok(buf.to_vec())
}

/// One batch of `n` records with keys drawn from `keys`, `record_bytes` values.
fn keyed_batch(
    rng: &mut impl Rng,
    keys: u64,
    n: usize,
    record_bytes: usize,
    ts: i64,
) -> anyhow::Result<Vec<u8>> {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let mut value = vec![0u8; record_bytes];
            rng.fill(&mut value[..]);
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // Constant offset - sequence keeps all records in one batch.
                sequence: i as i32 - 1,
                timestamp: ts,
                key: Some(Bytes::from(format!("key-{:08}", rng.gen_range(0..keys)))),
                value: Some(Bytes::from(value)),
                headers: Default::default(),
            }
        })
        .collect();
    encode(&records)
}

fn config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_ms: None,
        // Both producer and cleaner measure the engine, not the device's fsync latency.
        durability: Durability::Never,
        retention_ms: None,
        retention_bytes: None,
        decode: Default::default(),
        compaction: Some(CompactionConfig {
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 24 * 3600 * 1000,
        }),
        ..LogConfig::default()
    }
}

/// Closed segment files of a log directory (all `.log` files but the newest).
fn closed_segments(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    files.pop();
    Ok(files)
}

/// Reads the files sequentially in 1 MiB chunks: the raw cost of one cleaner pass.
fn raw_read(files: &[PathBuf]) -> anyhow::Result<Rate> {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    let started = Instant::now();
    let mut bytes = 0u64;
    for path in files {
        let mut f =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        loop {
            let n = f
                .read(&mut buf)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
        }
    }
    Ok(Rate {
        bytes,
        elapsed: started.elapsed(),
        worst: Duration::ZERO,
    })
}

/// Appends copies of `template` to `log` until `stop` is set or `limit` has passed.
fn produce(
    log: &Log,
    template: &[u8],
    stop: &AtomicBool,
    limit: Option<Duration>,
) -> anyhow::Result<Rate> {
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut worst = Duration::ZERO;
    let mut batch = template.to_vec();
    while !stop.load(Ordering::Acquire) && limit.is_none_or(|l| started.elapsed() < l) {
        batch.copy_from_slice(template);
        let t = Instant::now();
        log.append(&mut batch).context("producer append")?;
        worst = worst.max(t.elapsed());
        bytes += batch.len() as u64;
    }
    Ok(Rate {
        bytes,
        elapsed: started.elapsed(),
        worst,
    })
}

struct Row {
    label: String,
    closed_bytes: u64,
    raw: Rate,
    clean: Rate,
    bytes_after: u64,
    producer_idle: Rate,
    producer_busy: Rate,
}

fn one_run(
    root: &Path,
    args: &CompactionBenchArgs,
    throttle_mib: u64,
    seed: u64,
) -> anyhow::Result<Row> {
    let dir = root.join(format!("compaction-{throttle_mib}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let segment_bytes = args.segment_mib << 20;
    let log = Arc::new(Log::open(&dir, config(segment_bytes)).context("opening the bench log")?);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let now = strom_now_ms();
    // Fill until the closed segments hold the requested volume.
    let target = args.mib << 20;
    loop {
        let closed: u64 = log.size_bytes().saturating_sub(active_size(&dir)?);
        if closed >= target {
            break;
        }
        let mut b = keyed_batch(
            &mut rng,
            args.keys,
            args.batch_records,
            args.record_bytes,
            now - 60_000,
        )?;
        log.append(&mut b).context("fill append")?;
    }
    log.flush().context("flush after fill")?;
    let files = closed_segments(&dir)?;
    let closed_bytes: u64 = files
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let raw = raw_read(&files)?;

    let template = keyed_batch(
        &mut rng,
        args.keys,
        args.batch_records,
        args.record_bytes,
        now,
    )?;
    let throttle = (throttle_mib > 0).then(|| Throttle::new(throttle_mib << 20));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (log, stop, template) = (Arc::clone(&log), Arc::clone(&stop), template.clone());
        std::thread::spawn(move || produce(&log, &template, &stop, None))
    };
    let started = Instant::now();
    let stats = log.compact(strom_now_ms(), throttle.as_ref());
    let clean_elapsed = started.elapsed();
    stop.store(true, Ordering::Release);
    let producer_busy = producer
        .join()
        .map_err(|_| anyhow::anyhow!("producer thread panicked"))??;
    let stats = stats.context("compaction")?;
    // The idle window comes after the cleaning so its data is not cleaned too; both windows
    // start with the page cache flushed.
    log.flush().context("flush after cleaning")?;
    let stop = AtomicBool::new(false);
    let producer_idle = produce(
        &log,
        &template,
        &stop,
        Some(Duration::from_secs_f64(args.idle_secs)),
    )?;
    if stats.segments_cleaned == 0 {
        bail!("the cleaner rewrote nothing: use fewer --keys or more --mib");
    }
    log.close().context("close")?;
    drop(log);
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    Ok(Row {
        label: if throttle_mib == 0 {
            "unthrottled".into()
        } else {
            format!("throttle {throttle_mib} MiB/s")
        },
        closed_bytes,
        raw,
        clean: Rate {
            bytes: closed_bytes,
            elapsed: clean_elapsed,
            worst: Duration::ZERO,
        },
        bytes_after: closed_bytes.saturating_sub(stats.bytes_before - stats.bytes_after),
        producer_idle,
        producer_busy,
    })
}

fn active_size(dir: &Path) -> anyhow::Result<u64> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    Ok(files
        .last()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .unwrap_or(0))
}

fn strom_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn run(args: &CompactionBenchArgs) -> anyhow::Result<()> {
    let idle_ok = args.idle_secs.is_finite() && args.idle_secs > 0.0;
    if args.mib == 0
        || args.keys == 0
        || args.record_bytes == 0
        || args.batch_records == 0
        || args.segment_mib == 0
        || !idle_ok
    {
        bail!("--mib, --keys, --record-bytes, --batch-records, --segment-mib and --idle-secs must be positive");
    }
    let throttles: Vec<u64> = args
        .throttles
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<u64>()
                .with_context(|| format!("--throttles: '{t}' is not a number of MiB/s"))
        })
        .collect::<anyhow::Result<_>>()?;
    let (root, _tmp) = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            (d.clone(), None)
        }
        None => {
            let t =
                std::env::temp_dir().join(format!("strom-bench-compaction-{}", std::process::id()));
            std::fs::create_dir_all(&t)
                .with_context(|| format!("cannot create {}", t.display()))?;
            (t.clone(), Some(RemoveOnDrop(t)))
        }
    };
    println!("strom bench compaction");
    println!("machine: {}", machine::describe(&root));
    println!(
        "workload: {} MiB of closed {} MiB segments per run, {} keys, batches of {} records x {} B, durability never; producer appends the same batch shape to the active segment",
        args.mib, args.segment_mib, args.keys, args.batch_records, args.record_bytes
    );
    println!();
    println!(
        "{:<20} {:>10} {:>10} {:>7} {:>9}   {:>11} {:>11} {:>7} {:>9} {:>9}",
        "cleaner",
        "clean MiB/s",
        "raw read",
        "ratio",
        "kept",
        "prod idle",
        "prod clean",
        "ratio",
        "worst idle",
        "worst cln"
    );
    for (i, t) in throttles.iter().enumerate() {
        let row = one_run(&root, args, *t, 0x5eed + i as u64)?;
        println!(
            "{:<20} {:>10.1} {:>10.1} {:>7.3} {:>8.1}%   {:>11.1} {:>11.1} {:>7.3} {:>7.1}ms {:>7.1}ms",
            row.label,
            row.clean.mib_s(),
            row.raw.mib_s(),
            row.clean.mib_s() / row.raw.mib_s(),
            100.0 * row.bytes_after as f64 / row.closed_bytes.max(1) as f64,
            row.producer_idle.mib_s(),
            row.producer_busy.mib_s(),
            row.producer_busy.mib_s() / row.producer_idle.mib_s(),
            row.producer_idle.worst.as_secs_f64() * 1000.0,
            row.producer_busy.worst.as_secs_f64() * 1000.0,
        );
        println!(
            "{:<20} cleaned {:.1} MiB in {:.2} s; producer wrote {:.1} MiB meanwhile",
            "",
            row.closed_bytes as f64 / MIB,
            row.clean.elapsed.as_secs_f64(),
            row.producer_busy.bytes as f64 / MIB
        );
    }
    println!();
    println!("clean MiB/s: closed bytes before cleaning / time of Log::compact; raw read: one sequential read of the same files (page cache as left by the fill); kept: share of bytes left after cleaning");
    println!("prod idle/clean: producer append MiB/s with the cleaner idle / while it runs (target ratio >= 0.8); worst: slowest single append");
    println!(
        "peak RSS of the whole benchmark: {:.1} MiB (the cleaner streams cleaned segments to disk and keeps 128-bit key hashes)",
        machine::peak_rss() as f64 / (1u64 << 20) as f64
    );
    Ok(())
}
