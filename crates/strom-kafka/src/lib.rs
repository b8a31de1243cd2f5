//! Kafka wire protocol front end: a TCP listener speaking the Kafka protocol over
//! [`strom_broker::Broker`]. Framing, version negotiation, one handler module per API.
//!
//! Layout:
//! - [`codec`]: length-prefixed frames, request header + body decoding
//!   ([`decode_request`], also the fuzz entry point) and response encoding;
//! - `versions`: the API/version table that ApiVersions advertises and the decoder enforces;
//! - `errors`: the one place where broker errors become Kafka error codes;
//! - `server` / `connection`: accept loop, connection limit, per-connection request loop;
//! - `handlers`: one module per API, see its module doc for how to add one.

use std::sync::Arc;

use strom_broker::group::GroupConfig;
use strom_broker::{Broker, GroupCoordinator};
use tokio::net::TcpListener;

pub mod codec;
mod connection;
mod count_guard;
mod errors;
mod handlers;
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
    /// Maximum number of concurrent connections.
    pub max_connections: usize,
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
