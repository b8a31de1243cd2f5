//! The accept loop: hyper connections (HTTP/1.1 with upgrades for WebSocket, and HTTP/2)
//! under a connection cap and header-size limits, with graceful shutdown.
//!
//! A connection beyond `max_connections` gets an immediate `503` with `Retry-After` and is
//! closed, so overload is visible to clients instead of stalling in the accept queue.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::HttpConfig;

/// Largest request head (request line and headers) accepted over HTTP/1.1; hyper answers
/// 431 above it.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 100;
/// How long in-flight requests may run after shutdown is signalled.
const DRAIN: Duration = Duration::from_secs(5);

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 135\r\n\r\n\
{\"type\":\"https://strom.dev/problems/too-many-connections\",\"title\":\"Service Unavailable\",\"status\":503,\"detail\":\"too many connections\"}";

pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &HttpConfig,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(err) => {
                // Typically EMFILE: back off briefly instead of spinning.
                tracing::warn!(error = %err, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(%peer, limit = config.max_connections, "HTTP connection rejected: too many connections");
            tokio::spawn(async move {
                let mut stream = stream;
                // Read (part of) the request first: answering before it arrives makes
                // clients see an unsolicited response and report a broken connection.
                let mut scratch = [0u8; 4096];
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), stream.read(&mut scratch)).await;
                let _ = stream.write_all(BUSY).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "HTTP connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => tracing::warn!("HTTP connections still open after the drain period"),
    }
    Ok(())
}
