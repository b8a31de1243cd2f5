//! Server configuration: defaults, then a TOML file, then `STROM_*` environment variables,
//! then command-line flags (each later source wins). This file owns the error type and the
//! resolved `Settings`; each area reads its keys and keeps its defaults in its own file:
//! `args` (flags), `file` (the TOML shape), `groups`, `limits` (connections), `network`
//! (listeners), `security`, `storage`, `http` (and logging), `webhooks`; tiered storage is
//! in `tiered_config.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;

use strom_log::Durability;

/// A configuration problem (bad file, flag or value); the binary exits with code 78.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Returns a `ConfigError` built like `format!`.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new(ConfigError(format!($($arg)*))))
    };
}

mod args;
mod file;
mod groups;
mod http;
mod limits;
mod network;
mod security;
mod storage;
mod webhooks;

pub use args::ServeArgs;

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub http_listen: SocketAddr,
    /// The second HTTP listener for Schema Registry clients (`schema_registry_listen`).
    pub schema_registry_listen: Option<SocketAddr>,
    /// The `error_code` of an incompatible schema registration: 409 or 40901.
    pub schema_incompatible_error_code: u32,
    /// Every Kafka listener: `kafka_listen` as `PLAINTEXT` (unless only `kafka_listeners`
    /// are configured), then `kafka_listeners`.
    pub kafka_listeners: Vec<crate::listeners::KafkaListener>,
    /// HTTPS on the HTTP listener.
    pub http_ssl: Option<crate::listeners::SslSettings>,
    /// Listeners bound to the network without authentication (allowed by
    /// `allow_unauthenticated_network`); each start warns about them.
    pub unauthenticated_exposed: Vec<String>,
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
    pub connections: strom_broker::ConnectionLimitsConfig,
    pub connections_max_idle_ms: u64,
    pub queued_max_request_bytes: usize,
    /// Kafka fetch sessions (KIP-227) held at most (0: every fetch is a full fetch).
    pub max_incremental_fetch_session_cache_slots: usize,
    pub http_header_read_timeout_ms: u64,
    pub http_max_body_bytes: usize,
    pub http_max_poll_timeout_ms: u64,
    /// One `strom::access` log line per HTTP request.
    pub http_access_log: bool,
    /// Distinct `topic` label values of the per-topic metrics; more topics share `other`.
    pub metrics_max_topic_labels: usize,
    pub cleaner_bytes_per_sec: u64,
    pub cleaner_dedupe_buffer_bytes: usize,
    /// Segment and index files kept open at most; `None`: half the soft `RLIMIT_NOFILE`.
    pub max_open_log_files: Option<usize>,
    pub groups: strom_broker::group::GroupConfig,
    pub transactions: strom_broker::txn::TxnConfig,
    pub retention_check_interval_ms: u64,
    pub disk: strom_broker::DiskConfig,
    pub authorizer: strom_auth::AuthorizerConfig,
    pub sasl: strom_auth::sasl::SaslConfig,
    pub bootstrap_user: Option<crate::sasl_config::BootstrapUser>,
    /// Bearer tokens (OAUTHBEARER, HTTP Bearer): `SecurityConfig::tokens`.
    pub oauth: strom_auth::TokenConfig,
    pub http_auth: strom_http::auth::HttpAuthConfig,
    /// Where webhooks may deliver: loopback and private ranges only while no authentication
    /// is configured, unless allow-listed in `webhook_allowed_networks`.
    pub webhook_targets: strom_webhooks::ssrf::TargetPolicy,
    /// Tiered storage, with a `[tiered]` section.
    pub tiered: Option<strom_broker::TieringConfig>,
    /// The web console's settings (`[console]`).
    pub console: strom_http::export::ConsoleConfig,
}

impl Settings {
    /// Reads the file named by `--config` (if any) and resolves every setting.
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Settings> {
        let file = file::FileConfig::read(args.config.as_deref())?;
        let groups = groups::group_config(&file)?;
        let transactions = groups::transaction_config(&file)?;
        let connections = limits::connection_settings(&file)?;
        let disk = storage::disk_config(&file)?;
        let security = security::security_settings(&args, &file)?;
        let required = security.http_auth.mode == strom_http::auth::AuthMode::Required;
        let network = network::network_settings(&args, &file, required)?;
        let storage = storage::storage_settings(&args, &file)?;
        let http = http::http_settings(&args, &file)?;
        let tiered = crate::tiered_config::tiering(file.tiered.as_ref())?;
        let webhook_targets = webhooks::webhook_policy(&file, &security.http_auth, &network.kafka)?;
        Ok(Settings {
            data_dir: storage.data_dir,
            http_listen: network.http_listen,
            schema_registry_listen: network.schema_registry_listen,
            schema_incompatible_error_code: network.schema_incompatible_error_code,
            kafka_listeners: network.kafka,
            http_ssl: network.http_ssl,
            unauthenticated_exposed: network.exposed,
            durability: storage.durability,
            default_partitions: storage.default_partitions,
            auto_create_topics: storage.auto_create_topics,
            log: http.log,
            log_json: http.log_json,
            segment_bytes: storage.segment_bytes,
            retention_ms: storage.retention_ms,
            max_message_bytes: storage.max_message_bytes,
            max_decompressed_batch_bytes: storage.max_decompressed_batch_bytes,
            max_decoded_record_bytes: storage.max_decoded_record_bytes,
            max_frame_bytes: connections.max_frame_bytes,
            connections: connections.limits,
            connections_max_idle_ms: connections.idle_ms,
            queued_max_request_bytes: connections.queued_bytes,
            max_incremental_fetch_session_cache_slots: file
                .max_incremental_fetch_session_cache_slots
                .unwrap_or(strom_kafka::fetch_sessions::DEFAULT_SLOTS),
            http_header_read_timeout_ms: connections.header_read_timeout_ms,
            http_max_body_bytes: http.max_body_bytes,
            http_max_poll_timeout_ms: http.max_poll_timeout_ms,
            http_access_log: http.access_log,
            metrics_max_topic_labels: http.metrics_max_topic_labels,
            cleaner_bytes_per_sec: storage.cleaner_bytes_per_sec,
            cleaner_dedupe_buffer_bytes: storage.cleaner_dedupe_buffer_bytes,
            max_open_log_files: storage.max_open_log_files,
            groups,
            transactions,
            retention_check_interval_ms: storage.retention_check_interval_ms,
            disk,
            authorizer: security.authorizer,
            sasl: security.sasl,
            bootstrap_user: security.bootstrap_user,
            oauth: security.oauth,
            http_auth: security.http_auth,
            webhook_targets,
            tiered,
            console: http.console,
        })
    }
}
