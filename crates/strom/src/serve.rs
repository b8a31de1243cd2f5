//! `strom serve`: opens the broker, binds the Kafka and HTTP listeners, and shuts down
//! cleanly (flushing and closing every segment) on SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use strom_broker::{Broker, BrokerConfig};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{ServeArgs, Settings};

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut settings = Settings::resolve(args)?;
    init_logging(&settings)?;
    budget_open_files(&settings);
    fit_connections_to_open_files(&mut settings);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("strom")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(settings))
}

fn init_logging(settings: &Settings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log).map_err(|e| {
        crate::config::ConfigError(format!("invalid log filter '{}': {e}", settings.log))
    })?;
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if settings.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and sizes the log's open-file budget
/// from it (half, unless configured), leaving the rest for sockets and short-lived files.
fn budget_open_files(settings: &Settings) {
    match strom_log::raise_nofile_limit() {
        Ok(limit) => tracing::info!(
            before = limit.before,
            soft = limit.soft,
            hard = limit.hard,
            "open-file limit (RLIMIT_NOFILE) raised to the hard limit"
        ),
        Err(e) => tracing::warn!(error = %e, soft = strom_log::soft_nofile(),
            "cannot raise the open-file limit (RLIMIT_NOFILE); keeping it"),
    }
    let budget = settings
        .max_open_log_files
        .map(|n| n as u64)
        .unwrap_or(strom_log::soft_nofile() / 2);
    strom_log::set_open_file_budget(usize::try_from(budget).unwrap_or(usize::MAX));
    tracing::info!(
        files = strom_log::open_file_budget(),
        "segment and index files kept open at most"
    );
}

/// Files kept for everything that is neither a socket nor a log file (the lock, listeners,
/// staging and snapshot files, the runtime).
const RESERVED_FILES: u64 = 64;

/// Both listeners may hold `max_connections` sockets each; when that does not fit beside the
/// log files' budget in `RLIMIT_NOFILE`, an accept would fail with EMFILE for every client.
/// Lower the limit so a flood is refused cleanly (503 / closed) instead, and say so.
fn fit_connections_to_open_files(settings: &mut Settings) {
    let budget = strom_log::open_file_budget() as u64;
    let left = strom_log::soft_nofile().saturating_sub(budget + RESERVED_FILES);
    let per_listener = usize::try_from(left / 2).unwrap_or(usize::MAX).max(1);
    let limits = &mut settings.connections;
    if limits.max_connections > per_listener {
        tracing::info!(
            configured = limits.max_connections,
            lowered_to = per_listener,
            soft_nofile = strom_log::soft_nofile(),
            log_files = budget,
            "max_connections lowered so that both listeners' sockets and the log files fit in \
             the open-file limit (RLIMIT_NOFILE); raise the hard limit or lower max_open_log_files"
        );
        limits.max_connections = per_listener;
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let log_defaults = strom_log::LogConfig {
        segment_bytes: settings.segment_bytes,
        durability: settings.durability,
        retention_ms: settings.retention_ms,
        max_batch_bytes: settings.max_message_bytes,
        decode: strom_log::DecodeLimits {
            max_batch_bytes: settings.max_decompressed_batch_bytes,
            max_record_bytes: settings.max_decoded_record_bytes,
        },
        ..strom_log::LogConfig::default()
    };
    let broker_config = BrokerConfig {
        data_dir: settings.data_dir.clone(),
        node_id: 1,
        auto_create_topics: settings.auto_create_topics,
        default_partitions: settings.default_partitions,
        durability: settings.durability,
        log_defaults,
        retention_check_interval_ms: settings.retention_check_interval_ms,
        cleaner_bytes_per_sec: settings.cleaner_bytes_per_sec,
        cleaner_dedupe_buffer_bytes: settings.cleaner_dedupe_buffer_bytes,
    };
    let data_dir = settings.data_dir.display().to_string();
    let disk = settings.disk.clone();
    let broker = tokio::task::spawn_blocking(move || Broker::open_with_disk(broker_config, disk))
        .await
        .context("broker start-up panicked")?
        .with_context(|| format!("cannot open data directory {data_dir}"))?;

    let kafka_listener = TcpListener::bind(settings.kafka_listen)
        .await
        .with_context(|| format!("cannot listen for Kafka on {}", settings.kafka_listen))?;
    let http_listener = TcpListener::bind(settings.http_listen)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", settings.http_listen))?;
    let kafka_addr = kafka_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let security = open_security(&broker, &settings.security).await?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let kafka_config = strom_kafka::KafkaConfig {
        advertised_host: settings.kafka_advertised_host.clone(),
        advertised_port: kafka_addr.port(),
        max_frame_bytes: settings.max_frame_bytes,
        connections: settings.connections.clone(),
        connections_max_idle: Duration::from_millis(settings.connections_max_idle_ms),
        queued_max_request_bytes: settings.queued_max_request_bytes,
        listener_name: Arc::from("PLAINTEXT"),
        protocol: strom_auth::SecurityProtocol::Plaintext,
        security: Arc::clone(&security),
    };
    let http_config = strom_http::HttpConfig {
        max_body_bytes: settings.http_max_body_bytes,
        max_poll_timeout_ms: settings.http_max_poll_timeout_ms,
        connections: settings.connections.clone(),
        header_read_timeout: Duration::from_millis(settings.http_header_read_timeout_ms),
        security,
        auth: settings.http_auth.clone(),
    };
    // One coordinator for every front end, so Kafka and HTTP consumers share groups.
    let groups =
        strom_broker::GroupCoordinator::start(Arc::clone(&broker), settings.groups.clone())
            .await
            .context("cannot start the group coordinator")?;
    let kafka = tokio::spawn(strom_kafka::run_with_groups(
        kafka_listener,
        Arc::clone(&broker),
        groups.clone(),
        kafka_config,
        shutdown_rx.clone(),
    ));
    let http = tokio::spawn(strom_http::run_with_groups(
        http_listener,
        Arc::clone(&broker),
        groups,
        http_config,
        shutdown_rx,
    ));
    tracing::info!(
        kafka = %kafka_addr,
        http = %http_addr,
        data_dir = %settings.data_dir.display(),
        "strom ready"
    );

    let mut sigterm = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
        _ = sigterm.recv() => tracing::info!("SIGTERM received, shutting down"),
    }
    let _ = shutdown_tx.send(true);
    for (name, task) in [("kafka", kafka), ("http", http)] {
        match tokio::time::timeout(std::time::Duration::from_secs(10), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => {
                tracing::warn!(listener = name, error = %err, "listener stopped with an error")
            }
            Ok(Err(err)) => tracing::error!(listener = name, error = %err, "listener task failed"),
            Err(_) => tracing::warn!(listener = name, "listener did not stop within 10 s"),
        }
    }
    tokio::task::spawn_blocking(move || broker.shutdown())
        .await
        .context("shutdown panicked")?
        .context("clean shutdown failed")?;
    tracing::info!("strom stopped cleanly");
    Ok(())
}

/// Opens the security services over `__strom_security` and creates the bootstrap user.
async fn open_security(
    broker: &Arc<Broker>,
    settings: &crate::security_config::SecuritySettings,
) -> anyhow::Result<Arc<strom_auth::Security>> {
    let broker = Arc::clone(broker);
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || {
        let config = strom_auth::SecurityConfig {
            authorizer: settings.authorizer.clone(),
        };
        let security = strom_auth::Security::open(broker, config).map_err(|e| match e {
            strom_auth::AuthError::Invalid(m) => anyhow::Error::new(crate::config::ConfigError(m)),
            other => anyhow::Error::new(other).context("cannot open the security state"),
        })?;
        if let Some(b) = &settings.bootstrap_user {
            if !security.users.verify_password(&b.name, &b.password) {
                security
                    .users
                    .set_password(&b.name, b.mechanism, &b.password, strom_auth::MIN_ITERATIONS)
                    .context("cannot store the bootstrap user")?;
                tracing::info!(user = %b.name, mechanism = b.mechanism.name(), "bootstrap user stored");
            }
        }
        Ok(security)
    })
    .await
    .context("security start-up panicked")?
}
