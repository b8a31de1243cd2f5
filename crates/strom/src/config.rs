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

/// The TOML file's shape; every key is optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileConfig {
    data_dir: Option<PathBuf>,
    kafka_listen: Option<SocketAddr>,
    kafka_advertised_host: Option<String>,
    http_listen: Option<SocketAddr>,
    schema_registry_listen: Option<SocketAddr>,
    schema_incompatible_error_code: Option<u32>,
    allow_unauthenticated_network: Option<bool>,
    kafka_listeners: Option<Vec<crate::listeners::ListenerFile>>,
    http_ssl: Option<crate::listeners::SslFile>,
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
    max_connections_per_ip: Option<usize>,
    max_connections_per_ip_overrides: Option<std::collections::HashMap<String, usize>>,
    connections_max_idle_ms: Option<u64>,
    queued_max_request_bytes: Option<usize>,
    max_incremental_fetch_session_cache_slots: Option<usize>,
    http_header_read_timeout_ms: Option<u64>,
    http_max_body_bytes: Option<usize>,
    http_max_poll_timeout_ms: Option<u64>,
    http_access_log: Option<bool>,
    metrics_max_topic_labels: Option<usize>,
    cleaner_bytes_per_sec: Option<u64>,
    cleaner_dedupe_buffer_bytes: Option<usize>,
    max_open_log_files: Option<usize>,
    offsets_retention_minutes: Option<u64>,
    group_initial_rebalance_delay_ms: Option<u64>,
    group_min_session_timeout_ms: Option<u64>,
    group_max_session_timeout_ms: Option<u64>,
    group_consumer_session_timeout_ms: Option<u64>,
    group_consumer_heartbeat_interval_ms: Option<u64>,
    group_consumer_assignors: Option<Vec<String>>,
    transaction_max_timeout_ms: Option<i32>,
    retention_check_interval_ms: Option<u64>,
    min_free_bytes: Option<u64>,
    min_free_percent: Option<f64>,
    disk_check_interval_ms: Option<u64>,
    http_auth: Option<String>,
    http_auth_methods: Option<Vec<String>>,
    http_session_ttl_ms: Option<u64>,
    http_stream_token_ttl_ms: Option<u64>,
    http_auth_failures_per_minute: Option<u32>,
    webhook_allowed_networks: Option<Vec<String>>,
    webhook_ca_file: Option<PathBuf>,
    cors_allowed_origins: Option<Vec<String>>,
    metrics_require_auth: Option<bool>,
    /// The console's cookie sessions may not change anything.
    console_read_only: Option<bool>,
    /// `[oauth]`: bearer-token validation; defaults in `strom_auth::TokenConfig`.
    oauth: Option<strom_auth::TokenConfig>,
    kafka_sasl_listen: Option<SocketAddr>,
    bootstrap_user: Option<String>,
    sasl_enabled_mechanisms: Option<Vec<String>>,
    sasl_plain_allow_plaintext: Option<bool>,
    connections_max_reauth_ms: Option<u64>,
    sasl_authentication_timeout_ms: Option<u64>,
    max_failed_authentications_per_ip_per_sec: Option<u32>,
    authorizer_enabled: Option<bool>,
    super_users: Option<SuperUsers>,
    allow_everyone_if_no_acl_found: Option<bool>,
    /// `[tiered]`: tiered storage (`tiered_config.rs`).
    tiered: Option<crate::tiered_config::TieredFile>,
    /// `[console]`: the web console (defaults in `strom_http::export::ConsoleConfig`).
    console: Option<strom_http::export::ConsoleConfig>,
}

/// `super_users` in the file: Kafka's `User:a;User:b` string, or a list of principals.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum SuperUsers {
    Kafka(String),
    List(Vec<String>),
}

/// The authorizer's settings (defaults: off, no super user, deny without ACLs).
fn authorizer_config(
    args: &ServeArgs,
    file: &FileConfig,
) -> anyhow::Result<strom_auth::AuthorizerConfig> {
    let names: Vec<String> = match (&args.super_users, &file.super_users) {
        (Some(s), _) | (None, Some(SuperUsers::Kafka(s))) => {
            s.split(';').map(|p| p.trim().to_string()).collect()
        }
        (None, Some(SuperUsers::List(list))) => list.clone(),
        (None, None) => Vec::new(),
    };
    let mut super_users = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        match strom_auth::Principal::parse(name) {
            Some(p) => super_users.push(p),
            None => bail!("super_users: '{name}' is not a principal like User:admin"),
        }
    }
    Ok(strom_auth::AuthorizerConfig {
        enabled: args
            .authorizer_enabled
            .or(file.authorizer_enabled)
            .unwrap_or(false),
        super_users,
        allow_everyone_if_no_acl_found: file.allow_everyone_if_no_acl_found.unwrap_or(false),
    })
}

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

/// Free-space limits of the data directory from the file; defaults in `DiskConfig`.
fn disk_config(file: &FileConfig) -> anyhow::Result<strom_broker::DiskConfig> {
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
        consumer_session_timeout: file
            .group_consumer_session_timeout_ms
            .map_or(defaults.consumer_session_timeout, ms),
        consumer_heartbeat_interval: file
            .group_consumer_heartbeat_interval_ms
            .map_or(defaults.consumer_heartbeat_interval, ms),
        consumer_assignors: file
            .group_consumer_assignors
            .clone()
            .unwrap_or_else(|| defaults.consumer_assignors.clone()),
        ..defaults
    };
    check_consumer_group_config(&config)?;
    if config.offsets_retention.is_zero() {
        bail!("offsets_retention_minutes must be greater than 0");
    }
    if config.min_session_timeout > config.max_session_timeout {
        bail!("group_min_session_timeout_ms must not exceed group_max_session_timeout_ms");
    }
    Ok(config)
}

/// KIP-848 settings: a heartbeat interval shorter than the session, known assignors.
fn check_consumer_group_config(config: &strom_broker::group::GroupConfig) -> anyhow::Result<()> {
    if config.consumer_heartbeat_interval.is_zero()
        || config.consumer_heartbeat_interval >= config.consumer_session_timeout
    {
        bail!("group_consumer_heartbeat_interval_ms must be above 0 and below group_consumer_session_timeout_ms");
    }
    let known = strom_broker::group::consumer::ASSIGNORS;
    if config.consumer_assignors.is_empty()
        || config
            .consumer_assignors
            .iter()
            .any(|a| !known.contains(&a.as_str()))
    {
        bail!("group_consumer_assignors must list one or more of {known:?}");
    }
    Ok(())
}

/// Connection limits and timeouts from the file; defaults are those of the front ends.
struct ConnectionSettings {
    limits: strom_broker::ConnectionLimitsConfig,
    idle_ms: u64,
    queued_bytes: usize,
    max_frame_bytes: usize,
    header_read_timeout_ms: u64,
}

fn connection_settings(file: &FileConfig) -> anyhow::Result<ConnectionSettings> {
    let defaults = strom_broker::ConnectionLimitsConfig::default();
    let mut overrides = std::collections::HashMap::new();
    for (address, limit) in file.max_connections_per_ip_overrides.iter().flatten() {
        let Ok(ip) = address.parse::<std::net::IpAddr>() else {
            bail!("max_connections_per_ip_overrides: '{address}' is not an IP address");
        };
        overrides.insert(ip.to_canonical(), *limit);
    }
    let limits = strom_broker::ConnectionLimitsConfig {
        max_connections: file.max_connections.unwrap_or(defaults.max_connections),
        max_connections_per_ip: file
            .max_connections_per_ip
            .unwrap_or(defaults.max_connections_per_ip),
        max_connections_per_ip_overrides: overrides,
    };
    let max_frame_bytes = file
        .max_frame_bytes
        .unwrap_or(strom_kafka::DEFAULT_MAX_FRAME_BYTES);
    let queued_bytes = file
        .queued_max_request_bytes
        .unwrap_or(strom_kafka::DEFAULT_QUEUED_MAX_REQUEST_BYTES);
    if queued_bytes < max_frame_bytes {
        bail!("queued_max_request_bytes ({queued_bytes}) must be at least max_frame_bytes ({max_frame_bytes})");
    }
    let idle_ms = file
        .connections_max_idle_ms
        .unwrap_or(strom_kafka::DEFAULT_CONNECTIONS_MAX_IDLE.as_millis() as u64);
    let header_read_timeout_ms = file
        .http_header_read_timeout_ms
        .unwrap_or(strom_http::DEFAULT_HEADER_READ_TIMEOUT.as_millis() as u64);
    if limits.max_connections == 0 || limits.max_connections_per_ip == 0 {
        bail!("max_connections and max_connections_per_ip must be at least 1");
    }
    if idle_ms == 0 || header_read_timeout_ms == 0 {
        bail!("connections_max_idle_ms and http_header_read_timeout_ms must be greater than 0");
    }
    Ok(ConnectionSettings {
        limits,
        idle_ms,
        queued_bytes,
        max_frame_bytes,
        header_read_timeout_ms,
    })
}

/// Listener settings resolved from the file and flags.
struct ListenerSettings {
    kafka: Vec<crate::listeners::KafkaListener>,
    http_ssl: Option<crate::listeners::SslSettings>,
    exposed: Vec<String>,
}

/// The Kafka listeners (`plaintext`, from `kafka_listen`, first unless only
/// `kafka_listeners` are configured), HTTPS, and the safe-default check of each listener.
fn listener_settings(
    file: &FileConfig,
    allow_flag: Option<bool>,
    plaintext: crate::listeners::KafkaListener,
    kafka_listen_set: bool,
    http_listen: SocketAddr,
    http_auth_required: bool,
) -> anyhow::Result<ListenerSettings> {
    use crate::listeners::http_authenticates;
    use crate::listeners::{authenticates, check_exposure, kafka_listener, ssl_settings};
    let allow = allow_flag
        .or(file.allow_unauthenticated_network)
        .unwrap_or(false);
    let configured = file.kafka_listeners.as_deref().unwrap_or_default();
    let mut kafka = Vec::new();
    if kafka_listen_set || configured.is_empty() {
        kafka.push(plaintext);
    }
    for entry in configured {
        let listener = kafka_listener(entry)?;
        if kafka.iter().any(|l| l.name == listener.name) {
            bail!(
                "kafka_listeners: the name '{}' is used twice (kafka_listen is 'PLAINTEXT')",
                listener.name
            );
        }
        kafka.push(listener);
    }
    let http_ssl = file
        .http_ssl
        .as_ref()
        .map(|ssl| ssl_settings("http_ssl", ssl))
        .transpose()?;
    let mut exposed = Vec::new();
    for l in &kafka {
        let what = format!("Kafka listener {} ({})", l.name, l.protocol);
        if check_exposure(
            &what,
            l.listen,
            authenticates(l.protocol, l.ssl.as_ref()),
            allow,
        )? {
            exposed.push(format!("{what} on {}", l.listen));
        }
    }
    let http_auth = http_authenticates(http_ssl.as_ref(), http_auth_required);
    if check_exposure("the HTTP listener", http_listen, http_auth, allow)? {
        exposed.push(format!("the HTTP listener on {http_listen}"));
    }
    Ok(ListenerSettings {
        kafka,
        http_ssl,
        exposed,
    })
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
        let transactions = strom_broker::txn::TxnConfig {
            max_timeout_ms: file
                .transaction_max_timeout_ms
                .unwrap_or(strom_broker::txn::DEFAULT_MAX_TIMEOUT_MS),
        };
        if transactions.max_timeout_ms <= 0 {
            bail!("transaction_max_timeout_ms must be greater than 0");
        }
        let connections = connection_settings(&file)?;
        let disk = disk_config(&file)?;
        let mut authorizer = authorizer_config(&args, &file)?;
        let explicit_kafka_listen = args.kafka_listen.or(file.kafka_listen);
        let kafka_listen =
            explicit_kafka_listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9092)));
        let sasl = crate::sasl_config::sasl_config(
            file.sasl_enabled_mechanisms.as_deref(),
            file.sasl_plain_allow_plaintext,
            file.connections_max_reauth_ms,
            file.sasl_authentication_timeout_ms,
            file.max_failed_authentications_per_ip_per_sec,
        )?;
        let bootstrap_user = args
            .bootstrap_user
            .or(file.bootstrap_user.clone())
            .map(|spec| crate::sasl_config::BootstrapUser::parse(&spec))
            .transpose()?;
        // The bootstrap user administers the server: a super user, so enabling the authorizer
        // with it alone is not a lock-out.
        if let Some(user) = &bootstrap_user {
            let principal = strom_auth::Principal::user(user.user.clone());
            if !authorizer.super_users.contains(&principal) {
                authorizer.super_users.push(principal);
            }
        }
        let kafka_sasl_listen = args.kafka_sasl_listen.or(file.kafka_sasl_listen);
        let oauth = file.oauth.clone().unwrap_or_default();
        if let Err(err) = oauth.check() {
            bail!("[oauth]: {err}");
        }
        let http_auth = crate::security_config::http_auth(crate::security_config::HttpAuthFile {
            mode: args.http_auth.or(file.http_auth.clone()),
            methods: file.http_auth_methods.clone(),
            session_ttl_ms: file.http_session_ttl_ms,
            stream_token_ttl_ms: file.http_stream_token_ttl_ms,
            failures_per_minute: file.http_auth_failures_per_minute,
            cors_allowed_origins: file.cors_allowed_origins.clone(),
            metrics_require_auth: file.metrics_require_auth,
            console_read_only: file.console_read_only,
        })?;
        let kafka_advertised_host = args
            .kafka_advertised_host
            .or(file.kafka_advertised_host.clone())
            .unwrap_or_else(|| crate::listeners::default_advertised_host(kafka_listen));
        let http_listen = args
            .http_listen
            .or(file.http_listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let mut listeners = listener_settings(
            &file,
            args.allow_unauthenticated_network,
            crate::listeners::KafkaListener {
                name: "PLAINTEXT".to_string(),
                protocol: strom_auth::SecurityProtocol::Plaintext,
                listen: kafka_listen,
                advertised_host: kafka_advertised_host,
                advertised_port: None,
                ssl: None,
            },
            explicit_kafka_listen.is_some(),
            http_listen,
            http_auth.mode == strom_http::auth::AuthMode::Required,
        )?;
        let schema_registry_listen = args.schema_registry_listen.or(file.schema_registry_listen);
        let schema_incompatible_error_code = file
            .schema_incompatible_error_code
            .unwrap_or(strom_schema::registry::INCOMPATIBLE_CODES[0]);
        if !strom_schema::registry::INCOMPATIBLE_CODES.contains(&schema_incompatible_error_code) {
            bail!("schema_incompatible_error_code must be 409 or 40901, not {schema_incompatible_error_code}");
        }
        if let Some(listen) = schema_registry_listen {
            let allow = args
                .allow_unauthenticated_network
                .or(file.allow_unauthenticated_network)
                .unwrap_or(false);
            let protocol = match listeners.http_ssl {
                Some(_) => strom_auth::SecurityProtocol::Ssl,
                None => strom_auth::SecurityProtocol::Plaintext,
            };
            let auth = crate::listeners::authenticates(protocol, listeners.http_ssl.as_ref());
            let what = "the schema registry listener";
            if crate::listeners::check_exposure(what, listen, auth, allow)? {
                listeners.exposed.push(format!("{what} on {listen}"));
            }
        }
        // `kafka_sasl_listen`: shorthand for one SASL_PLAINTEXT listener beside the others.
        if let Some(listen) = kafka_sasl_listen {
            if listeners.kafka.iter().any(|l| l.name == "SASL_PLAINTEXT") {
                bail!("kafka_sasl_listen: a listener named 'SASL_PLAINTEXT' is configured already");
            }
            listeners.kafka.push(crate::listeners::KafkaListener {
                name: "SASL_PLAINTEXT".to_string(),
                protocol: strom_auth::SecurityProtocol::SaslPlaintext,
                listen,
                advertised_host: crate::listeners::default_advertised_host(listen),
                advertised_port: None,
                ssl: None,
            });
        }
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
        let tiered = crate::tiered_config::tiering(file.tiered.as_ref())?;
        let mut webhook_targets = webhook_targets(
            file.webhook_allowed_networks.as_deref(),
            &http_auth,
            &listeners.kafka,
        )?;
        if let Some(path) = &file.webhook_ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("webhook_ca_file {}: {e}", path.display()))?;
            webhook_targets.ca_pem = Some(pem);
        }
        Ok(Settings {
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./strom-data")),
            http_listen,
            schema_registry_listen,
            schema_incompatible_error_code,
            kafka_listeners: listeners.kafka,
            http_ssl: listeners.http_ssl,
            unauthenticated_exposed: listeners.exposed,
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
            max_frame_bytes: connections.max_frame_bytes,
            connections: connections.limits,
            connections_max_idle_ms: connections.idle_ms,
            queued_max_request_bytes: connections.queued_bytes,
            max_incremental_fetch_session_cache_slots: file
                .max_incremental_fetch_session_cache_slots
                .unwrap_or(strom_kafka::fetch_sessions::DEFAULT_SLOTS),
            http_header_read_timeout_ms: connections.header_read_timeout_ms,
            http_max_body_bytes: file.http_max_body_bytes.unwrap_or(8 * 1024 * 1024),
            http_max_poll_timeout_ms: file.http_max_poll_timeout_ms.unwrap_or(60_000),
            http_access_log: args
                .http_access_log
                .or(file.http_access_log)
                .unwrap_or(false),
            metrics_max_topic_labels: file
                .metrics_max_topic_labels
                .unwrap_or(strom_broker::telemetry::DEFAULT_MAX_TOPIC_LABELS),
            cleaner_bytes_per_sec: file.cleaner_bytes_per_sec.unwrap_or(50 << 20),
            cleaner_dedupe_buffer_bytes: file
                .cleaner_dedupe_buffer_bytes
                .unwrap_or(strom_log::DEFAULT_DEDUPE_BUFFER_BYTES),
            max_open_log_files: file.max_open_log_files,
            groups,
            transactions,
            retention_check_interval_ms: args
                .retention_check_interval_ms
                .or(file.retention_check_interval_ms)
                .unwrap_or(30_000),
            disk,
            authorizer,
            sasl,
            bootstrap_user,
            oauth,
            http_auth,
            webhook_targets,
            tiered,
            console: file.console.clone().unwrap_or_default(),
        })
    }
}

/// The webhook SSRF policy: private targets are allowed while nothing requires
/// authentication (`http_auth` is not `required`, no SASL listener), else only
/// `webhook_allowed_networks`.
fn webhook_targets(
    allowed_networks: Option<&[String]>,
    http_auth: &strom_http::auth::HttpAuthConfig,
    kafka: &[crate::listeners::KafkaListener],
) -> anyhow::Result<strom_webhooks::ssrf::TargetPolicy> {
    use strom_auth::SecurityProtocol::{SaslPlaintext, SaslSsl};
    let authenticated = http_auth.mode == strom_http::auth::AuthMode::Required
        || kafka
            .iter()
            .any(|l| matches!(l.protocol, SaslPlaintext | SaslSsl));
    let allowed = allowed_networks
        .unwrap_or_default()
        .iter()
        .map(|c| strom_webhooks::ssrf::Cidr::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("webhook_allowed_networks: {e}"))?;
    Ok(strom_webhooks::ssrf::TargetPolicy {
        allow_private: !authenticated,
        allowed,
        ca_pem: None,
    })
}
