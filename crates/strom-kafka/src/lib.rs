//! Kafka wire protocol front end: a TCP listener speaking the Kafka protocol over
//! [`strom_broker::Broker`]. Framing, version negotiation, one handler module per API.
//!
//! Layout:
//! - [`codec`]: request header + body decoding ([`decode_request`], also the fuzz entry
//!   point) and response encoding;
//! - `frame`: length-prefixed frames off the socket, under the frame size limit, the idle
//!   timeout and the budget of request bytes in flight;
//! - `versions`: the API/version table that ApiVersions advertises and the decoder enforces;
//! - [`fetch_sessions`]: the incremental fetch sessions (KIP-227) shared by every listener;
//! - `errors`: the one place where broker errors become Kafka error codes;
//! - `error_metrics`: the error codes answered, counted per API and code name;
//! - `server` / `connection`: accept loop, connection limits, per-connection request loop;
//! - `handlers`: one module per API, see its module doc for how to add one.

use std::sync::Arc;
use std::time::Duration;

use strom_broker::group::GroupConfig;
use strom_broker::{Broker, ConnectionLimitsConfig, GroupCoordinator};
use tokio::net::TcpListener;

pub mod codec;
mod connection;
mod count_guard;
mod error_metrics;
mod errors;
pub mod fetch_sessions;
mod frame;
mod handlers;
mod legacy;
mod sasl;
mod server;
mod versions;

pub use codec::{decode_request, DecodeError, DecodedRequest, RequestBody};
pub use errors::error_code;
pub use versions::{supported_versions, SUPPORTED_APIS};

/// Listener settings.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// Host and port announced in Metadata / FindCoordinator responses.
    pub advertised_host: String,
    pub advertised_port: u16,
    /// Largest request frame accepted; larger frames close the connection.
    pub max_frame_bytes: usize,
    /// Open connections at most, overall and per client address.
    pub connections: ConnectionLimitsConfig,
    /// A connection that sends nothing for this long is closed (`connections.max.idle.ms`).
    pub connections_max_idle: Duration,
    /// Bytes of requests held in memory at once across all connections
    /// (`queued.max.request.bytes`); above it, connections stop reading until bytes are freed.
    pub queued_max_request_bytes: usize,
    /// This listener's name (`PLAINTEXT`, `SASL_SSL`, ...), in sessions and audit lines.
    pub listener_name: Arc<str>,
    /// Whether this listener speaks TLS and requires SASL.
    pub protocol: strom_auth::SecurityProtocol,
    /// TLS for `SSL` and `SASL_SSL` listeners (`None`: plaintext). A client certificate's
    /// mapped subject becomes the session's principal.
    pub tls: Option<strom_tls::TlsServer>,
    /// Users, the authorizer and quotas, shared with the other front ends.
    pub security: Arc<strom_auth::Security>,
    /// The schema registry, for topics that validate schemas on produce (`None`: no
    /// validation).
    pub schemas: Option<Arc<strom_schema::Registry>>,
    /// The incremental fetch sessions (KIP-227), one cache shared by every listener.
    pub fetch_sessions: Arc<fetch_sessions::FetchSessionCache>,
}

/// Kafka's default for `connections.max.idle.ms`: 10 minutes.
pub const DEFAULT_CONNECTIONS_MAX_IDLE: Duration = Duration::from_secs(600);
/// Kafka's default for `socket.request.max.bytes`: 100 MiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 100 * 1024 * 1024;
/// Five largest frames at once: about 2% of this machine's 24 GiB.
pub const DEFAULT_QUEUED_MAX_REQUEST_BYTES: usize = 5 * DEFAULT_MAX_FRAME_BYTES;

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            advertised_host: "localhost".to_string(),
            advertised_port: 9092,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            connections: ConnectionLimitsConfig::default(),
            connections_max_idle: DEFAULT_CONNECTIONS_MAX_IDLE,
            queued_max_request_bytes: DEFAULT_QUEUED_MAX_REQUEST_BYTES,
            listener_name: Arc::from("PLAINTEXT"),
            protocol: strom_auth::SecurityProtocol::Plaintext,
            tls: None,
            security: strom_auth::Security::disabled(),
            schemas: None,
            fetch_sessions: Arc::default(),
        }
    }
}

/// Serves Kafka clients on `listener` until `shutdown` becomes true.
///
/// Each connection is served by its own task; a connection that sends an oversized or
/// malformed frame is closed (with a log line) without affecting the others. On shutdown the
/// listener stops accepting, open connections finish the request in progress (long polls are
/// cut short) and are closed. Errors: only a failure of the listening socket itself.
pub async fn run(
    listener: TcpListener,
    broker: Arc<Broker>,
    config: KafkaConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let groups = GroupCoordinator::start(Arc::clone(&broker), GroupConfig::default())
        .await
        .map_err(std::io::Error::other)?;
    run_with_groups(listener, broker, groups, config, shutdown).await
}

/// [`run`] with a group coordinator created by the caller, so that other front ends (the
/// HTTP consumer API) share its groups and committed offsets.
pub async fn run_with_groups(
    listener: TcpListener,
    broker: Arc<Broker>,
    groups: GroupCoordinator,
    config: KafkaConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    server::run(listener, broker, groups, config, shutdown).await
}
