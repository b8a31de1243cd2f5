//! Shared helpers of the broker's integration tests: a broker config on a test directory,
//! a record, and a look at what the data directory holds.
#![allow(dead_code)]

use std::path::Path;

use bytes::Bytes;
use strom_broker::{BrokerConfig, NewRecord};

pub fn config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        node_id: 1,
        auto_create_topics: false,
        default_partitions: 1,
        durability: strom_log::Durability::Never,
        log_defaults: strom_log::LogConfig {
            durability: strom_log::Durability::Never,
            ..Default::default()
        },
        retention_check_interval_ms: 60_000,
        cleaner_bytes_per_sec: 100 << 20,
        cleaner_dedupe_buffer_bytes: 1 << 20,
    }
}

pub fn record(value: &str) -> NewRecord {
    NewRecord {
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from(value.to_string())),
        ..Default::default()
    }
}

/// The entries of `dir/sub`, sorted (empty if it does not exist).
pub fn entries(dir: &Path, sub: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join(sub))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
