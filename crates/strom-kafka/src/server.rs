//! The accept loop: admits connections under the listener's [`ConnectionLimits`] (overall
//! and per client address), spawns one task per connection sharing one [`RequestBudget`],
//! and on shutdown stops accepting and gives open connections a short grace period.

use std::sync::Arc;
use std::time::Duration;

use strom_broker::{Broker, ConnectionLimits, GroupCoordinator};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::frame::RequestBudget;
use crate::handlers::Context;
use crate::{connection, KafkaConfig};

/// How long open connections may take to finish their current request on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed accept (for example out of file descriptors), so the loop does not
/// spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

pub async fn run(
    listener: TcpListener,
    broker: Arc<Broker>,
    groups: GroupCoordinator,
    config: KafkaConfig,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let limits = ConnectionLimits::new(config.connections.clone());
    let stats = broker
        .listeners()
        .register("kafka", &config.listener_name, Arc::clone(&limits));
    let budget = RequestBudget::new(config.queued_max_request_bytes).with_stats(Arc::clone(&stats));
    let ctx = Arc::new(Context {
        broker,
        groups,
        config,
        shutdown: shutdown.clone(),
    });
    let mut stop = shutdown;
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown_signal(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    metrics::counter!("strom_connections_accepted_total", "protocol" => "kafka").increment(1);
                    let slot = match limits.try_admit(peer.ip()) {
                        Ok(slot) => slot,
                        Err(refused) => {
                            stats.refused(&refused);
                            tracing::warn!(%peer, reason = %refused, "Kafka connection refused: connection limit reached");
                            drop(stream);
                            continue;
                        }
                    };
                    let ctx = Arc::clone(&ctx);
                    let budget = budget.clone();
                    let stats = Arc::clone(&stats);
                    connections.spawn(async move {
                        connection::accept(stream, peer, ctx, budget, &stats).await;
                        drop(slot);
                    });
                }
                Err(err) => {
                    tracing::warn!(error = %err, "Kafka accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(err) = done {
                    if err.is_panic() {
                        tracing::error!(error = %err, "Kafka connection task panicked");
                    }
                }
            }
        }
    }
    drop(listener);
    let open = connections.len();
    if open > 0 {
        tracing::info!(
            open,
            "Kafka listener stopping; waiting for open connections"
        );
    }
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!("Kafka connections did not finish within the grace period; closing them");
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(())
}

/// Completes once shutdown is requested (or the sender is gone, which means the same).
pub async fn shutdown_signal(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}
