//! `strom bench`: throughput benchmarks that print ratios against a baseline measured in the
//! same run on the same machine and file system, never bare absolute numbers alone.
//! Owns only measurement and reporting; the code under test is used through its public API.

mod baseline;
mod compaction;
mod log;
mod machine;
mod workload;

use std::path::PathBuf;

/// Which benchmark to run.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// The storage engine: append and read back against plain file write/read.
    Log(LogBenchArgs),
    /// The log cleaner: cleaning throughput, and producer throughput while it runs.
    Compaction(compaction::CompactionBenchArgs),
}

/// Flags of `strom bench log`.
#[derive(clap::Args, Debug, Clone)]
pub struct LogBenchArgs {
    /// Data volume written (and read back) per durability policy, in GiB.
    #[arg(long, default_value_t = 2.0)]
    pub gib: f64,
    /// Volume per pass for `always`, whose throughput is fsync-latency bound and does not
    /// depend on volume [default: --gib].
    #[arg(long)]
    pub always_gib: Option<f64>,
    /// Volume per concurrent run (group commit and its `interval` comparison)
    /// [default: --gib].
    #[arg(long)]
    pub concurrent_gib: Option<f64>,
    /// Passes per single-writer policy (even: each side goes first equally often); medians
    /// of throughput and geometric means of per-pass ratios are reported.
    #[arg(long, default_value_t = 4)]
    pub repeat: usize,
    /// Directory for the log and the baseline file; on the file system to measure
    /// [default: a new directory under the system temp dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Value size of each record.
    #[arg(long, default_value_t = 1024)]
    pub record_bytes: usize,
    /// Records per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_records: usize,
    /// Appender thread counts for the group-commit runs, comma-separated.
    #[arg(long, default_value = "4,16,64")]
    pub threads: String,
    /// fsync interval of the `interval` policy, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Policies to run, comma-separated: always, interval, never, concurrent.
    #[arg(long, default_value = "always,interval,never,concurrent")]
    pub policies: String,
    /// The log's `index_interval_bytes` (an offset- and a time-index entry per this many bytes).
    #[arg(long, default_value_t = 4096)]
    pub index_interval_bytes: u64,
    /// Bytes per read call (log `max_bytes` and baseline read size).
    #[arg(long, default_value_t = 1 << 20)]
    pub read_bytes: usize,
}

pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Log(args) => log::run(&args),
        BenchCommand::Compaction(args) => compaction::run(&args),
    }
}
