//! Server configuration: defaults, then a TOML file, then `STROM_*` environment variables,
//! then command-line flags (each later source wins).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A configuration problem (bad file, flag or value); the binary exits with code 78.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new(ConfigError(format!($($arg)*))))
    };
}
use serde::Deserialize;
use strom_log::Durability;

/// Flags of `strom serve`. Every flag also reads `STROM_<NAME>` from the environment.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "STROM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./strom-data].
    #[arg(long, env = "STROM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Kafka listener address [default: 0.0.0.0:9092].
    #[arg(long, env = "STROM_KAFKA_LISTEN")]
    pub kafka_listen: Option<SocketAddr>,
    /// Host announced to Kafka clients [default: the listen host, or localhost for 0.0.0.0].
    #[arg(long, env = "STROM_KAFKA_ADVERTISED_HOST")]
    pub kafka_advertised_host: Option<String>,
    /// HTTP listener address [default: 0.0.0.0:8080].
    #[arg(long, env = "STROM_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// fsync policy: always, interval or never [default: interval].
    #[arg(long, env = "STROM_FSYNC")]
    pub fsync: Option<String>,
    /// fsync interval in milliseconds for `fsync = interval` [default: 1000].
    #[arg(long, env = "STROM_FSYNC_INTERVAL_MS")]
    pub fsync_interval_ms: Option<u64>,
    /// Partitions of auto-created topics [default: 1].
    #[arg(long, env = "STROM_DEFAULT_PARTITIONS")]
    pub default_partitions: Option<i32>,
    /// Create topics on first use by a Kafka client [default: true].
    #[arg(long, env = "STROM_AUTO_CREATE_TOPICS")]
    pub auto_create_topics: Option<bool>,
    /// How often retention runs and the log cleaner checks for work, in ms [default: 30000].
    #[arg(long, env = "STROM_RETENTION_CHECK_INTERVAL_MS")]
    pub retention_check_interval_ms: Option<u64>,
    /// Log filter (tracing EnvFilter syntax) [default: info].
    #[arg(long, env = "STROM_LOG")]
    pub log: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "STROM_LOG_FORMAT")]
    pub log_format: Option<String>,
}

/// The TOML file's shape; every key is optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileConfig {
    data_dir: Option<PathBuf>,
    kafka_listen: Option<SocketAddr>,
    kafka_advertised_host: Option<String>,
    http_listen: Option<SocketAddr>,
    fsync: Option<String>,
    fsync_interval_ms: Option<u64>,
    default_partitions: Option<i32>,
    auto_create_topics: Option<bool>,
    log: Option<String>,
    log_format: Option<String>,
    segment_bytes: Option<u64>,
    retention_ms: Option<i64>,
    max_message_bytes: Option<usize>,
    max_decompressed_batch_bytes: Option<usize>,
    max_decoded_record_bytes: Option<usize>,
    max_frame_bytes: Option<usize>,
    max_connections: Option<usize>,
    http_max_body_bytes: Option<usize>,
    http_max_poll_timeout_ms: Option<u64>,
    cleaner_bytes_per_sec: Option<u64>,
    cleaner_dedupe_buffer_bytes: Option<usize>,
    offsets_retention_minutes: Option<u64>,
    group_initial_rebalance_delay_ms: Option<u64>,
    group_min_session_timeout_ms: Option<u64>,
    group_max_session_timeout_ms: Option<u64>,
    retention_check_interval_ms: Option<u64>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub kafka_listen: SocketAddr,
    pub kafka_advertised_host: String,
    pub http_listen: SocketAddr,
    pub durability: Durability,
    pub default_partitions: i32,
    pub auto_create_topics: bool,
    pub log: String,
    pub log_json: bool,
    pub segment_bytes: u64,
    pub retention_ms: Option<i64>,
    pub max_message_bytes: usize,
    /// Most bytes one batch's records may decompress to (produce refuses more).
    pub max_decompressed_batch_bytes: usize,
    /// Most bytes of one record a reader materialises (HTTP reads, compaction keys).
    pub max_decoded_record_bytes: usize,
    pub max_frame_bytes: usize,
    pub max_connections: usize,
    pub http_max_body_bytes: usize,
    pub http_max_poll_timeout_ms: u64,
    pub cleaner_bytes_per_sec: u64,
    pub cleaner_dedupe_buffer_bytes: usize,
    pub groups: strom_broker::group::GroupConfig,
    pub retention_check_interval_ms: u64,
}

/// The group coordinator's settings from the file (Kafka's names, `group.*` / `offsets.*`).
fn group_config(file: &FileConfig) -> anyhow::Result<strom_broker::group::GroupConfig> {
    let defaults = strom_broker::group::GroupConfig::default();
    let ms = Duration::from_millis;
    let config = strom_broker::group::GroupConfig {
        offsets_retention: file
            .offsets_retention_minutes
            .map_or(defaults.offsets_retention, |m| {
                Duration::from_secs(m.saturating_mul(60))
            }),
        initial_rebalance_delay: file
            .group_initial_rebalance_delay_ms
            .map_or(defaults.initial_rebalance_delay, ms),
        min_session_timeout: file
            .group_min_session_timeout_ms
            .map_or(defaults.min_session_timeout, ms),
        max_session_timeout: file
            .group_max_session_timeout_ms
            .map_or(defaults.max_session_timeout, ms),
        ..defaults
    };
    if config.offsets_retention.is_zero() {
        bail!("offsets_retention_minutes must be greater than 0");
    }
    if config.min_session_timeout > config.max_session_timeout {
        bail!("group_min_session_timeout_ms must not exceed group_max_session_timeout_ms");
    }
    Ok(config)
}

impl Settings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| {
                    ConfigError(format!("invalid config file {}: {e}", path.display()))
                })?
            }
            None => FileConfig::default(),
        };
        let groups = group_config(&file)?;
        let kafka_listen = args
            .kafka_listen
            .or(file.kafka_listen)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 9092)));
        let kafka_advertised_host = args
            .kafka_advertised_host
            .or(file.kafka_advertised_host)
            .unwrap_or_else(|| {
                if kafka_listen.ip().is_unspecified() {
                    "localhost".to_string()
                } else {
                    kafka_listen.ip().to_string()
                }
            });
        let fsync = args
            .fsync
            .or(file.fsync)
            .unwrap_or_else(|| "interval".to_string());
        let interval = args
            .fsync_interval_ms
            .or(file.fsync_interval_ms)
            .unwrap_or(1000);
        let durability = match fsync.as_str() {
            "always" => Durability::Always,
            "interval" => {
                if interval == 0 {
                    bail!("fsync_interval_ms must be greater than 0");
                }
                Durability::Interval(Duration::from_millis(interval))
            }
            "never" => Durability::Never,
            other => bail!("invalid fsync policy '{other}': expected always, interval or never"),
        };
        let default_partitions = args
            .default_partitions
            .or(file.default_partitions)
            .unwrap_or(1);
        if default_partitions < 1 {
            bail!("default_partitions must be at least 1");
        }
        let log_format = args
            .log_format
            .or(file.log_format)
            .unwrap_or_else(|| "text".to_string());
        let log_json = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => bail!("invalid log format '{other}': expected text or json"),
        };
        Ok(Settings {
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./strom-data")),
            kafka_listen,
            kafka_advertised_host,
            http_listen: args
                .http_listen
                .or(file.http_listen)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 8080))),
            durability,
            default_partitions,
            auto_create_topics: args
                .auto_create_topics
                .or(file.auto_create_topics)
                .unwrap_or(true),
            log: args.log.or(file.log).unwrap_or_else(|| "info".to_string()),
            log_json,
            segment_bytes: file.segment_bytes.unwrap_or(1 << 30),
            retention_ms: file.retention_ms.or(Some(7 * 24 * 3600 * 1000)),
            max_message_bytes: file.max_message_bytes.unwrap_or(1024 * 1024 + 12 * 1024),
            max_decompressed_batch_bytes: file
                .max_decompressed_batch_bytes
                .unwrap_or(strom_log::decode::DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES),
            max_decoded_record_bytes: file
                .max_decoded_record_bytes
                .unwrap_or(strom_log::decode::DEFAULT_MAX_DECODED_RECORD_BYTES),
            max_frame_bytes: file.max_frame_bytes.unwrap_or(100 * 1024 * 1024),
            max_connections: file.max_connections.unwrap_or(10_000),
            http_max_body_bytes: file.http_max_body_bytes.unwrap_or(8 * 1024 * 1024),
            http_max_poll_timeout_ms: file.http_max_poll_timeout_ms.unwrap_or(60_000),
            cleaner_bytes_per_sec: file.cleaner_bytes_per_sec.unwrap_or(50 << 20),
            cleaner_dedupe_buffer_bytes: file
                .cleaner_dedupe_buffer_bytes
                .unwrap_or(strom_log::DEFAULT_DEDUPE_BUFFER_BYTES),
            groups,
            retention_check_interval_ms: args
                .retention_check_interval_ms
                .or(file.retention_check_interval_ms)
                .unwrap_or(30_000),
        })
    }
}
