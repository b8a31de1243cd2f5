//! The flags of `strom serve` (each also read from a `STROM_*` environment variable).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `strom serve`. Every flag also reads `STROM_<NAME>` from the environment.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "STROM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./strom-data].
    #[arg(long, env = "STROM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Kafka PLAINTEXT listener address [default: 127.0.0.1:9092].
    #[arg(long, env = "STROM_KAFKA_LISTEN")]
    pub kafka_listen: Option<SocketAddr>,
    /// Host announced to Kafka clients of `--kafka-listen` [default: the listen host, or
    /// localhost for 0.0.0.0].
    #[arg(long, env = "STROM_KAFKA_ADVERTISED_HOST")]
    pub kafka_advertised_host: Option<String>,
    /// HTTP listener address [default: 127.0.0.1:8080].
    #[arg(long, env = "STROM_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// A second listener serving the HTTP API (the Schema Registry API, where clients expect
    /// port 8081) with the HTTP listener's TLS and authentication [default: none].
    #[arg(long, env = "STROM_SCHEMA_REGISTRY_LISTEN")]
    pub schema_registry_listen: Option<SocketAddr>,
    /// Let listeners without authentication bind non-loopback addresses [default: false].
    #[arg(long, env = "STROM_ALLOW_UNAUTHENTICATED_NETWORK")]
    pub allow_unauthenticated_network: Option<bool>,
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
    /// One log line per HTTP request (target `strom::access`) [default: false].
    #[arg(long, env = "STROM_HTTP_ACCESS_LOG")]
    pub http_access_log: Option<bool>,
    /// Log filter (tracing EnvFilter syntax) [default: info].
    #[arg(long, env = "STROM_LOG")]
    pub log: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "STROM_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Check every request against the ACLs [default: false].
    #[arg(long, env = "STROM_AUTHORIZER_ENABLED")]
    pub authorizer_enabled: Option<bool>,
    /// Principals allowed everything, Kafka style: `User:admin;User:ops`.
    #[arg(long, env = "STROM_SUPER_USERS")]
    pub super_users: Option<String>,
    /// Address of a SASL_PLAINTEXT Kafka listener [default: none].
    #[arg(long, env = "STROM_KAFKA_SASL_LISTEN")]
    pub kafka_sasl_listen: Option<SocketAddr>,
    /// User created at start if absent, `<user>:<password>:<mechanism>` (SCRAM-SHA-256 or
    /// SCRAM-SHA-512). Prefer the environment variable: flags are visible to other users.
    #[arg(long, env = "STROM_BOOTSTRAP_USER", hide_env_values = true)]
    pub bootstrap_user: Option<String>,
    /// HTTP authentication: none, optional or required [default: optional].
    #[arg(long, env = "STROM_HTTP_AUTH")]
    pub http_auth: Option<String>,
}
