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
    // Before anything records a metric: the Prometheus recorder `/metrics` renders.
    strom_http::metrics::install(settings.metrics_max_topic_labels);
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

/// Every listener may hold `max_connections` sockets; when that does not fit beside the
/// log files' budget in `RLIMIT_NOFILE`, an accept would fail with EMFILE for every client.
/// Lower the limit so a flood is refused cleanly (503 / closed) instead, and say so.
fn fit_connections_to_open_files(settings: &mut Settings) {
    let budget = strom_log::open_file_budget() as u64;
    let left = strom_log::soft_nofile().saturating_sub(budget + RESERVED_FILES);
    let listeners = settings.kafka_listeners.len() as u64 + 1;
    let per_listener = usize::try_from(left / listeners)
        .unwrap_or(usize::MAX)
        .max(1);
    let limits = &mut settings.connections;
    if limits.max_connections > per_listener {
        tracing::info!(
            configured = limits.max_connections,
            lowered_to = per_listener,
            soft_nofile = strom_log::soft_nofile(),
            log_files = budget,
            "max_connections lowered so that all listeners' sockets and the log files fit in \
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
    let tiering = crate::tiered_config::open_and_restore(&settings).await?;
    let data_dir = settings.data_dir.display().to_string();
    let disk = settings.disk.clone();
    let broker = tokio::task::spawn_blocking(move || Broker::open_with_disk(broker_config, disk))
        .await
        .context("broker start-up panicked")?
        .with_context(|| format!("cannot open data directory {data_dir}"))?;
    if let Some(tiering) = &tiering {
        tiering.start(&broker);
    }
    // Users and ACLs live in `__strom_security`; opening refuses an authorizer that would
    // lock everyone out (no super user, no ACL), a configuration error (exit 78).
    let security_config = strom_auth::SecurityConfig {
        authorizer: settings.authorizer.clone(),
        sasl: settings.sasl.clone(),
        tokens: settings.oauth.clone(),
    };
    let security_broker = Arc::clone(&broker);
    let bootstrap = settings.bootstrap_user.clone();
    let security = tokio::task::spawn_blocking(move || {
        let security = strom_auth::Security::open(security_broker, security_config)?;
        if let Some(user) = bootstrap {
            user.ensure(&security)?;
        }
        Ok(security)
    })
    .await
    .context("security start-up panicked")?
    .map_err(
        |err: anyhow::Error| match err.downcast::<strom_auth::AuthError>() {
            Ok(strom_auth::AuthError::Invalid(reason)) => {
                anyhow::Error::new(crate::config::ConfigError(reason))
            }
            Ok(other) => anyhow::Error::new(other).context("cannot open the security state"),
            Err(other) => other.context("cannot open the security state"),
        },
    )?;

    // Schemas live in `__strom_schemas`, replayed into memory here.
    let schema_broker = Arc::clone(&broker);
    let schemas = tokio::task::spawn_blocking(move || {
        strom_schema::open_on_broker(schema_broker, strom_schema::Level::Backward)
    })
    .await
    .context("schema registry start-up panicked")?
    .context("cannot open the schema registry")?;
    schemas
        .set_incompatible_code(settings.schema_incompatible_error_code)
        .map_err(|code| {
            anyhow::anyhow!("schema_incompatible_error_code {code} is not 409 or 40901")
        })?;
    let schemas = Arc::new(schemas);

    let kafka_listeners = bind_kafka_listeners(&settings, &security, &schemas).await?;
    let http_listener = TcpListener::bind(settings.http_listen)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", settings.http_listen))?;
    let http_addr = http_listener.local_addr()?;
    let http_tls = match &settings.http_ssl {
        Some(ssl) => Some(
            crate::listeners::tls_server(ssl, &strom_http::HTTP_ALPN)?.with_handshake_timeout(
                Duration::from_millis(settings.http_header_read_timeout_ms),
            ),
        ),
        None => None,
    };
    for exposed in &settings.unauthenticated_exposed {
        tracing::warn!(
            listener = %exposed,
            "{exposed} accepts clients from the network without authentication \
             (allow_unauthenticated_network = true)"
        );
    }
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut http_config = strom_http::HttpConfig {
        max_body_bytes: settings.http_max_body_bytes,
        max_poll_timeout_ms: settings.http_max_poll_timeout_ms,
        connections: settings.connections.clone(),
        header_read_timeout: Duration::from_millis(settings.http_header_read_timeout_ms),
        security,
        schemas: Some(Arc::clone(&schemas)),
        tls: http_tls,
        auth: settings.http_auth.clone(),
        webhooks: None,
        access_log: settings.http_access_log,
        console: settings.console.clone(),
    };
    // One coordinator for every front end, so Kafka and HTTP consumers share groups.
    let groups =
        strom_broker::GroupCoordinator::start(Arc::clone(&broker), settings.groups.clone())
            .await
            .context("cannot start the group coordinator")?;
    // The transaction coordinator (kept alive here; the broker holds it weakly).
    let _transactions = {
        let (broker, groups, config) = (
            Arc::clone(&broker),
            groups.clone(),
            settings.transactions.clone(),
        );
        tokio::task::spawn_blocking(move || {
            strom_broker::txn::TxnCoordinator::start(broker, groups, config)
        })
        .await?
        .context("cannot start the transaction coordinator")?
    };

    // Webhook subscriptions deliver through the same coordinator (a group each), showing
    // schema-encoded values as JSON.
    let registry = Arc::clone(&schemas);
    let decoder: strom_webhooks::payload::ValueDecoder = Arc::new(move |value: &[u8]| {
        let decoded = registry.decode_value(value)?.ok()?;
        Some((decoded.value, decoded.schema_id))
    });
    let webhooks = strom_webhooks::Webhooks::start(
        Arc::clone(&broker),
        groups.clone(),
        settings.webhook_targets.clone(),
        Some(decoder),
        shutdown_rx.clone(),
    )
    .await
    .context("cannot start webhooks")?;
    http_config.webhooks = Some(webhooks);
    let mut tasks = Vec::new();
    let mut kafka_addrs = Vec::new();
    let mut banner_kafka = Vec::new();
    for (listener, config) in kafka_listeners {
        banner_kafka.push(crate::banner::KafkaListener {
            name: config.listener_name.to_string(),
            protocol: config.protocol,
            addr: listener.local_addr()?,
        });
        kafka_addrs.push(format!(
            "{}={}://{}",
            config.listener_name,
            config.protocol,
            listener.local_addr()?
        ));
        let task = tokio::spawn(strom_kafka::run_with_groups(
            listener,
            Arc::clone(&broker),
            groups.clone(),
            config,
            shutdown_rx.clone(),
        ));
        tasks.push(("kafka", task));
    }
    if let Some(listen) = settings.schema_registry_listen {
        // The same API, TLS and authentication as the HTTP listener, where Schema Registry
        // clients expect it.
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen for the schema registry on {listen}"))?;
        tracing::info!(schema_registry = %listener.local_addr()?, "schema registry listener");
        let task = tokio::spawn(strom_http::run_with_groups(
            listener,
            Arc::clone(&broker),
            groups.clone(),
            http_config.clone(),
            shutdown_rx.clone(),
        ));
        tasks.push(("schema-registry", task));
    }
    let http = tokio::spawn(strom_http::run_with_groups(
        http_listener,
        Arc::clone(&broker),
        groups,
        http_config,
        shutdown_rx,
    ));
    tasks.push(("http", http));
    tracing::info!(
        kafka = %kafka_addrs.join(","),
        http = %http_addr,
        https = settings.http_ssl.is_some(),
        data_dir = %settings.data_dir.display(),
        "strom ready"
    );
    crate::banner::Banner {
        data_dir: &settings.data_dir,
        kafka: banner_kafka,
        http: http_addr,
        https: settings.http_ssl.is_some(),
        auto_create_topics: settings.auto_create_topics,
    }
    .print();

    let mut sigterm = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
        _ = sigterm.recv() => tracing::info!("SIGTERM received, shutting down"),
    }
    let _ = shutdown_tx.send(true);
    for (name, task) in tasks {
        match tokio::time::timeout(std::time::Duration::from_secs(10), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => {
                tracing::warn!(listener = name, error = %err, "listener stopped with an error")
            }
            Ok(Err(err)) => tracing::error!(listener = name, error = %err, "listener task failed"),
            Err(_) => tracing::warn!(listener = name, "listener did not stop within 10 s"),
        }
    }
    if let Some(tiering) = tiering {
        // Stops after the segment being uploaded; what is left is uploaded at the next start.
        let _ = tokio::task::spawn_blocking(move || tiering.stop()).await;
    }
    tokio::task::spawn_blocking(move || broker.shutdown())
        .await
        .context("shutdown panicked")?
        .context("clean shutdown failed")?;
    tracing::info!("strom stopped cleanly");
    Ok(())
}

/// Binds every Kafka listener and builds its config (TLS files are read here, so a bad one
/// stops the start with the setting's name).
async fn bind_kafka_listeners(
    settings: &Settings,
    security: &Arc<strom_auth::Security>,
    schemas: &Arc<strom_schema::Registry>,
) -> anyhow::Result<Vec<(TcpListener, strom_kafka::KafkaConfig)>> {
    let mut bound = Vec::new();
    // One fetch session cache for every listener: a client may reconnect to another one.
    let fetch_sessions = Arc::new(strom_kafka::fetch_sessions::FetchSessionCache::new(
        settings.max_incremental_fetch_session_cache_slots,
        strom_kafka::fetch_sessions::EVICTION_AGE,
    ));
    for listener in &settings.kafka_listeners {
        let tls = match &listener.ssl {
            Some(ssl) => Some(crate::listeners::tls_server(ssl, &[])?),
            None => None,
        };
        let socket = TcpListener::bind(listener.listen).await.with_context(|| {
            format!(
                "cannot listen for Kafka ({}) on {}",
                listener.name, listener.listen
            )
        })?;
        let port = socket.local_addr()?.port();
        let config = strom_kafka::KafkaConfig {
            advertised_host: listener.advertised_host.clone(),
            advertised_port: listener.advertised_port.unwrap_or(port),
            max_frame_bytes: settings.max_frame_bytes,
            connections: settings.connections.clone(),
            connections_max_idle: Duration::from_millis(settings.connections_max_idle_ms),
            queued_max_request_bytes: settings.queued_max_request_bytes,
            listener_name: Arc::from(listener.name.as_str()),
            protocol: listener.protocol,
            tls,
            security: Arc::clone(security),
            schemas: Some(Arc::clone(schemas)),
            fetch_sessions: Arc::clone(&fetch_sessions),
        };
        bound.push((socket, config));
    }
    Ok(bound)
}
