//! Kafka wire protocol front end: a TCP listener speaking the Kafka protocol over
//! [`strom_broker::Broker`]. Framing, version negotiation, one handler module per API.

use std::sync::Arc;

use strom_broker::Broker;
use tokio::net::TcpListener;

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
pub async fn run(
    listener: TcpListener,
    broker: Arc<Broker>,
    config: KafkaConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let _ = (listener, broker, config, shutdown);
    todo!()
}
