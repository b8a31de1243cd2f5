//! The TOML file's shape (every key optional, unknown keys refused) and reading it.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// The TOML file's shape; every key is optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(super) struct FileConfig {
    pub(super) data_dir: Option<PathBuf>,
    pub(super) kafka_listen: Option<SocketAddr>,
    pub(super) kafka_advertised_host: Option<String>,
    pub(super) http_listen: Option<SocketAddr>,
    pub(super) schema_registry_listen: Option<SocketAddr>,
    pub(super) schema_incompatible_error_code: Option<u32>,
    pub(super) allow_unauthenticated_network: Option<bool>,
    pub(super) kafka_listeners: Option<Vec<crate::listeners::ListenerFile>>,
    pub(super) http_ssl: Option<crate::listeners::SslFile>,
    pub(super) fsync: Option<String>,
    pub(super) fsync_interval_ms: Option<u64>,
    pub(super) default_partitions: Option<i32>,
    pub(super) auto_create_topics: Option<bool>,
    pub(super) log: Option<String>,
    pub(super) log_format: Option<String>,
    pub(super) segment_bytes: Option<u64>,
    pub(super) retention_ms: Option<i64>,
    pub(super) max_message_bytes: Option<usize>,
    pub(super) max_decompressed_batch_bytes: Option<usize>,
    pub(super) max_decoded_record_bytes: Option<usize>,
    pub(super) max_frame_bytes: Option<usize>,
    pub(super) max_connections: Option<usize>,
    pub(super) max_connections_per_ip: Option<usize>,
    pub(super) max_connections_per_ip_overrides: Option<std::collections::HashMap<String, usize>>,
    pub(super) connections_max_idle_ms: Option<u64>,
    pub(super) queued_max_request_bytes: Option<usize>,
    pub(super) max_incremental_fetch_session_cache_slots: Option<usize>,
    pub(super) http_header_read_timeout_ms: Option<u64>,
    pub(super) http_max_body_bytes: Option<usize>,
    pub(super) http_max_poll_timeout_ms: Option<u64>,
    pub(super) http_access_log: Option<bool>,
    pub(super) metrics_max_topic_labels: Option<usize>,
    pub(super) cleaner_bytes_per_sec: Option<u64>,
    pub(super) cleaner_dedupe_buffer_bytes: Option<usize>,
    pub(super) max_open_log_files: Option<usize>,
    pub(super) offsets_retention_minutes: Option<u64>,
    pub(super) group_initial_rebalance_delay_ms: Option<u64>,
    pub(super) group_min_session_timeout_ms: Option<u64>,
    pub(super) group_max_session_timeout_ms: Option<u64>,
    pub(super) group_consumer_session_timeout_ms: Option<u64>,
    pub(super) group_consumer_heartbeat_interval_ms: Option<u64>,
    pub(super) group_consumer_assignors: Option<Vec<String>>,
    pub(super) group_consumer_migration_policy: Option<String>,
    pub(super) transaction_max_timeout_ms: Option<i32>,
    pub(super) retention_check_interval_ms: Option<u64>,
    pub(super) min_free_bytes: Option<u64>,
    pub(super) min_free_percent: Option<f64>,
    pub(super) disk_check_interval_ms: Option<u64>,
    pub(super) http_auth: Option<String>,
    pub(super) http_auth_methods: Option<Vec<String>>,
    pub(super) http_session_ttl_ms: Option<u64>,
    pub(super) http_stream_token_ttl_ms: Option<u64>,
    pub(super) http_auth_failures_per_minute: Option<u32>,
    pub(super) webhook_allowed_networks: Option<Vec<String>>,
    pub(super) webhook_ca_file: Option<PathBuf>,
    pub(super) cors_allowed_origins: Option<Vec<String>>,
    pub(super) metrics_require_auth: Option<bool>,
    /// The console's cookie sessions may not change anything.
    pub(super) console_read_only: Option<bool>,
    /// `[oauth]`: bearer-token validation; defaults in `strom_auth::TokenConfig`.
    pub(super) oauth: Option<strom_auth::TokenConfig>,
    pub(super) kafka_sasl_listen: Option<SocketAddr>,
    pub(super) bootstrap_user: Option<String>,
    pub(super) sasl_enabled_mechanisms: Option<Vec<String>>,
    pub(super) sasl_plain_allow_plaintext: Option<bool>,
    pub(super) connections_max_reauth_ms: Option<u64>,
    pub(super) sasl_authentication_timeout_ms: Option<u64>,
    pub(super) max_failed_authentications_per_ip_per_sec: Option<u32>,
    pub(super) authorizer_enabled: Option<bool>,
    pub(super) super_users: Option<SuperUsers>,
    pub(super) allow_everyone_if_no_acl_found: Option<bool>,
    /// `[tiered]`: tiered storage (`tiered_config.rs`).
    pub(super) tiered: Option<crate::tiered_config::TieredFile>,
    /// `[console]`: the web console (defaults in `strom_http::export::ConsoleConfig`).
    pub(super) console: Option<strom_http::export::ConsoleConfig>,
}

/// `super_users` in the file: Kafka's `User:a;User:b` string, or a list of principals.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(super) enum SuperUsers {
    Kafka(String),
    List(Vec<String>),
}

impl FileConfig {
    /// The file at `path`, or every key unset without one.
    pub(super) fn read(path: Option<&std::path::Path>) -> anyhow::Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        let file = toml::from_str::<FileConfig>(&text)
            .map_err(|e| ConfigError(format!("invalid config file {}: {e}", path.display())))?;
        Ok(file)
    }
}
