//! HTTP front end on axum: REST produce/consume, HTTP feeds (CloudEvents, Atom), SSE,
//! WebSocket, REST Proxy v2 compatibility, admin and OpenAPI, all over
//! [`strom_broker::Broker`]. It never touches files; every operation is a broker call.
//!
//! Module map: [`routes`] builds the router and OpenAPI document; [`server`] runs the
//! accept loop with its connection limits and timeouts ([`refusal`] answers the connections
//! it turns away); handlers live in [`produce`],
//! [`consume`], [`feeds`] / [`atom`] / [`sse`] / [`ws`] (live
//! streams share one follower per topic, [`fanout`]), [`admin`] and [`restproxy`];
//! [`error`] is the one place errors become statuses.

pub mod acls;
pub mod admin;
pub mod atom;
pub mod auth;
pub mod authz;
pub mod body;
pub mod caller;
pub mod cloudevents;
pub mod connection;
pub mod console;
pub mod consume;
pub mod consumers;
pub mod cors;
pub mod cursor;
pub mod dead_letters;
pub mod error;
pub mod export;
pub mod fanout;
pub mod feed;
pub mod feed_cache;
pub mod feeds;
pub mod group_offsets;
pub mod group_reset;
pub mod groups;
pub mod history;
pub mod metrics;
mod metrics_limits;
mod metrics_process;
pub mod observe;
pub mod openapi;
pub mod permissions;
pub mod produce;
pub mod produce_schema;
pub mod quotas;
pub mod quotas_meter;
pub mod reader;
pub mod records_delete;
pub mod refusal;
pub mod registry;
pub mod rejections;
pub mod render;
pub mod restproxy;
pub mod restproxy_schema;
pub mod routes;
pub mod schemas;
pub mod search;
pub mod search_scan;
pub mod server;
pub mod sse;
pub mod state;
pub mod status;
pub mod timefmt;
pub mod users;
pub mod webhooks;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use strom_broker::group::GroupConfig;
use strom_broker::{Broker, ConnectionLimitsConfig, GroupCoordinator};
use tokio::net::TcpListener;

/// Listener settings and limits.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Longest long-poll `timeout` a client may ask for, in milliseconds.
    pub max_poll_timeout_ms: u64,
    /// Open connections at most, overall (503 above) and per client address (429 above).
    pub connections: ConnectionLimitsConfig,
    /// Time a connection has to send a complete request head, counted from the moment it is
    /// ready for one: just accepted, or idle after its previous response (so for HTTP/1.1 it
    /// is also the keep-alive idle timeout).
    pub header_read_timeout: Duration,
    /// Users, the authorizer and quotas, shared with the other front ends.
    pub security: std::sync::Arc<strom_auth::Security>,
    /// The schema registry (`None`: its API answers 404).
    pub schemas: Option<std::sync::Arc<strom_schema::Registry>>,
    /// HTTPS (`None`: plain HTTP). Built with ALPN `h2`, `http/1.1` ([`HTTP_ALPN`]).
    pub tls: Option<strom_tls::TlsServer>,
    /// Authentication, CORS and `/metrics` protection (see [`auth`]).
    pub auth: auth::HttpAuthConfig,
    /// Webhook subscriptions (`/v1/webhooks`); `None` answers 404 there.
    pub webhooks: Option<Arc<strom_webhooks::Webhooks>>,
    /// One `strom::access` log line per request (see [`observe`]).
    pub access_log: bool,
    /// `[console]`: the web console's settings (export on or off).
    pub console: export::ConsoleConfig,
}

/// ALPN protocols the HTTPS listener offers, most preferred first.
pub const HTTP_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Default of [`HttpConfig::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 8 * 1024 * 1024,
            max_poll_timeout_ms: 60_000,
            connections: ConnectionLimitsConfig::default(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            security: strom_auth::Security::disabled(),
            schemas: None,
            tls: None,
            auth: auth::HttpAuthConfig::default(),
            webhooks: None,
            access_log: false,
            console: export::ConsoleConfig::default(),
        }
    }
}

/// Serves HTTP on `listener` until `shutdown` becomes true, then lets in-flight requests
/// finish (live streams end on the same signal) for a bounded time.
pub async fn run(
    listener: TcpListener,
    broker: Arc<Broker>,
    config: HttpConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let groups = GroupCoordinator::start(Arc::clone(&broker), GroupConfig::default())
        .await
        .map_err(std::io::Error::other)?;
    run_with_groups(listener, broker, groups, config, shutdown).await
}

/// [`run`] with the group coordinator the binary shares between front ends, so HTTP and
/// Kafka consumers of one group split its partitions and see the same committed offsets.
pub async fn run_with_groups(
    listener: TcpListener,
    broker: Arc<Broker>,
    groups: GroupCoordinator,
    mut config: HttpConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let limits = strom_broker::ConnectionLimits::new(config.connections.clone());
    let stats = broker.listeners().register("http", "http", limits);
    config.auth.loopback = listener.local_addr()?.ip().is_loopback();
    let state = state::AppState::new(broker, config.clone(), shutdown.clone(), Some(groups));
    let (router, _doc) = routes::build(state);
    server::serve(listener, router, &config, stats, shutdown).await
}
