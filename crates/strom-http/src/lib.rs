//! HTTP front end on axum: REST produce/consume, HTTP feeds, SSE, WebSocket, consumer API,
//! admin and OpenAPI, all over [`strom_broker::Broker`].

use std::sync::Arc;

use strom_broker::Broker;
use tokio::net::TcpListener;

/// Listener settings and limits.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Longest long-poll `timeout` a client may ask for, in milliseconds.
    pub max_poll_timeout_ms: u64,
    /// Maximum number of concurrent connections.
    pub max_connections: usize,
}

/// Serves HTTP on `listener` until `shutdown` becomes true.
pub async fn run(
    listener: TcpListener,
    broker: Arc<Broker>,
    config: HttpConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let _ = (listener, broker, config, shutdown);
    todo!()
}
