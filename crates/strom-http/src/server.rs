//! The accept loop: hyper connections (HTTP/1.1 with upgrades for WebSocket, and HTTP/2)
//! under connection limits, header limits and timeouts, with graceful shutdown.
//!
//! - A connection beyond the listener's cap gets an immediate `503`, one beyond its
//!   address's share a `429` (both with `Retry-After`, see [`crate::refusal`]), and is
//!   closed, so overload is visible to clients instead of stalling in the accept queue.
//! - `header_read_timeout` bounds the time to a complete request head: hyper enforces it for
//!   every HTTP/1.1 request, from the moment the connection is ready for one (so it also
//!   closes idle keep-alive connections); for the first request of any connection, including
//!   the protocol detection hyper does before that, this loop enforces it.
//! - HTTP/2 connections are pinged at the same interval and closed when a ping goes
//!   unanswered.
//! - With TLS ([`HttpConfig::tls`]) each connection's task runs the handshake first (bounded
//!   by its own timeout), offering `h2` and `http/1.1` by ALPN; the client certificate's
//!   principal goes into [`ConnInfo`]. A connection refused by the limits is just closed
//!   there, since a plaintext refusal would be garbage to a TLS client.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use strom_broker::{ConnectionLimits, ConnectionPermit, ConnectionRefused};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::caller::ConnInfo;
use crate::refusal::refusal_bytes;
use crate::HttpConfig;

/// Largest request head (request line and headers) accepted over HTTP/1.1; hyper answers
/// 431 above it.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 100;
/// How long in-flight requests may run after shutdown is signalled.
const DRAIN: Duration = Duration::from_secs(5);
/// How long an HTTP/2 keep-alive ping may go unanswered.
const PING_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &HttpConfig,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let limits = ConnectionLimits::new(config.connections.clone());
    let graceful = GracefulShutdown::new();
    let shared = Arc::new(Shared {
        router,
        builder: connection_builder(config),
        tls: config.tls.clone(),
        header_timeout: config.header_read_timeout,
    });
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
        let permit = match limits.try_admit(peer.ip()) {
            Ok(permit) => permit,
            Err(refused) => {
                tracing::warn!(%peer, reason = %refused, "HTTP connection refused");
                if shared.tls.is_none() {
                    tokio::spawn(refuse(stream, refused));
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            permit,
            Arc::clone(&shared),
            graceful.watcher(),
        ));
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => tracing::warn!("HTTP connections still open after the drain period"),
    }
    Ok(())
}

/// What every connection task needs from the listener.
struct Shared {
    router: Router,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<strom_tls::TlsServer>,
    header_timeout: Duration,
}

/// One accepted connection: the TLS handshake if the listener has TLS, then HTTP.
async fn connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    permit: ConnectionPermit,
    shared: Arc<Shared>,
    watcher: Watcher,
) {
    let Some(tls) = &shared.tls else {
        let info = ConnInfo {
            peer,
            tls_principal: None,
        };
        return serve_stream(stream, info, permit, &shared, watcher).await;
    };
    match tls.accept(stream).await {
        Ok((stream, tls_principal)) => {
            let principal = tls_principal.as_ref().map(ToString::to_string);
            tracing::debug!(%peer, principal = %principal.as_deref().unwrap_or("none"),
                "HTTPS connection established");
            let info = ConnInfo {
                peer,
                tls_principal,
            };
            serve_stream(stream, info, permit, &shared, watcher).await
        }
        Err(err) if err.is_disconnect() => {
            tracing::debug!(%peer, error = %err, "HTTPS connection closed")
        }
        Err(err) => tracing::warn!(%peer, error = %err, "closing HTTPS connection"),
    }
}

/// Serves HTTP over an established (plain or TLS) stream until it ends.
async fn serve_stream<S>(
    stream: S,
    info: ConnInfo,
    permit: ConnectionPermit,
    shared: &Shared,
    watcher: Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = info.peer;
    let first_request = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&first_request);
    let service = tower::ServiceBuilder::new()
        .map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                seen.store(true, Ordering::Relaxed);
                request.extensions_mut().insert(info.clone());
                request
            },
        )
        .service(shared.router.clone());
    let connection = shared
        .builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
        .into_owned();
    let connection = watcher.watch(connection);
    drive(
        connection,
        first_request,
        shared.header_timeout,
        peer,
        permit,
    )
    .await
}

/// Runs one connection to its end, closing it early if no request arrives within the header
/// read timeout; the connection's slot is freed when it ends.
async fn drive<F, E>(
    connection: F,
    first_request: Arc<AtomicBool>,
    header_timeout: Duration,
    peer: std::net::SocketAddr,
    permit: ConnectionPermit,
) where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::pin!(connection);
    let result = tokio::select! {
        result = &mut connection => Some(result),
        _ = tokio::time::sleep(header_timeout) => None,
    };
    let result = match result {
        Some(result) => result,
        None if first_request.load(Ordering::Relaxed) => connection.await,
        None => {
            tracing::debug!(%peer, "closing HTTP connection: no request within the header read timeout");
            Ok(())
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, error = %err, "HTTP connection ended with an error");
    }
    drop(permit);
}

fn connection_builder(config: &HttpConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.header_read_timeout)
        .keep_alive_timeout(PING_TIMEOUT)
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    builder
}

/// Answers a refused connection and closes it.
async fn refuse(mut stream: TcpStream, refused: ConnectionRefused) {
    // Read (part of) the request first: answering before it arrives makes clients see an
    // unsolicited response and report a broken connection.
    let mut scratch = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut scratch)).await;
    let _ = stream.write_all(&refusal_bytes(refused).await).await;
    let _ = stream.shutdown().await;
}
