//! Storage settings: the data directory, fsync policy, topic and segment defaults, record
//! size limits, retention, the log cleaner and the disk guard. Defaults are here or in the
//! storage crates (`strom_log::*DEFAULT_*`, `DiskConfig::default()`).

use std::path::PathBuf;
use std::time::Duration;

use strom_log::Durability;

use super::args::ServeArgs;
use super::file::FileConfig;
use super::ConfigError;

/// The resolved storage settings (the disk guard's are `disk_config`'s).
pub(super) struct StorageSettings {
    pub(super) data_dir: PathBuf,
    pub(super) durability: Durability,
    pub(super) default_partitions: i32,
    pub(super) auto_create_topics: bool,
    pub(super) segment_bytes: u64,
    pub(super) retention_ms: Option<i64>,
    pub(super) max_message_bytes: usize,
    pub(super) max_decompressed_batch_bytes: usize,
    pub(super) max_decoded_record_bytes: usize,
    pub(super) cleaner_bytes_per_sec: u64,
    pub(super) cleaner_dedupe_buffer_bytes: usize,
    pub(super) max_open_log_files: Option<usize>,
    pub(super) retention_check_interval_ms: u64,
}

/// The storage settings from flags and file, with their defaults.
pub(super) fn storage_settings(
    args: &ServeArgs,
    file: &FileConfig,
) -> anyhow::Result<StorageSettings> {
    let durability = durability(args, file)?;
    let default_partitions = args
        .default_partitions
        .or(file.default_partitions)
        .unwrap_or(1);
    if default_partitions < 1 {
        bail!("default_partitions must be at least 1");
    }
    Ok(StorageSettings {
        data_dir: args
            .data_dir
            .clone()
            .or(file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./strom-data")),
        durability,
        default_partitions,
        auto_create_topics: args
            .auto_create_topics
            .or(file.auto_create_topics)
            .unwrap_or(true),
        segment_bytes: file.segment_bytes.unwrap_or(1 << 30),
        retention_ms: file.retention_ms.or(Some(7 * 24 * 3600 * 1000)),
        max_message_bytes: file.max_message_bytes.unwrap_or(1024 * 1024 + 12 * 1024),
        max_decompressed_batch_bytes: file
            .max_decompressed_batch_bytes
            .unwrap_or(strom_log::decode::DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES),
        max_decoded_record_bytes: file
            .max_decoded_record_bytes
            .unwrap_or(strom_log::decode::DEFAULT_MAX_DECODED_RECORD_BYTES),
        cleaner_bytes_per_sec: file.cleaner_bytes_per_sec.unwrap_or(50 << 20),
        cleaner_dedupe_buffer_bytes: file
            .cleaner_dedupe_buffer_bytes
            .unwrap_or(strom_log::DEFAULT_DEDUPE_BUFFER_BYTES),
        max_open_log_files: file.max_open_log_files,
        retention_check_interval_ms: args
            .retention_check_interval_ms
            .or(file.retention_check_interval_ms)
            .unwrap_or(30_000),
    })
}

/// The fsync policy: always, interval (every `fsync_interval_ms`, default 1000) or never.
fn durability(args: &ServeArgs, file: &FileConfig) -> anyhow::Result<Durability> {
    let fsync = args
        .fsync
        .clone()
        .or(file.fsync.clone())
        .unwrap_or_else(|| "interval".to_string());
    let interval = args
        .fsync_interval_ms
        .or(file.fsync_interval_ms)
        .unwrap_or(1000);
    Ok(match fsync.as_str() {
        "always" => Durability::Always,
        "interval" => {
            if interval == 0 {
                bail!("fsync_interval_ms must be greater than 0");
            }
            Durability::Interval(Duration::from_millis(interval))
        }
        "never" => Durability::Never,
        other => bail!("invalid fsync policy '{other}': expected always, interval or never"),
    })
}

/// Free-space limits of the data directory from the file; defaults in `DiskConfig`.
pub(super) fn disk_config(file: &FileConfig) -> anyhow::Result<strom_broker::DiskConfig> {
    let defaults = strom_broker::DiskConfig::default();
    let config = strom_broker::DiskConfig {
        min_free_bytes: file.min_free_bytes.unwrap_or(defaults.min_free_bytes),
        min_free_percent: file.min_free_percent.unwrap_or(defaults.min_free_percent),
        check_interval: file
            .disk_check_interval_ms
            .map_or(defaults.check_interval, Duration::from_millis),
    };
    if !(0.0..100.0).contains(&config.min_free_percent) {
        bail!("min_free_percent must be at least 0 and below 100");
    }
    if config.check_interval.is_zero() {
        bail!("disk_check_interval_ms must be greater than 0");
    }
    Ok(config)
}
